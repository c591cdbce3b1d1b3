"""Message wording: which events are told, their coded values as words, and rendering. Pure.

The template files live under services/notification/templates/ (read by adapters/template_files.py).

A template file is `templates/<template>.<language>.<channel>.txt`, where <template> is the event
type in snake case (AppointmentBooked -> appointment_booked), <language> `id` or `en` and
<channel> `email` or `sms`. An email template starts with a `Subject: ...` line and a blank line.
Placeholders are `string.Template` ones (`$billing_code`), filled from the event payload
(adapters/proto.py `payload_dict`: proto field names, nested messages flattened with `_`), plus:
- `<money>_text` for every Money field (`amount_text` = "Rp 950.000");
- RFC 3339 timestamps shown in the office's zone label (`10-03-2026 14:00 WIB`);
- `proof_url` for an application's events: its booking proof page in the applicant web app
  (`link_fields`, base URL from WEB_BASE_URL), the QR code the counter scans.
"""
from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass

LANGUAGES = ("id", "en")
TEMPLATE_CHANNELS = ("EMAIL", "SMS")

# Every event type the applicant is told about, with the fields its templates rely on (sample
# values; the unit test renders every template with these and with real payload messages).
# Not here on purpose (issue 22): BillingIssued and BillingExpired. The billing code is told only by
# AppointmentBooked, the booking that was recorded (it carries the code, amount and deadline), so a
# billing of an attempt that never recorded its appointment never reaches the applicant; an expiry is
# told by booking's AppointmentCancelled (reason BILLING_EXPIRED), which frees the seat.
EVENT_SAMPLES: dict[str, dict] = {
    "AppointmentBooked": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                          "appointment_id": "apt-1", "slot_id": "s-1", "date": "2026-03-10",
                          "start_time": "09:00", "lane": "REGULAR", "pay_before": "2026-03-02T11:00:00+07:00",
                          "billing_code": "820260302000001", "amount": {"amount": "950000", "currency": "IDR"}},
    "PaymentSettled": {"application_id": "app-1", "account_id": "acc-1", "billing_code": "820260302000001",
                       "service_type": "RENEWAL",
                       "paid_at": "2026-03-02T10:15:00+07:00"},
    "AppointmentConfirmed": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                             "appointment_id": "apt-1", "date": "2026-03-10", "start_time": "09:00",
                             "lane": "REGULAR", "paid_at": "2026-03-02T10:15:00+07:00"},
    "AppointmentCancelled": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                             "appointment_id": "apt-1", "slot_id": "s-1", "reason": "BILLING_EXPIRED"},
    "WaitlistOffered": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                        "date": "2026-03-10", "lane": "REGULAR", "start_time": "09:00",
                        "pay_before": "2026-03-02T13:00:00+07:00"},
    "AppointmentRescheduled": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                               "date": "2026-03-12", "start_time": "10:00"},
    "CheckedIn": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK", "queue_number": "R-017",
                  "date": "2026-03-10"},
    "PhotoRejected": {"application_id": "app-1", "account_id": "acc-1", "reason": "background not plain"},
    "InterviewCompleted": {"application_id": "app-1", "account_id": "acc-1", "outcome": "APPROVED"},
    "PassportIssued": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                       "passport_number_masked": "X*****67", "delivery": "PICKUP"},
    "PassportShipped": {"application_id": "app-1", "account_id": "acc-1", "tracking_number": "P2603021234"},
    "ComplaintFiled": {"complaint_id": "c-1", "office_id": "TBK", "category": "SERVICE", "account_id": "acc-1",
                       "tracking_code": "ADU-7K3M9Q",
                       "first_response_due_at": "2026-03-05T17:00:00+07:00"},
    "ComplaintResponded": {"complaint_id": "c-1", "office_id": "TBK", "category": "SERVICE", "account_id": "acc-1",
                       "tracking_code": "ADU-7K3M9Q",
                           "status": "IN_PROGRESS", "response_id": "r-1"},
    "ComplaintEscalated": {"complaint_id": "c-1", "office_id": "TBK", "category": "SERVICE", "account_id": "acc-1",
                       "tracking_code": "ADU-7K3M9Q",
                           "kind": "FIRST_RESPONSE", "due_at": "2026-03-05T17:00:00+07:00"},
    "ComplaintResolved": {"complaint_id": "c-1", "office_id": "TBK", "category": "SERVICE", "account_id": "acc-1",
                       "tracking_code": "ADU-7K3M9Q",
                          "status": "RESOLVED", "on_time": True},
    "AppointmentNoShow": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                          "appointment_id": "apt-1", "date": "2026-03-10"},
    "PassportCollected": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK"},
    "LatePaymentResolved": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                            "billing_code": "820260302000001", "outcome": "REFUND"},
    "PasswordResetRequested": {"account_id": "acc-1", "code": "048213", "expires_at": "2026-03-02T04:15:00+00:00"},
    "RegistrationAttempted": {"account_id": "acc-1", "matched": "NIK", "attempted_at": "2026-03-02T04:15:00+00:00"},
    "RefundRecorded": {"refund_id": "refund:820260302000001", "billing_code": "820260302000001",
                       "application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                       "appointment_id": "apt-1", "reason": "OFFICE_CANCELLED",
                       "amount": {"amount": "950000", "currency": "IDR"}},
    # carries no account: told to the application's applicant (known from its earlier events)
    "RefundPaidOut": {"refund_id": "refund:820260302000001", "billing_code": "820260302000001",
                      "application_id": "app-1", "office_id": "TBK", "reason": "OFFICE_CANCELLED",
                      "amount": {"amount": "950000", "currency": "IDR"}, "paid_out_at": "2026-03-09T10:00:00+07:00"},
    "BiometricsCaptured": {"application_id": "app-1", "account_id": "acc-1", "office_id": "TBK",
                           "outcome": "CAPTURED", "fingers_captured": [1, 2, 3], "fingers_missing": [],
                           "photo_overridden": False},
    # made by the notification service itself (reminders.py), not consumed from Kafka
    "AppointmentReminder": {"application_id": "app-1", "office_id": "TBK", "date": "2026-03-10",
                            "start_time": "09:00", "service_type": "NEW"},
}
EVENT_TYPES = tuple(EVENT_SAMPLES)
INTERNAL_TYPES = ("AppointmentReminder",)

