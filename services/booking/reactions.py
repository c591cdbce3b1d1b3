"""What the booking service does when other services' facts arrive (its Kafka consumer)."""
from __future__ import annotations

from passport.v1 import biometrics_pb2, payment_pb2  # noqa: F401  (registers the event types)

from servicekit.consumer import PermanentError

from services.booking.applications import Applications


def handlers(apps: Applications) -> dict:
    def settled(envelope, event):
        apps.confirm_payment(event.application_id, event.appointment_id, event.paid_at)

    def expired(envelope, event):
        apps.release_expired(event.application_id, event.appointment_id)

    def captured(envelope, event):
        apps.advance(event.application_id, {"CHECKED_IN"}, "BIOMETRICS_CAPTURED", "photo and fingerprints captured")

    def interviewed(envelope, event):
        if event.outcome not in ("APPROVED", "REJECTED"):
            raise PermanentError(f"unknown interview outcome {event.outcome!r}")
        # An interview may be recorded before BiometricsCaptured reached us: accept both.
        apps.advance(event.application_id, {"CHECKED_IN"}, "BIOMETRICS_CAPTURED", "photo and fingerprints captured")
        apps.advance(event.application_id, {"BIOMETRICS_CAPTURED"}, event.outcome, f"interview: {event.outcome.lower()}")

    def late(envelope, event):
        apps.resolve_late_payment(event.application_id, event.billing_code)

    return {"PaymentSettled": settled, "BillingExpired": expired, "LatePaymentReceived": late,
            "BiometricsCaptured": captured, "InterviewCompleted": interviewed}
