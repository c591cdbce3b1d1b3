"""Every template renders for every event type and language, with no placeholder left."""
from __future__ import annotations

import pytest
from google.protobuf import json_format, symbol_database

from passport.v1 import biometrics_pb2, booking_pb2, complaint_pb2, payment_pb2  # noqa: F401 (registers types)
from services.notification.templates import (EVENT_SAMPLES, EVENT_TYPES, LANGUAGES, TEMPLATE_CHANNELS, Templates,
                                             TemplateError, fields_of, local_time, money_text, payload_dict,
                                             placeholders_left, template_name)

TEMPLATES = Templates()


def _registered(event_type: str):
    try:
        return symbol_database.Default().GetSymbol(f"passport.v1.{event_type}")
    except KeyError:
        return None


CASES = [(t, lang, ch) for t in EVENT_TYPES for lang in LANGUAGES for ch in TEMPLATE_CHANNELS]


def test_every_event_type_has_all_templates_and_no_stray_files():
    expected = {f"{template_name(t)}.{lang}.{ch.lower()}.txt" for t, lang, ch in CASES}
    present = {p.name for p in TEMPLATES.files()}
    assert expected == present
    assert all(TEMPLATES.has(t) for t in EVENT_TYPES)


@pytest.mark.parametrize("event_type,language,channel", CASES)
def test_renders_from_sample_dict(event_type, language, channel):
    out = TEMPLATES.render(event_type, language, channel, fields_of(EVENT_SAMPLES[event_type]))
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
    out = TEMPLATES.render(event_type, language, channel, fields_of(payload_dict(payload)))
    assert not placeholders_left(out.subject + out.body)


def test_booked_message_in_indonesian_and_english():
    fields = fields_of(payload_dict(json_format.ParseDict(EVENT_SAMPLES["AppointmentBooked"],
                                                          booking_pb2.AppointmentBooked())))
    ind = TEMPLATES.render("AppointmentBooked", "id", "EMAIL", fields)
    eng = TEMPLATES.render("AppointmentBooked", "en", "EMAIL", fields)
    assert "Kode billing: 820260302000001" in ind.body and "Rp 950.000" in ind.body
    assert "02-03-2026 11:00 WIB" in ind.subject
    assert "Billing code: 820260302000001" in eng.body and "pay before" in eng.subject.lower()


def test_missing_field_is_a_template_error():
    with pytest.raises(TemplateError, match="billing_code"):
        TEMPLATES.render("BillingIssued", "id", "SMS", {"amount_text": "Rp 1", "expires_at": "x"})
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
    fields = fields_of(EVENT_SAMPLES["BillingIssued"], ZoneInfo("Asia/Jakarta"))
    assert fields["expires_at"] == "02-03-2026 11:00 WIB"
    assert fields_of(EVENT_SAMPLES["BillingIssued"], ZoneInfo("Asia/Makassar"))["expires_at"] == "02-03-2026 12:00 WITA"
