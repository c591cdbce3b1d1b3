"""Booking rules as pure functions: no I/O, so they are unit- and property-tested on their own."""
from __future__ import annotations

import datetime as dt
import re

from servicekit.errors import DomainError, invalid

# Province codes of Kemendagri (the first two digits of a NIK).
PROVINCE_CODES = {
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96",
}
PASSPORT_TYPES = ("ORDINARY", "ELECTRONIC")
SERVICE_TYPES = ("NEW", "RENEWAL", "REPLACEMENT_LOST", "REPLACEMENT_DAMAGED")
PRIORITY_GROUPS = ("ELDERLY", "CHILD_UNDER_5", "DISABLED", "PREGNANT")
LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH")
ROLES = ("APPLICANT", "OFFICER", "SUPERVISOR")

# Application statuses (API.md) and which ones still count as "open" for the one-per-NIK rule.
STATUSES = ("DRAFT", "AWAITING_PAYMENT", "PAID", "CHECKED_IN", "BIOMETRICS_CAPTURED", "APPROVED",
            "REJECTED", "ISSUED", "COLLECTED", "SHIPPED", "EXPIRED", "CANCELLED", "NO_SHOW")
CLOSED_STATUSES = {"REJECTED", "COLLECTED", "SHIPPED", "EXPIRED", "CANCELLED", "NO_SHOW"}

EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PHONE = re.compile(r"^(\+62|62|0)8[0-9]{7,11}$")


def nik_birth_date(nik: str) -> tuple[int, int, int, str]:
    """(day, month, two-digit year, sex) encoded in a NIK (DDMMYY at positions 7-12, day + 40 for women).
    Raises ValueError when the NIK is not well-formed."""
    if not re.fullmatch(r"\d{16}", nik or ""):
        raise ValueError("a NIK is exactly 16 digits")
    if nik[:2] not in PROVINCE_CODES:
        raise ValueError(f"{nik[:2]} is not a province code")
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex = "F" if day > 40 else "M"
    day = day - 40 if day > 40 else day
    if nik[12:] == "0000":
        raise ValueError("the serial part of a NIK is never 0000")
    return day, month, yy, sex


def validate_nik(nik: str, birth_date: dt.date) -> None:
    """A NIK is 16 digits: a valid province code, the birth date (DDMMYY, +40 on the day for
    women) matching the stated birth date, and a non-zero serial."""
    try:
        day, month, yy, _sex = nik_birth_date(nik)
    except ValueError as exc:
        raise invalid(f"NIK is invalid: {exc}", "nik") from None
    if (day, month, yy) != (birth_date.day, birth_date.month, birth_date.year % 100):
        raise invalid("NIK does not match the birth date (digits 7-12 are DDMMYY, day + 40 for women)", "nik")


def parse_date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise invalid(f"{field} must be a date YYYY-MM-DD", field) from None


def validate_registration(nik: str, full_name: str, birth_date: str, email: str, phone: str,
                          password: str, today: dt.date) -> dt.date:
    errors = []

    def check(ok: bool, field: str, message: str):
        if not ok:
            errors.append({"field": field, "message": message})

    born = None
    try:
        born = parse_date(birth_date, "birth_date")
        check(born <= today, "birth_date", "birth_date is in the future")
        validate_nik(nik, born)
    except DomainError as err:
        errors.extend(err.errors)
    check(0 < len((full_name or "").strip()) <= 120, "full_name", "full_name is required (at most 120 characters)")
    check(bool(EMAIL.match(email or "")), "email", "email is not a valid address")
    check(bool(PHONE.match(phone or "")), "phone", "phone must be an Indonesian mobile number like 081234567890 or +6281234567890")
    check(strong_password(password), "password",
          "password needs at least 10 characters with a letter and a digit")
    if errors:
        raise DomainError("invalid", "validation-error", "the account details are not valid", errors)
    return born


def strong_password(password: str) -> bool:
    return (isinstance(password, str) and 10 <= len(password) <= 200
            and any(c.isalpha() for c in password) and any(c.isdigit() for c in password))


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def validate_application(passport_type: str, validity_years: int, service_type: str, express: bool,
                         priority_group: str, age: int, sex: str = "") -> None:
    """`age` and `sex` come from the applicant's NIK (checked against the birth date at registration),
    never from what the request claims."""
    errors = []
    if passport_type not in PASSPORT_TYPES:
        errors.append({"field": "passport_type", "message": "passport_type must be ORDINARY or ELECTRONIC"})
    if validity_years not in (5, 10):
        errors.append({"field": "validity_years", "message": "validity_years must be 5 or 10"})
    elif validity_years == 10 and age < 17:
        errors.append({"field": "validity_years", "message": "a 10-year passport is for applicants aged 17 or over"})
    if service_type not in SERVICE_TYPES:
        errors.append({"field": "service_type", "message": "service_type must be one of " + ", ".join(SERVICE_TYPES)})
    if priority_group and priority_group not in PRIORITY_GROUPS:
        errors.append({"field": "priority_group", "message": "priority_group must be null or one of " + ", ".join(PRIORITY_GROUPS)})
    if priority_group == "ELDERLY" and age < 60:
        errors.append({"field": "priority_group", "message": "ELDERLY is for applicants aged 60 or over"})
    if priority_group == "CHILD_UNDER_5" and age >= 5:
        errors.append({"field": "priority_group",
                       "message": "CHILD_UNDER_5 is for a child under 5: apply with the child's own account (NIK)"})
    if priority_group == "PREGNANT" and sex == "M":
        errors.append({"field": "priority_group", "message": "PREGNANT does not fit the sex this NIK records"})
    if errors:
        raise DomainError("invalid", "validation-error", "the application is not valid", errors)