# Events that tell nobody but whose facts the send-time rules read (ordering.py): the service type
# (which documents to bring), billings (a payment is told only for a billing a booking told).
FACT_ONLY = ("ApplicationCreated", "BillingIssued", "BillingExpired")

# Messages to office staff rather than to the applicant: event type -> template told to the office's
# SUPERVISOR(s) (head of office), one message per supervisor, keyed `<event_id>:<channel>:<account>`.
SUPERVISOR_TEMPLATES: dict[str, str] = {"ComplaintEscalated": "complaint_escalated_supervisor"}

# Coded values shown as words: (event type, field) -> value -> {language: text}; rendered as
# `$<field>_text` (the code itself is shown when a value is not listed).
LABELS: dict[tuple[str, str], dict[str, dict[str, str]]] = {
    ("AppointmentCancelled", "reason"): {
        "BILLING_EXPIRED": {"id": "pembayaran tidak diterima sebelum batas waktu",
                            "en": "payment was not received before the deadline"},
        "APPLICANT": {"id": "atas permintaan Anda", "en": "at your request"},
        "OFFICE": {"id": "oleh kantor imigrasi", "en": "by the immigration office"}},
    ("RegistrationAttempted", "matched"): {
        "NIK": {"id": "NIK Anda", "en": "your NIK"},
        "EMAIL": {"id": "alamat email Anda", "en": "your email address"}},
    ("ComplaintEscalated", "kind"): {
        "FIRST_RESPONSE": {"id": "belum ditanggapi dalam batas waktu", "en": "not answered in time"},
        "RESOLUTION": {"id": "belum diselesaikan dalam batas waktu", "en": "not resolved in time"}},
    ("LatePaymentResolved", "outcome"): {
        "RESEATED": {"id": "Kursi Anda masih tersedia dan jadwal Anda dipulihkan",
                     "en": "Your seat was still free and your appointment is restored"},
        "REFUND": {"id": "Jadwal tidak dapat dipulihkan; pembayaran akan dikembalikan",
                   "en": "The appointment could not be restored; the payment will be refunded"}},
    ("ComplaintResolved", "status"): {
        "RESOLVED": {"id": "selesai", "en": "resolved"},
        "REJECTED": {"id": "ditolak", "en": "rejected"}},
    ("InterviewCompleted", "outcome"): {
        "APPROVED": {"id": "disetujui, paspor Anda sedang dibuat",
                     "en": "approved, your passport is being made"},
        "REJECTED": {"id": "tidak disetujui; rinciannya ada di halaman permohonan Anda",
                     "en": "not approved; see the details on your application page"},
        "": {"id": "lihat di halaman permohonan Anda", "en": "see your application page"}},
    ("PassportIssued", "delivery"): {
        "PICKUP": {"id": "Silakan ambil di kantor imigrasi tersebut dengan membawa bukti permohonan dan KTP asli.",
                   "en": "Please collect it at that immigration office; bring your application receipt and "
                         "original ID card."},
        "POS": {"id": "Paspor dikirim lewat Pos Indonesia ke alamat Anda; nomor resi menyusul.",
                "en": "It will be sent to your address by Pos Indonesia; the tracking number follows."},
        "": {"id": "Cara penyerahannya ada di halaman permohonan Anda.",
             "en": "How you receive it is shown on your application page."}},
}
_REFUND_REASONS = {
    "OFFICE_CANCELLED": {"id": "kantor imigrasi membatalkan janji temu Anda",
                         "en": "the immigration office cancelled your appointment"},
    "OVERPAYMENT": {"id": "tagihan ini dibayar lebih dari sekali", "en": "this billing was paid more than once"},
    "LATE_PAYMENT": {"id": "pembayaran diterima setelah batas waktu dan jadwal tidak dapat dipulihkan",
                     "en": "the payment arrived after the deadline and the appointment could not be restored"},
    "AMOUNT_MISMATCH": {"id": "jumlah yang dibayar tidak sama dengan tagihan",
                        "en": "the amount paid differs from the billing"},
    "BOOKING_NOT_COMPLETED": {"id": "kode billing yang dibayar berasal dari pemesanan yang tidak selesai dan tidak "
                                    "berlaku",
                              "en": "the billing code paid belongs to a booking that did not complete and is void"},
    "": {"id": "ada pembayaran yang harus dikembalikan", "en": "a payment is to be returned"},
}
LABELS[("RefundRecorded", "reason")] = _REFUND_REASONS
LABELS[("RefundPaidOut", "reason")] = _REFUND_REASONS
# What to bring to the appointment, by the application's service type (ApplicationCreated, kept as a
# fact): only renewals bring the old passport and damaged-passport replacements the damaged one.
_BRING = {
    "NEW": {"id": "KTP asli, Kartu Keluarga, dan akta kelahiran/ijazah/buku nikah",
            "en": "original ID card (KTP), family card (KK) and birth/diploma/marriage certificate"},
    "RENEWAL": {"id": "KTP asli, Kartu Keluarga, dan paspor lama",
                "en": "original ID card (KTP), family card (KK) and your old passport"},
    "REPLACEMENT_DAMAGED": {"id": "KTP asli, Kartu Keluarga, dan paspor yang rusak",
                            "en": "original ID card (KTP), family card (KK) and the damaged passport"},
    "REPLACEMENT_LOST": {"id": "KTP asli, Kartu Keluarga, dan surat keterangan hilang dari kepolisian",
                         "en": "original ID card (KTP), family card (KK) and the police loss report"},
    "": {"id": "KTP asli, Kartu Keluarga, dan dokumen yang Anda unggah",
         "en": "original ID card (KTP), family card (KK) and the documents you uploaded"},
}
LABELS[("PaymentSettled", "service_type")] = _BRING
LABELS[("AppointmentConfirmed", "service_type")] = _BRING
LABELS[("AppointmentReminder", "service_type")] = _BRING

