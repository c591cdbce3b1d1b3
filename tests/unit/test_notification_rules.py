"""The office's message rules (issues 16 and 22), on the real handlers, payload messages and templates
with a fake store: what is told, to whom, and what is never told."""
from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import booking_pb2, common_pb2, envelope_pb2, payment_pb2
from services.notification.__main__ import handlers
from services.notification.messages import Messages
from tests.unit.fakemongo import Database as FakeDb
from tests.unit.test_notification_delivery import FakeClock

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)


def envelope(event_id: str, payload, seconds: float = 0) -> envelope_pb2.EventEnvelope:
    ts = Timestamp()
    ts.FromDatetime(T0 + dt.timedelta(seconds=seconds))
    return envelope_pb2.EventEnvelope(event_id=event_id, event_type=payload.DESCRIPTOR.name, occurred_at=ts,
                                      aggregate_id=getattr(payload, "application_id", ""))


def setup():
    db = FakeDb()
    messages = Messages(db, FakeClock())
    return db, messages, handlers(messages)


def feed(hs, event_id: str, payload, seconds: float = 0) -> None:
    hs[payload.DESCRIPTOR.name](envelope(event_id, payload, seconds), payload)


def booked(app="app-1", code="820260302000001") -> booking_pb2.AppointmentBooked:
    return booking_pb2.AppointmentBooked(
        application_id=app, account_id="acc-1", office_id="TBK", appointment_id="apt-1", slot_id="s-1",
        date="2026-03-10", start_time="09:00", lane="REGULAR", pay_before="2026-03-02T11:00:00+07:00",
        billing_code=code, amount=common_pb2.Money(amount=950000, currency="IDR"))


def test_the_billing_code_is_told_only_by_the_recorded_booking():
    """Issue 22: a BillingIssued (maybe of an attempt that never recorded its appointment) sends nothing;
    the booking message is the one 'seat held + billing code, pay before' message."""
    db, _, hs = setup()
    phantom = payment_pb2.BillingIssued(billing_code="820260302000009", application_id="app-1", account_id="acc-1",
                                        office_id="TBK", appointment_id="apt-0",
                                        amount=common_pb2.Money(amount=950000, currency="IDR"),
                                        expires_at="2026-03-02T04:00:00+00:00")
    if "BillingIssued" in hs:
        feed(hs, "e-bill", phantom)
    assert not [m for m in db["messages"].docs.values() if "820260302000009" in m["body"]]
    feed(hs, "e-book", booked())
    bodies = {m["channel"]: m["body"] for m in db["messages"].docs.values()}
    assert set(bodies) == {"EMAIL", "SMS"}
    assert all("820260302000001" in b and "Rp 950.000" in b and "11:00 WIB" in b for b in bodies.values())


def test_an_expired_billing_sends_nothing_the_cancellation_tells_it():
    """BillingExpired names a billing code (maybe one never told); booking's AppointmentCancelled with
    reason BILLING_EXPIRED is the message."""
    db, _, hs = setup()
    expired = payment_pb2.BillingExpired(billing_code="820260302000009", application_id="app-1", account_id="acc-1",
                                         office_id="TBK", appointment_id="apt-0",
                                         expired_at="2026-03-02T11:00:00+07:00")
    if "BillingExpired" in hs:
        feed(hs, "e-exp", expired)
    assert db["messages"].docs == {}
