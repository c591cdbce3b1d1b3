"""Synthetic events for load and fault tests: what booking would publish for a held seat."""
from __future__ import annotations

from passport.v1 import booking_pb2, common_pb2
from servicekit.clock import Clock
from servicekit.events import new_event


def appointment_booked(tag: str, i: int, account_id: str, clock: Clock):
    """(application id, envelope) of the i-th AppointmentBooked of a burst tagged `tag`."""
    app_id = f"{tag}-{i:05d}"
    payload = booking_pb2.AppointmentBooked(
        application_id=app_id, account_id=account_id, office_id="TBK", appointment_id=f"apt-{tag}-{i}",
        slot_id=f"slot-{i}", date="2026-03-10", start_time="09:00", lane="REGULAR",
        pay_before="2026-03-02T11:00:00+07:00", billing_code=f"8{i:014d}",
        amount=common_pb2.Money(amount=950000, currency="IDR"))
    return app_id, new_event("booking", app_id, payload, clock)