_ZONES = {7: "WIB", 8: "WITA", 9: "WIT"}
_PLACEHOLDER = re.compile(r"\$(\w+|\{\w+\})")


# The applicant web app of a local stack (`make up`); a deployment sets WEB_BASE_URL to its own.
DEFAULT_WEB_BASE_URL = "http://127.0.0.1:8081"
PROOF_PATH = "/applications/{application_id}/proof"  # services/web/app.py `proof`


def link_fields(application_id: str, web_base_url: str = DEFAULT_WEB_BASE_URL) -> dict[str, str]:
    """Links into the applicant web app for an application's messages ({} without an application)."""
    if not application_id:
        return {}
    base = (web_base_url or DEFAULT_WEB_BASE_URL).rstrip("/")
    return {"proof_url": base + PROOF_PATH.format(application_id=application_id)}


class TemplateError(Exception):
    """A template is missing or needs a field the event does not carry."""


@dataclass(frozen=True)
class Rendered:
    subject: str  # "" for SMS
    body: str


def template_name(event_type: str) -> str:
    """AppointmentBooked -> appointment_booked."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_type).lower()


def fields_of(data: dict, tz: dt.tzinfo | None = None) -> dict[str, str]:
    """Flatten a payload dict into template fields (see the module docstring); timestamps are
    shown in `tz` (the office's zone) when given."""
    out: dict[str, str] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            if set(value) >= {"amount", "currency"}:
                out[f"{prefix}_text"] = money_text(value["amount"], value["currency"])
            for k, v in value.items():
                walk(f"{prefix}_{k}" if prefix else k, v)
        elif isinstance(value, list):
            out[prefix] = ", ".join(str(v) for v in value)
        else:
            out[prefix] = local_time(value, tz) if isinstance(value, str) else str(value)

    walk("", data)
    return out


def money_text(amount, currency: str) -> str:
    try:
        n = int(amount)
    except (TypeError, ValueError):
        return f"{amount} {currency}"
    grouped = f"{n:,}".replace(",", ".")
    return f"Rp {grouped}" if currency in ("IDR", "") else f"{currency} {grouped}"


def local_time(text: str, tz: dt.tzinfo | None = None) -> str:
    """'2026-03-02T11:00:00+07:00' -> '02-03-2026 11:00 WIB' (in `tz` if given); other text unchanged."""
    if "T" not in text or len(text) < 19:
        return text
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    if tz is not None:
        moment = moment.astimezone(tz)
    hours = int(moment.utcoffset().total_seconds() // 3600)
    zone = _ZONES.get(hours, "UTC" if hours == 0 else f"UTC{hours:+d}")
    return f"{moment:%d-%m-%Y %H:%M} {zone}"


def labels_of(event_type: str, language: str, fields: dict[str, str]) -> dict[str, str]:
    """`<field>_text` for the event's coded fields that have labels (see LABELS). A value without a
    label shows the "" label (plain words) when there is one, else the code itself."""
    out = {}
    for (etype, field), values in LABELS.items():
        if etype != event_type:
            continue
        value = fields.get(field, "")
        label = values.get(value) or values.get("")
        if label is not None:
            out[f"{field}_text"] = label.get(language, value)
        elif field in fields:
            out[f"{field}_text"] = value
    return out


def placeholders_left(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def render_text(text: str, name: str, event_type: str, language: str, channel: str,
                fields: dict[str, str]) -> Rendered:
    """Fill template `name`'s source `text` with the event's fields plus the `<field>_text` labels of
    its coded values in `language`; an email's first line is its `Subject:`."""
    try:
        filled = string.Template(text).substitute({**fields, **labels_of(event_type, language, fields)})
    except KeyError as exc:
        raise TemplateError(f"{name}.{language}.{channel.lower()} needs field "
                            f"{exc.args[0]} which {event_type} does not carry") from None
    except ValueError as exc:
        raise TemplateError(f"bad placeholder in {name}: {exc}") from None
    if channel.upper() == "EMAIL":
        first, _, rest = filled.partition("\n")
        if not first.startswith("Subject:"):
            raise TemplateError(f"email template {name} lacks a Subject line")
        return Rendered(first[len("Subject:"):].strip(), rest.lstrip("\n"))
    return Rendered("", filled.strip())
