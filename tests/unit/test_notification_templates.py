"""Every template renders for every event type and language, with no placeholder left."""
from __future__ import annotations

import pytest
from google.protobuf import json_format, symbol_database

from passport.v1 import accounts_pb2, biometrics_pb2, booking_pb2, complaint_pb2, payment_pb2  # noqa: F401 (registers types)
from services.notification.adapters.proto import payload_dict
from services.notification.adapters.template_files import Templates
from services.notification.domain.templates import (EVENT_SAMPLES, EVENT_TYPES, LANGUAGES, SUPERVISOR_TEMPLATES,
                                                    TEMPLATE_CHANNELS, TemplateError, fields_of, link_fields,
                                                    local_time, money_text, placeholders_left, template_name)

TEMPLATES = Templates()


def _registered(event_type: str):
    try:
        return symbol_database.Default().GetSymbol(f"passport.v1.{event_type}")
    except KeyError:
        return None


CASES = [(t, lang, ch) for t in EVENT_TYPES for lang in LANGUAGES for ch in TEMPLATE_CHANNELS]


def test_every_event_type_has_all_templates_and_no_stray_files():
    expected = {f"{template_name(t)}.{lang}.{ch.lower()}.txt" for t, lang, ch in CASES}
    expected |= {f"{name}.{lang}.{ch.lower()}.txt" for name in SUPERVISOR_TEMPLATES.values()
                 for lang in LANGUAGES for ch in TEMPLATE_CHANNELS}
    present = {p.name for p in TEMPLATES.files()}
    assert expected == present
    assert all(TEMPLATES.has(t) for t in EVENT_TYPES)
    assert all(TEMPLATES.has(t, name) for t, name in SUPERVISOR_TEMPLATES.items())


@pytest.mark.parametrize("event_type,language,channel", CASES)
def test_renders_from_sample_dict(event_type, language, channel):
    sample = EVENT_SAMPLES[event_type]
    out = TEMPLATES.render(event_type, language, channel, {**fields_of(sample), **link_fields(
        sample.get("application_id", ""), "https://paspor.imigrasi.example")})
    assert out.body and "$" not in out.body and not placeholders_left(out.body)
    if channel == "EMAIL":
        assert out.subject and "$" not in out.subject
    else:
        assert out.subject == "" and len(out.body) <= 320  # at most two SMS segments


@pytest.mark.parametrize("event_type,language,channel",
                         [c for c in CASES if _registered(c[0]) is not None])
def test_renders_from_registered_payload_message(event_type, language, channel):
    """Event types whose payload is in the protos: the template only uses fields the message has."""
    cls = _registered(event_type)
    payload = json_format.ParseDict(EVENT_SAMPLES[event_type], cls(), ignore_unknown_fields=True)
    out = TEMPLATES.render(event_type, language, channel,
                           {**fields_of(payload_dict(payload)), **link_fields(payload_dict(payload).get("application_id"))})
    assert not placeholders_left(out.subject + out.body)


def test_booked_message_in_indonesian_and_english():
    fields = fields_of(payload_dict(json_format.ParseDict(EVENT_SAMPLES["AppointmentBooked"],
                                                          booking_pb2.AppointmentBooked())))
    fields.update(link_fields("app-1", "https://paspor.imigrasi.example/"))
    ind = TEMPLATES.render("AppointmentBooked", "id", "EMAIL", fields)
    eng = TEMPLATES.render("AppointmentBooked", "en", "EMAIL", fields)
    assert "Kode billing: 820260302000001" in ind.body and "Rp 950.000" in ind.body
    assert "02-03-2026 11:00 WIB" in ind.subject
    assert "Billing code: 820260302000001" in eng.body and "pay before" in eng.subject.lower()
    # the booking proof link (issue 16): the applicant web app's page with the QR code the counter scans
    proof = "https://paspor.imigrasi.example/applications/app-1/proof"
    for language in ("id", "en"):
        for channel in ("EMAIL", "SMS"):
            assert proof in TEMPLATES.render("AppointmentBooked", language, channel, fields).body
    assert link_fields("") == {} and link_fields("a-2", "") == {
        "proof_url": "http://127.0.0.1:8081/applications/a-2/proof"}


def test_missing_field_is_a_template_error():
    with pytest.raises(TemplateError, match="billing_code"):
        TEMPLATES.render("AppointmentBooked", "id", "SMS", {"amount_text": "Rp 1", "pay_before": "x",
                                                             "date": "d", "start_time": "t", "office_id": "o"})
    with pytest.raises(TemplateError):
        TEMPLATES.render("NoSuchEvent", "id", "SMS", {})


