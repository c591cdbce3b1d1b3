"""Settlement, expiry and voids of billings, decided exactly once per billing.

A bank payment is recorded first (keyed by its bank reference), then judged against its billing
and the billing's outcome; whichever decision is inserted first under the billing code stands, so
settlement and expiry can never both happen. Repeating any step (a redelivered notification, a
crash between two inserts, two replicas) only re-runs inserts that lose to the first; the
decision is re-derived from the records."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from servicekit import log
from servicekit.clock import Clock, rfc3339
from servicekit.due_windows import WindowCursor
from servicekit.errors import DomainError

from services.payment import metrics
from services.payment.adapters.repositories import Repositories
from services.payment.domain.billing import (
    AMOUNT_MISMATCH, EXPIRE_FIRST, EXPIRED, OVERPAYMENT, SETTLE, SETTLES_IT, Billing, Outcome, Payment)
from services.payment.domain.payments import PAID_AT_SKEW, AmountMismatch, LatePayment, validate, validate_source
from services.payment.domain.peer_facts import BookingAbandoned
from services.payment.domain.refund import BOOKING_NOT_COMPLETED, PENDING, Refund
from services.payment.domain import events

logger = logging.getLogger("payment.settlements")


class Settlements:
    def __init__(self, repos: Repositories, clock: Clock, expiry_grace: dt.timedelta = dt.timedelta(0),
                 on_settled: Callable[[Billing], object] | None = None, paid_at_skew: dt.timedelta = PAID_AT_SKEW):
        # on_settled(billing): called whenever a payment is (again) found to settle its billing,
        # so a cancellation that arrived before the money can still owe its refund (usecases/refunds.py).
        self.billings, self.settled, self.refunds = repos.billings, repos.settlements, repos.refunds
        self.clock, self.grace, self.on_settled, self.paid_at_skew = clock, expiry_grace, on_settled, paid_at_skew
        self._windows = WindowCursor(self.billings.expiry_queue.queue.window_of)  # the expiry windows not swept yet

    def ensure_indexes(self) -> None:
        self.settled.ensure_indexes()

    # -- reading -------------------------------------------------------------------------------
    def outcome_of(self, billing_code: str) -> Outcome | None:
        return self.settled.outcome_of(billing_code)

    def status(self, billing: Billing, fresh: bool = False) -> tuple[str, dt.datetime | None]:
        """UNPAID | PAID (with paid_at) | EXPIRED. `fresh`: the billing was issued by this very call,
        so it has no outcome to look up."""
        outcome = None if fresh else self.outcome_of(billing.code)
        return billing.status(outcome, self.clock.now(), self.grace)

    def office_of_billing(self, billing_code: str) -> str | None:
        return self.billings.office_of(billing_code)

    def recorded_payment(self, bank_reference: str) -> Payment | None:
        return self.settled.payment(bank_reference)

    def payments_between(self, first: dt.datetime, last: dt.datetime, office_id: str = "") -> list[Payment]:
        return self.settled.payments_between(first, last, office_id)

    def payment_outcome(self, payment: Payment) -> str:
        """What became of one recorded payment."""
        ref = payment.bank_reference
        outcome = self.outcome_of(payment.billing_code)
        if outcome is not None and outcome.settled_by(payment):
            return "SETTLED"
        # a mismatch is also refunded: it names itself first
        if self.settled.is_mismatch(ref):
            return AMOUNT_MISMATCH
        reason = self.refunds.reason_of(ref)
        if reason is not None:
            return "VOID" if reason == BOOKING_NOT_COMPLETED else OVERPAYMENT
        if self.settled.is_late(ref):
            return "LATE"
        return "UNDECIDED"

    # -- settling ------------------------------------------------------------------------------
    def settle(self, billing_code: str, amount: int, paid_at: str, bank_reference: str,
               source: str = "NOTIFICATION") -> tuple[str, Billing]:
        """Apply one bank payment. Returns (SETTLED | OVERPAYMENT, billing); raises DomainError
        amount-mismatch / billing-expired / billing-cancelled / billing-void (after recording them),
        unknown-billing-code, bank-reference-reused."""
        paid = validate(billing_code, amount, paid_at, bank_reference, self.clock.now(), self.paid_at_skew)
        validate_source(source)
        billing = self.billings.get(billing_code)
        if billing is None:
            metrics.PAYMENTS.labels(source, "UNKNOWN_BILLING").inc()
            raise DomainError("invalid", "unknown-billing-code", f"no billing has the code {billing_code}",
                              [{"field": "billing_code", "message": "unknown billing code"}])
        payment = Payment(bank_reference=bank_reference, billing_code=billing_code, amount=amount, paid_at=paid,
                          office_id=billing.office_id, received_at=self.clock.now(), source=source)
        if not self.settled.add_payment(payment):
            existing = self.settled.payment(bank_reference)
            if not existing.same_as(payment):
                raise DomainError("conflict", "bank-reference-reused",
                                  f"bank_reference {bank_reference} was already used for a different payment")
            payment = existing  # a repeat: re-derive (and complete, if interrupted) its decision
        return self._decide(billing, payment, source)

    def _decide(self, billing: Billing, payment: Payment, source: str) -> tuple[str, Billing]:
        if not billing.pays_exactly(payment):  # decided by the amount alone: no lookup
            self._refuse_mismatch(billing, payment, source)
        outcome = self.outcome_of(billing.code)
        if outcome is not None and outcome.voided_as_abandoned:
            self._refuse_void(billing, payment, outcome, source)
        verdict = billing.judge(payment, outcome)
        if verdict in (SETTLE, EXPIRE_FIRST):
            outcome = self._settle_once(billing, payment) if verdict == SETTLE else self.expire(billing)
            verdict = billing.judge(payment, outcome)  # the outcome that stands, whoever wrote it
        if verdict == SETTLES_IT:
            metrics.PAYMENTS.labels(source, "SETTLED").inc()
            if self.on_settled is not None:
                self.on_settled(billing)
            return "SETTLED", billing
        if verdict == OVERPAYMENT:
            if self._refund(billing, payment, OVERPAYMENT):
                metrics.REFUNDS.labels(OVERPAYMENT, PENDING).inc()
            metrics.PAYMENTS.labels(source, OVERPAYMENT).inc()
            return OVERPAYMENT, billing
        self._record_late(billing, payment)
        metrics.PAYMENTS.labels(source, "LATE").inc()
        if outcome.cancelled:
            raise DomainError("invalid", "billing-cancelled",
                              f"billing {billing.code} was cancelled at {rfc3339(outcome.expired_at)} (its "
                              "appointment was cancelled); the payment is recorded and refunded in full",
                              params={"billing_code": billing.code, "at": rfc3339(outcome.expired_at)})
        raise DomainError("invalid", "billing-expired",
                          f"billing {billing.code} expired at {rfc3339(billing.expires_at)} before this "
                          "payment was applied; it is recorded as a late payment for re-seating or refund",
                          params={"billing_code": billing.code, "at": rfc3339(billing.expires_at)})

    def _refuse_mismatch(self, billing: Billing, payment: Payment, source: str):
        """Never applied (a billing is paid with its exact amount): the money received goes back in
        full, and the billing stays payable until its deadline."""
        self.settled.add_mismatch(AmountMismatch(
            bank_reference=payment.bank_reference, billing_code=billing.code, expected=billing.amount,
            received=payment.amount, paid_at=payment.paid_at, recorded_at=self.clock.now()))
        if self._refund(billing, payment, AMOUNT_MISMATCH):
            metrics.REFUNDS.labels(AMOUNT_MISMATCH, PENDING).inc()
        metrics.PAYMENTS.labels(source, AMOUNT_MISMATCH).inc()
        raise DomainError("invalid", "amount-mismatch",
                          f"the billing is for {billing.amount} IDR but {payment.amount} IDR was paid; "
                          "the payment is recorded for reconciliation and refunded in full",
                          [{"field": "amount", "message": f"expected {billing.amount}"}])

    def _refuse_void(self, billing: Billing, payment: Payment, outcome: Outcome, source: str):
        """A payment of a billing voided because its booking never completed: it belongs to no
        appointment, so it is never applied; the money goes back in full (keyed by bank reference)."""
        if self._refund(billing, payment, BOOKING_NOT_COMPLETED):
            metrics.REFUNDS.labels(BOOKING_NOT_COMPLETED, PENDING).inc()
        metrics.PAYMENTS.labels(source, "VOID").inc()
        raise DomainError("invalid", "billing-void",
                          f"billing {billing.code} was voided at {rfc3339(outcome.expired_at)}: its booking "
                          "did not complete, so it belongs to no appointment; the payment is recorded and "
                          "refunded in full", params={"billing_code": billing.code, "at": rfc3339(outcome.expired_at)})

    def _refund(self, billing: Billing, payment: Payment, reason: str) -> bool:
        refund, facts = Refund.of_payment(billing, payment, reason, self.clock.now())
        return self.refunds.add(refund, facts)

    def _record_late(self, billing: Billing, payment: Payment) -> bool:
        late = LatePayment(bank_reference=payment.bank_reference, billing_code=billing.code,
                           application_id=billing.application_id, office_id=billing.office_id,
                           amount=payment.amount, paid_at=payment.paid_at, recorded_at=self.clock.now())
        return self.settled.add_late(late, [events.LatePaymentReceived(
            application_id=billing.application_id, billing_code=billing.code, account_id=billing.account_id,
            office_id=billing.office_id, appointment_id=billing.appointment_id, amount=payment.amount,
            paid_at=payment.paid_at, bank_reference=payment.bank_reference)])

    def _settle_once(self, billing: Billing, payment: Payment) -> Outcome:
        outcome, facts = billing.settle(payment, self.clock.now())
        won, stands = self._decide_once(outcome, facts)
        if won:
            metrics.BILLINGS_PAID.labels(billing.office_id, billing.passport_type).inc()
            metrics.SETTLEMENT_LATENCY.observe(max(0.0, (outcome.decided_at - payment.paid_at).total_seconds()))
            log.event(logger, "billing settled", application_id=billing.application_id)
        return stands

    # -- expiring and voiding ------------------------------------------------------------------
    def expire(self, billing: Billing) -> Outcome:
        """Record that the billing expired unpaid, unless something was decided first; returns
        the outcome that stands."""
        won, stands = self._decide_once(*billing.expire(self.clock.now()))
        if won:
            metrics.BILLINGS_EXPIRED.labels(billing.office_id, billing.passport_type).inc()
            log.event(logger, "billing expired", application_id=billing.application_id)
        return stands

    def cancel_unpaid(self, appointment_id: str) -> Outcome | None:
        """Booking cancelled the appointment: its billing, if still undecided, expires now, so money
        that still comes is a late payment. Returns the outcome that stands (None: no billing)."""
        billing = self.billings.for_appointment(appointment_id)
        if billing is None:
            return None
        outcome = self.outcome_of(billing.code)
        return outcome if outcome is not None else self._decide_once(*billing.cancel(self.clock.now()))[1]

    def void_abandoned(self, abandoned: BookingAbandoned) -> Outcome | None:
        """BookingAbandoned: a hold that was never recorded as an appointment must have no payable
        billing. Before any billing, a claim without a code keeps one from being issued (IssueBilling
        claims first); with one, the billing's one decision becomes a void (BillingVoided), unless it
        was paid first. Returns the outcome that stands, or None when nothing was billed."""
        now = self.clock.now()
        if self.billings.claim_abandoned(abandoned.appointment_id, now):
            return None
        claim = self.billings.claim_of(abandoned.appointment_id)
        if claim is None or not claim.code:
            return None
        # The billing itself may not be written yet (its IssueBilling is running, or died): the outcome
        # is keyed by its code all the same, so whatever is written later is void.
        billing = self.billings.get(claim.code) or Billing(
            code=claim.code, appointment_id=abandoned.appointment_id, application_id=abandoned.application_id,
            account_id=abandoned.account_id, office_id=abandoned.office_id)
        won, stands = self._decide_once(*billing.void(now))
        if won:
            metrics.BILLINGS_VOIDED.labels(billing.office_id).inc()
            log.event(logger, "billing of an abandoned booking voided", application_id=billing.application_id)
        return stands

    def sweep(self, lookback: dt.timedelta | None = dt.timedelta(hours=48), chunk: int = 500) -> int:
        """Expire every unpaid billing past its deadline (plus grace) within `lookback` (None:
        all of them, e.g. at start-up after downtime). Safe to run in any number of replicas."""
        cutoff = self.clock.now() - self.grace
        due = self.billings.codes_due(cutoff, None if lookback is None else cutoff - lookback)
        expired = 0
        for i in range(0, len(due), chunk):
            ids = due[i:i + chunk]
            decided = self.settled.decided_among(ids)
            expired += sum(self._expire_if_due(code) for code in ids if code not in decided)
        return expired

    def sweep_due(self) -> int:
        """Expire the billings of every expiry window that has wholly passed (deadline + grace), each
        window read once by `_id`. The first call starts at the current window: a full `sweep` at
        start-up covers what fell due before."""
        expired = 0
        for window in self._windows.passed(self.clock.now() - self.grace):
            expired += sum(self._expire_if_due(code) for code in self.billings.queued_in(window)
                           if self.outcome_of(code) is None)
        return expired

    def _expire_if_due(self, code: str) -> bool:
        """Expire one undecided billing if it is past its deadline (+ grace). A stray expiry-queue
        entry (its billing never written, or a code drawn twice) expires nothing early."""
        billing = self.billings.get(code)
        if billing is None or not billing.is_due(self.clock.now(), self.grace):
            return False
        return self.expire(billing).kind == EXPIRED

    def _decide_once(self, outcome: Outcome, facts: list) -> tuple[bool, Outcome]:
        if self.settled.decide(outcome, facts):
            return True, outcome
        return False, self.outcome_of(outcome.billing_code)
