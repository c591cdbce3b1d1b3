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

    def counter_audit(envelope, event, extra: list[tuple] = ()) -> None:
        """The counter's actions the event carries (overrides, fingers missing, the supervisor's
        approval, the interview), each once in the office's audit chain."""
        if audit is None:
            return
        items = [(common_pb2.Caller(account_id=a.actor_id, role=a.actor_role, office_id=event.office_id),
                  a.action, counter_action_details(event.application_id, a)) for a in event.counter_actions]
        items += list(extra)
        if items:
            audit.append_each_once(items, event.office_id, source=envelope.event_id)

    def captured(envelope, event):
        counter_audit(envelope, event)
        apps.advance(event.application_id, {"CHECKED_IN"}, "BIOMETRICS_CAPTURED", "photo and fingerprints captured")

    def interviewed(envelope, event):
        if event.outcome not in ("APPROVED", "REJECTED"):
            raise PermanentError(f"unknown interview outcome {event.outcome!r}")
        counter_audit(envelope, event, [(
            common_pb2.Caller(account_id=event.officer_id or "biometrics-capture", role="OFFICER",
                              office_id=event.office_id),
            "INTERVIEW_RECORDED", {"application_id": event.application_id, "outcome": event.outcome,
                                   "examination_report": event.examination_report})])
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

    def statement_reconciled(envelope, event):
        # Who settled money on a statement's word, and which file exactly (its SHA-256), is audited.
        if audit is not None:
            audit.append_once(common_pb2.Caller(account_id=event.actor_account_id or "payment",
                                                role=event.actor_role, office_id=event.office_id),
                              "STATEMENT_RECONCILED", event.office_id,
                              {"reconciliation_id": event.reconciliation_id,
                               "statement_sha256": event.statement_sha256, "lines": event.lines,
                               "settled": event.settled, "refused": event.refused,
                               "reconciled_at": event.reconciled_at},
                              source=envelope.event_id)

    return {"PaymentSettled": settled, "BillingExpired": expired, "LatePaymentReceived": late,
            "BiometricsCaptured": captured, "InterviewCompleted": interviewed, "RefundPaidOut": refund_paid_out,
            "StatementReconciled": statement_reconciled}


def counter_action_details(application_id: str, action) -> dict:
    """An audit entry's details of one CounterAction: only the fields its kind has."""
    details = {"application_id": application_id, "recorded_at": action.at, "reason": action.reason}
    if action.capture_id:
        details["capture_id"] = action.capture_id
    if action.action == "FINGER_RECORDED_MISSING":
        details["finger"] = action.finger
    if action.failed_checks:
        details["failed_checks"] = list(action.failed_checks)
    return details