def test_field_helpers():
    assert money_text("1000000", "IDR") == "Rp 1.000.000"
    assert local_time("2026-03-02T04:00:00+00:00") == "02-03-2026 04:00 UTC"
    assert local_time("2026-03-02T12:00:00+08:00") == "02-03-2026 12:00 WITA"
    assert local_time("2026-03-10") == "2026-03-10"
    assert fields_of({"amount": {"amount": "5", "currency": "IDR"}, "xs": [1, 2]}) == {
        "amount_text": "Rp 5", "amount_amount": "5", "amount_currency": "IDR", "xs": "1, 2"}


def test_times_are_shown_in_the_office_zone():
    from zoneinfo import ZoneInfo
    sample = {**EVENT_SAMPLES["AppointmentBooked"], "pay_before": "2026-03-02T04:00:00+00:00"}
    fields = fields_of(sample, ZoneInfo("Asia/Jakarta"))
    assert fields["pay_before"] == "02-03-2026 11:00 WIB"
    assert fields_of(sample, ZoneInfo("Asia/Makassar"))["pay_before"] == "02-03-2026 12:00 WITA"


SUPERVISOR_CASES = [(t, name, lang, ch) for t, name in SUPERVISOR_TEMPLATES.items()
                    for lang in LANGUAGES for ch in TEMPLATE_CHANNELS]


@pytest.mark.parametrize("event_type,template,language,channel", SUPERVISOR_CASES)
def test_supervisor_templates_render_from_the_real_message(event_type, template, language, channel):
    payload = json_format.ParseDict(EVENT_SAMPLES[event_type], _registered(event_type)())
    out = TEMPLATES.render(event_type, language, channel, fields_of(payload_dict(payload)), template)
    assert not placeholders_left(out.subject + out.body) and "c-1" in out.body and "TBK" in out.body


def _real(cls, **fields):
    """A payload built from the generated class with its actual field names (a renamed or
    missing field fails here, not in production); with the links the telling use case adds."""
    return {**fields_of(payload_dict(cls(**fields))), **link_fields(fields.get("application_id", ""))}


def test_new_booking_events_render_from_real_messages():
    confirmed = _real(booking_pb2.AppointmentConfirmed, application_id="app-9", account_id="acc-9",
                      office_id="TBK", appointment_id="apt-9", date="2026-03-10", start_time="09:00",
                      lane="REGULAR", paid_at="2026-03-02T10:15:00+07:00")
    out = TEMPLATES.render("AppointmentConfirmed", "id", "EMAIL", confirmed)
    assert "2026-03-10" in out.subject and "09:00" in out.subject and "02-03-2026 10:15 WIB" in out.body
    assert "KTP" in TEMPLATES.render("AppointmentConfirmed", "en", "SMS", confirmed).body
    assert "/applications/app-9/proof" in out.body

    checked = _real(booking_pb2.CheckedIn, application_id="app-9", account_id="acc-9", office_id="TBK",
                    queue_number="R-042", date="2026-03-10")
    for lang in LANGUAGES:
        sms = TEMPLATES.render("CheckedIn", lang, "SMS", checked).body
        assert "R-042" in sms and "2026-03-10" in sms
    assert "R-042" in TEMPLATES.render("CheckedIn", "en", "EMAIL", checked).subject

    texts = {"BILLING_EXPIRED": ("pembayaran tidak diterima", "payment was not received"),
             "APPLICANT": ("atas permintaan Anda", "at your request"),
             "OFFICE": ("oleh kantor imigrasi", "by the immigration office")}
    for reason, (ind, eng) in texts.items():
        cancelled = _real(booking_pb2.AppointmentCancelled, application_id="app-9", account_id="acc-9",
                          office_id="TBK", appointment_id="apt-9", slot_id="s-9", reason=reason)
        assert ind in TEMPLATES.render("AppointmentCancelled", "id", "SMS", cancelled).body
        assert eng in TEMPLATES.render("AppointmentCancelled", "en", "EMAIL", cancelled).body
    unknown = _real(booking_pb2.AppointmentCancelled, application_id="a", account_id="b", reason="SOMETHING_NEW")
    assert "SOMETHING_NEW" in TEMPLATES.render("AppointmentCancelled", "en", "SMS", unknown).body


def test_complaint_closing_and_escalation_render_from_real_messages():
    resolved = _real(complaint_pb2.ComplaintResolved, complaint_id="c-9", office_id="TBK", category="SERVICE",
                     account_id="acc-9", status="REJECTED", on_time=True)
    assert "ditolak" in TEMPLATES.render("ComplaintResolved", "id", "SMS", resolved).body
    assert "rejected" in TEMPLATES.render("ComplaintResolved", "en", "EMAIL", resolved).subject
    escalated = _real(complaint_pb2.ComplaintEscalated, complaint_id="c-9", office_id="TBK", category="SERVICE",
                      kind="RESOLUTION", due_at="2026-03-05T10:00:00+00:00")
    head = TEMPLATES.render("ComplaintEscalated", "en", "EMAIL", escalated, SUPERVISOR_TEMPLATES["ComplaintEscalated"])
    assert "not resolved in time" in head.body and "05-03-2026 10:00 UTC" in head.body