def allowed_lanes(service_type: str, express: bool, priority_group: str) -> set[str]:
    """Which lanes an application may book. Express service is the EXPRESS lane (same-day),
    lost/damaged replacements the REPLACEMENT lane; a priority group may also use PRIORITY.
    OUTREACH seats are assigned to registered groups, never booked individually."""
    if express:
        lanes = {"EXPRESS"}
    elif service_type in ("REPLACEMENT_LOST", "REPLACEMENT_DAMAGED"):
        lanes = {"REPLACEMENT"}
    else:
        lanes = {"REGULAR"}
    if priority_group:
        lanes.add("PRIORITY")
    return lanes


def check_bookable(slot_date: dt.date, today: dt.date, lane: str, lanes_allowed: set[str]) -> None:
    if slot_date < today:
        raise DomainError("invalid", "date-in-past", f"{slot_date} is in the past")
    if lane not in lanes_allowed:
        raise DomainError("conflict", "lane-not-allowed",
                          f"this application may book {', '.join(sorted(lanes_allowed))} seats, not {lane}")


def priority_proof(priority_group: str) -> list[tuple[str, ...]]:
    """What a PRIORITY booking needs uploaded besides the service's documents."""
    return [PRIORITY_PROOFS[priority_group]] if priority_group in PRIORITY_PROOFS else []


def check_not_started(slot_start: dt.datetime, now: dt.datetime, lead: dt.timedelta) -> None:
    """A slot is bookable until `lead` before it starts (office time): nobody is given a seat
    they could not reach, and a seat of a time that passed is not sold."""
    closes = slot_start - lead
    if now >= closes:
        local = closes.astimezone(slot_start.tzinfo)
        raise DomainError("conflict", "slot-closed",
                          f"booking for the {slot_start:%H:%M} slot closed at {local:%H:%M} "
                          f"({int(lead.total_seconds() // 60)} minutes before it starts); choose a later time",
                          params={"start": f"{slot_start:%H:%M}", "closed_at": f"{local:%H:%M}",
                                  "minutes": str(int(lead.total_seconds() // 60))})


# -- documents ---------------------------------------------------------------------------------
DOCUMENT_KINDS = ("KTP", "KK", "BIRTH_CERTIFICATE", "MARRIAGE_BOOK", "DIPLOMA", "OLD_PASSPORT", "POLICE_LOSS_REPORT",
                  "DISABILITY_CARD", "PREGNANCY_LETTER")
# The proof a priority group must upload before it books a PRIORITY seat (the officer confirms it at
# check-in). ELDERLY and CHILD_UNDER_5 are proven by the age the NIK gives (and the child's birth
# certificate, which every minor uploads).
PRIORITY_PROOFS = {"DISABLED": ("DISABILITY_CARD",), "PREGNANT": ("PREGNANCY_LETTER",),
                   "CHILD_UNDER_5": ("BIRTH_CERTIFICATE",)}
PRIORITY_DECISIONS = ("CONFIRMED", "REFUSED")
IDENTITY_PROOFS = ("BIRTH_CERTIFICATE", "MARRIAGE_BOOK", "DIPLOMA")
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"%PDF-": "application/pdf"}


def document_type(content: bytes) -> str:
    """The content type read from the bytes themselves (never from the client's claim)."""
    if not content:
        raise invalid("the file is empty", "file")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DomainError("invalid", "document-too-large", "a document may be at most 5 MB", [{"field": "file", "message": "at most 5 MB"}])
    for magic, ctype in _MAGIC.items():
        if content.startswith(magic):
            return ctype
    raise DomainError("invalid", "document-type-not-allowed", "documents must be JPEG, PNG or PDF",
                      [{"field": "file", "message": "JPEG, PNG or PDF only"}])


def required_documents(service_type: str, age: int) -> list[tuple[str, ...]]:
    """What must be uploaded before booking: each tuple is 'one of these'. Minors have no KTP;
    their family card and birth certificate stand in (the parents' KTP comes at the counter)."""
    if age < 17:
        base = [("KK",), ("BIRTH_CERTIFICATE",)]
    else:
        base = [("KTP",), ("KK",)]
    extra = {
        "NEW": [IDENTITY_PROOFS] if age >= 17 else [],
        "RENEWAL": [("OLD_PASSPORT",)],
        "REPLACEMENT_LOST": [("POLICE_LOSS_REPORT",)],
        "REPLACEMENT_DAMAGED": [("OLD_PASSPORT",)],
    }[service_type]
    return base + extra


# -- after payment -------------------------------------------------------------------------------
def check_reschedule(status: str, current_date: dt.date, today: dt.date, used: bool, by_office: bool) -> None:
    """Applicants reschedule once, only after paying, at the latest the day before; the office may
    move a whole day without using up that right."""
    if status != "PAID":
        raise DomainError("conflict", "reschedule-not-allowed", "only a PAID appointment can be rescheduled")
    if by_office:
        return
    if used:
        raise DomainError("conflict", "reschedule-not-allowed", "an appointment can be rescheduled only once")
    if current_date <= today:
        raise DomainError("conflict", "reschedule-not-allowed", "reschedule at the latest the day before the appointment")
