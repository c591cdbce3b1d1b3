"""Refunds: recording what is owed when booking cancels or cannot re-seat a late payer, reading
them, and recording their payout.

A cancellation and a settlement can arrive in either order: each side records its own fact and
then looks for the other's, so whichever comes second records the refund (keyed, so both may try).
"""
from __future__ import annotations

import logging

from servicekit import log
from servicekit.clock import Clock
from servicekit.consumer import PermanentError
from servicekit.errors import DomainError, invalid

from services.payment import metrics
from services.payment.adapters.repositories import Repositories
from services.payment.domain.billing import Billing
from services.payment.domain.payments import validate_payout
from services.payment.domain.peer_facts import AppointmentCancelled, LatePaymentResolved
from services.payment.domain.refund import (
    CANCEL_REASONS, LATE_PAYMENT, PAID_OUT, PENDING, STATUSES, Cancellation, Refund, RefundView, choose_for_payout,
    refund_id_for)

logger = logging.getLogger("payment.refunds")


class Refunds:
    def __init__(self, repos: Repositories, clock: Clock):
        self.billings, self.settled, self.repo = repos.billings, repos.settlements, repos.refunds
        self.clock = clock

    def ensure_indexes(self) -> None:
        self.repo.ensure_indexes()

    # -- recording -----------------------------------------------------------------------------
    def on_cancelled(self, cancelled: AppointmentCancelled, event_id: str = "") -> Refund | None:
        """Booking's AppointmentCancelled. Returns the refund that stands for it, or None."""
        if cancelled.reason not in CANCEL_REASONS:
            raise PermanentError(f"AppointmentCancelled with unknown reason {cancelled.reason!r}")
        if not cancelled.appointment_id:
            raise PermanentError("AppointmentCancelled without appointment_id")
        billing = self.billings.for_appointment(cancelled.appointment_id)
        if billing is None:
            log.event(logger, "cancelled appointment has no billing; nothing to refund",
                      application_id=cancelled.application_id, reason=cancelled.reason)
            return None
        self.repo.add_cancellation(Cancellation(
            appointment_id=cancelled.appointment_id, billing_code=billing.code, reason=cancelled.reason,
            application_id=billing.application_id, event_id=event_id, at=self.clock.now()))
        cancellation = self.repo.cancellation_of(cancelled.appointment_id)  # the first one stands
        return self._refund_if_due(billing, cancellation)

    def on_late_refund(self, resolved: LatePaymentResolved) -> list[str]:
        """Booking could not re-seat a late payer (LatePaymentResolved REFUND): each late payment
        of that billing is refunded in full, keyed by its bank reference."""
        billing = self.billings.get(resolved.billing_code)
        if billing is None:
            raise PermanentError(f"LatePaymentResolved for unknown billing {resolved.billing_code}")
        recorded = []
        for late in self.settled.late_payments_of(billing.code):
            refund, facts = Refund.of_late_payment(billing, late, self.clock.now())
            if self.repo.add(refund, facts):
                metrics.REFUNDS.labels(LATE_PAYMENT, PENDING).inc()
            recorded.append(refund.refund_id)
        return recorded

    def on_settled(self, billing: Billing) -> Refund | None:
        """Called after a billing is settled: a cancellation that came first may now owe a refund."""
        cancellation = self.repo.cancellation_of(billing.appointment_id)
        return self._refund_if_due(billing, cancellation) if cancellation else None

    def _refund_if_due(self, billing: Billing, cancellation: Cancellation) -> Refund | None:
        outcome = self.settled.outcome_of(billing.code)
        refund, facts = Refund.of_cancellation(billing, cancellation, outcome, self.clock.now())
        if refund is None:
            if outcome is not None and outcome.settled:
                log.event(logger, "paid application cancelled without refund (PNBP is non-refundable)",
                          application_id=billing.application_id, reason=cancellation.reason)
            return None
        if self.repo.add(refund, facts):
            metrics.REFUNDS.labels(refund.reason, PENDING).inc()
            log.event(logger, "refund recorded", application_id=billing.application_id, reason=refund.reason)
        return self.repo.get(refund_id_for(billing.code))

    # -- reading -------------------------------------------------------------------------------
    def _views(self, refunds: list[Refund]) -> list[RefundView]:
        paid = self.repo.payouts_of([r.refund_id for r in refunds])
        return [RefundView.of(r, paid.get(r.refund_id)) for r in refunds]

    def for_application(self, application_id: str) -> list[RefundView]:
        return self._views(self.repo.for_application(application_id))

    def for_billing(self, billing_code: str) -> list[RefundView]:
        return self._views(self.repo.for_billing(billing_code))

    def list(self, office_id: str, status: str = "", limit: int = 100) -> list[RefundView]:
        if status and status not in STATUSES:
            raise invalid(f"status must be one of {', '.join(STATUSES)}", "status")
        if not office_id:
            raise invalid("office_id is required", "office_id")
        limit = min(max(limit or 100, 1), 500)
        views = [v for v in self._views(self.repo.for_office_newest_first(office_id))
                 if not status or v.status == status]
        return views[:limit]

    # -- paying out ----------------------------------------------------------------------------
    def mark_paid(self, billing_code: str, bank_reference: str, refund_id: str = "", office_id: str = "",
                  actor: str = "") -> RefundView:
        """Record that a refund was paid out. Idempotent: the same refund and bank_reference again
        answers the payout that stands; another bank_reference for a paid-out refund is a conflict."""
        validate_payout(billing_code, bank_reference)
        candidates = [r for r in self.repo.for_billing(billing_code) if not office_id or r.office_id == office_id]
        if refund_id:
            candidates = [r for r in candidates if r.refund_id == refund_id]
        if not candidates:
            raise DomainError("not_found", "refund-not-found", f"billing {billing_code} has no such refund")
        chosen = choose_for_payout(self._views(candidates), bank_reference)
        if len(candidates) > 1 and chosen.status == PAID_OUT:
            return chosen  # a repeat of a payout already recorded
        refund = next(r for r in candidates if r.refund_id == chosen.refund_id)
        payout, facts = refund.pay_out(bank_reference, actor, self.clock.now())
        if self.repo.add_payout(payout, facts):
            metrics.REFUNDS.labels(refund.reason, PAID_OUT).inc()
            log.event(logger, "refund paid out", application_id=refund.application_id, reason=refund.reason)
            return RefundView.of(refund, payout)
        existing = self.repo.payout_of(refund.refund_id)
        if existing.bank_reference != bank_reference:
            raise DomainError("conflict", "refund-already-paid-out",
                              f"this refund was already paid out with bank reference {existing.bank_reference}")
        return RefundView.of(refund, existing)
