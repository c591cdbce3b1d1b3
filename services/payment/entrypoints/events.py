"""booking.events handlers of the payment consumer (group "payment"): booking's cancellations (a
paid application the office cancels is refunded; an unpaid billing is voided), its answers to late
payments (refunded when no seat could be given back) and abandoned booking attempts."""
from __future__ import annotations

from passport.v1 import booking_pb2

from services.payment.adapters import proto
from services.payment.domain.billing import BOOKING_NOT_COMPLETED
from services.payment.domain.peer_facts import AppointmentCancelled
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements


def handlers(refunds: Refunds, settlements: Settlements) -> dict:
    assert booking_pb2.AppointmentCancelled  # the import registers booking's types with the event decoder

    def cancelled(envelope, payload) -> None:
        fact = proto.cancelled_from_proto(payload)
        settlements.cancel_unpaid(fact.appointment_id)  # unpaid: money that still comes is a late payment
        refunds.on_cancelled(fact, envelope.event_id)

    def late_resolved(envelope, payload) -> None:
        fact = proto.late_resolved_from_proto(payload)
        if fact.outcome == "REFUND":
            refunds.on_late_refund(fact)

    def abandoned(envelope, payload) -> None:
        fact = proto.abandoned_from_proto(payload)
        outcome = settlements.void_abandoned(fact)
        if outcome is not None and outcome.settled:  # paid in the seconds before the void
            refunds.on_cancelled(AppointmentCancelled(
                application_id=fact.application_id, account_id=fact.account_id, office_id=fact.office_id,
                appointment_id=fact.appointment_id, reason=BOOKING_NOT_COMPLETED), envelope.event_id)

    return {"AppointmentCancelled": cancelled, "LatePaymentResolved": late_resolved,
            "BookingAbandoned": abandoned}
