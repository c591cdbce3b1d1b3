"""Facts of other services the payment service reacts to (booking.events), as the domain sees
them; entrypoints/events.py maps the proto messages to these."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppointmentCancelled:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    reason: str


@dataclass(frozen=True)
class LatePaymentResolved:
    application_id: str
    billing_code: str
    outcome: str  # REFUND: booking could not re-seat the late payer


@dataclass(frozen=True)
class BookingAbandoned:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
