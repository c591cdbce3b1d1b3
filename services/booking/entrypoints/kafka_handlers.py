"""Kafka handlers of the booking consumer: each fact another service published, to its use case
(usecases/reactions.py)."""
from __future__ import annotations

from passport.v1 import biometrics_pb2, common_pb2, payment_pb2  # noqa: F401  (registers the event types)

from servicekit.consumer import PermanentError

from services.booking.usecases.facade import Applications


def handlers(apps: Applications, audit=None) -> dict:
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

    def refund_paid_out(envelope, event):
        # A refund paid changes what the applicant got: it goes into the office's audit chain.
        if audit is not None:
            audit.append_once(common_pb2.Caller(account_id=event.actor_account_id or "payment", role="SUPERVISOR",
                                                office_id=event.office_id),
                              "REFUND_PAID_OUT", event.office_id,
                              {"refund_id": event.refund_id, "billing_code": event.billing_code,
                               "application_id": event.application_id, "reason": event.reason,
                               "amount": event.amount.amount, "bank_reference": event.bank_reference},
                              source=envelope.event_id)

    return {"PaymentSettled": settled, "BillingExpired": expired, "LatePaymentReceived": late,
            "BiometricsCaptured": captured, "InterviewCompleted": interviewed, "RefundPaidOut": refund_paid_out}
