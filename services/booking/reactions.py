"""What the booking service does when other services' facts arrive (its Kafka consumer)."""
from __future__ import annotations

from passport.v1 import payment_pb2  # noqa: F401  (registers the payment event types)

from services.booking.applications import Applications


def handlers(apps: Applications) -> dict:
    def settled(envelope, event):
        apps.confirm_payment(event.application_id, event.appointment_id, event.paid_at)

    def expired(envelope, event):
        apps.release_expired(event.application_id, event.appointment_id)

    return {"PaymentSettled": settled, "BillingExpired": expired}
