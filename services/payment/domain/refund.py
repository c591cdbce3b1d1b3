"""Refunds: money the state owes back to an applicant, and its payout.

Policy (`refund_due`):
- OVERPAYMENT: a second, different payment for a billing already paid is always refunded in full.
- AMOUNT_MISMATCH: a payment of the wrong amount is never applied and is refunded in full.
- OFFICE_CANCELLED: the office cancelled the appointment of a SETTLED billing: the fee is refunded.
- BOOKING_NOT_COMPLETED: money for a billing whose booking was abandoned belongs to no appointment.
- LATE_PAYMENT: booking could not re-seat a late payer; the late payment is refunded.
- An APPLICANT cancellation of a paid application is NOT refunded: PNBP fees are non-refundable
  once paid when the applicant chose to withdraw. BILLING_EXPIRED cancellations paid nothing.
A refund is PENDING when recorded; its payout (PAID_OUT) is a separate record, never an update.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servicekit.errors import DomainError

from services.payment.domain import events
from services.payment.domain.billing import (
    AMOUNT_MISMATCH, BOOKING_NOT_COMPLETED, OVERPAYMENT, Billing, Outcome, Payment)
from services.payment.domain.payments import LatePayment

# BOOKING_NOT_COMPLETED: a booking attempt abandoned before its appointment was recorded.
CANCEL_REASONS = ("BILLING_EXPIRED", "APPLICANT", "OFFICE", BOOKING_NOT_COMPLETED)
# Refund reasons; OVERPAYMENT and AMOUNT_MISMATCH are also what such a payment does (Billing.judge).
OFFICE_CANCELLED, LATE_PAYMENT = "OFFICE_CANCELLED", "LATE_PAYMENT"
PENDING, PAID_OUT = "PENDING", "PAID_OUT"
STATUSES = (PENDING, PAID_OUT)


def refund_due(cancel_reason: str, outcome_kind: str | None) -> str | None:
    """The refund reason owed for a cancelled appointment whose billing ended as `outcome_kind`
    (SETTLED | EXPIRED | None = undecided), or None. Raises ValueError for an unknown reason."""
    if cancel_reason not in CANCEL_REASONS:
        raise ValueError(f"unknown cancellation reason {cancel_reason!r}")
    if outcome_kind != "SETTLED":
        return None  # nothing was paid
    if cancel_reason == "OFFICE":
        return OFFICE_CANCELLED
    if cancel_reason == BOOKING_NOT_COMPLETED:
        return BOOKING_NOT_COMPLETED  # paid before the void: it belongs to no appointment
    return None  # APPLICANT: PNBP is non-refundable once paid; BILLING_EXPIRED: not a paid billing


def refund_id_for(billing_code: str) -> str:
    return f"refund:{billing_code}"


def late_refund_id_for(bank_reference: str) -> str:
    return f"refund:late:{bank_reference}"


def payout_id_for(refund_id: str) -> str:
    return f"{refund_id}:paid_out"


@dataclass(frozen=True)
class Cancellation:
    """Booking's AppointmentCancelled as received; the first one for an appointment stands."""
    appointment_id: str
    billing_code: str
    reason: str
    application_id: str
    event_id: str
    at: dt.datetime


@dataclass(frozen=True)
class Payout:
    """The refund was paid out: who, when, with which bank transfer."""
    refund_id: str
    billing_code: str
    application_id: str
    office_id: str
    reason: str
    amount: int
    bank_reference: str
    actor: str
    paid_out_at: dt.datetime

    @property
    def payout_id(self) -> str:
        return payout_id_for(self.refund_id)


@dataclass(frozen=True)
class Refund:
    """Keyed by the payment's bank reference (money we could not apply) or by `refund:<code>`
    (a cancellation). Fields that one kind lacks are None."""
    refund_id: str
    billing_code: str
    application_id: str
    office_id: str
    account_id: str
    reason: str
    amount: int
    recorded_at: dt.datetime
    appointment_id: str | None = None
    paid_at: dt.datetime | None = None
    cancellation: str | None = None

    @classmethod
    def of_payment(cls, billing: Billing, payment: Payment, reason: str,
                   now: dt.datetime) -> tuple["Refund", list[events.Event]]:
        """Money received that is not applied (a mismatch, an overpayment, a void billing's payment)
        goes back in full, keyed by its bank reference so a repeated notification owes it once."""
        refund = cls(refund_id=payment.bank_reference, billing_code=billing.code,
                     application_id=billing.application_id, office_id=billing.office_id,
                     account_id=billing.account_id, reason=reason, amount=payment.amount, recorded_at=now,
                     paid_at=payment.paid_at)
        if reason == OVERPAYMENT:
            fact = events.OverpaymentRecorded(
                application_id=billing.application_id, billing_code=billing.code, account_id=billing.account_id,
                office_id=billing.office_id, amount=payment.amount, paid_at=payment.paid_at,
                bank_reference=payment.bank_reference)
        else:
            fact = refund._recorded(billing)
        return refund, [fact]

    @classmethod
    def of_cancellation(cls, billing: Billing, cancellation: Cancellation, outcome: Outcome | None,
                        now: dt.datetime) -> tuple["Refund | None", list[events.Event]]:
        """The refund a cancelled appointment owes under the policy, or None."""
        reason = refund_due(cancellation.reason, outcome.kind if outcome else None)
        if reason is None:
            return None, []
        refund = cls(refund_id=refund_id_for(billing.code), billing_code=billing.code,
                     application_id=billing.application_id, office_id=billing.office_id,
                     account_id=billing.account_id, reason=reason, amount=outcome.amount, recorded_at=now,
                     appointment_id=billing.appointment_id, cancellation=cancellation.reason)
        return refund, [refund._recorded(billing)]

    @classmethod
    def of_late_payment(cls, billing: Billing, late: LatePayment,
                        now: dt.datetime) -> tuple["Refund", list[events.Event]]:
        refund = cls(refund_id=late_refund_id_for(late.bank_reference), billing_code=billing.code,
                     application_id=billing.application_id, office_id=billing.office_id,
                     account_id=billing.account_id, reason=LATE_PAYMENT, amount=late.amount, recorded_at=now,
                     appointment_id=billing.appointment_id, cancellation="")
        return refund, [refund._recorded(billing)]

    def _recorded(self, billing: Billing) -> events.RefundRecorded:
        return events.RefundRecorded(
            application_id=self.application_id, refund_id=self.refund_id, billing_code=self.billing_code,
            account_id=self.account_id, office_id=self.office_id, appointment_id=billing.appointment_id,
            reason=self.reason, amount=self.amount)

    def pay_out(self, bank_reference: str, actor: str, now: dt.datetime) -> tuple[Payout, list[events.Event]]:
        """PENDING -> PAID_OUT; the payout record is the transition and its audit in one."""
        payout = Payout(refund_id=self.refund_id, billing_code=self.billing_code,
                        application_id=self.application_id, office_id=self.office_id, reason=self.reason,
                        amount=self.amount, bank_reference=bank_reference, actor=actor or "unknown",
                        paid_out_at=now)
        return payout, [events.RefundPaidOut(
            application_id=self.application_id, refund_id=self.refund_id, billing_code=self.billing_code,
            office_id=self.office_id, reason=self.reason, amount=self.amount, paid_out_at=now,
            actor_account_id=actor or "", bank_reference=bank_reference)]


@dataclass(frozen=True)
class RefundView:
    """A refund as the office and the applicant see it: its status follows from its payout."""
    refund_id: str
    billing_code: str
    application_id: str
    office_id: str
    reason: str
    amount: int
    status: str
    recorded_at: dt.datetime
    paid_out_at: dt.datetime | None
    payout_reference: str

    @classmethod
    def of(cls, refund: Refund, payout: Payout | None) -> "RefundView":
        return cls(refund_id=refund.refund_id, billing_code=refund.billing_code,
                   application_id=refund.application_id, office_id=refund.office_id, reason=refund.reason,
                   amount=refund.amount, status=PAID_OUT if payout else PENDING, recorded_at=refund.recorded_at,
                   paid_out_at=payout.paid_out_at if payout else None,
                   payout_reference=payout.bank_reference if payout else "")


def choose_for_payout(views: list[RefundView], bank_reference: str) -> RefundView:
    """Which of a billing's refunds a payout names: the one already paid out with this bank
    reference (a repeat), else the only pending one; several pending need a refund_id."""
    if len(views) == 1:
        return views[0]
    same = [v for v in views if v.payout_reference == bank_reference]
    pending = [v for v in views if v.status == PENDING]
    if len(same) == 1:
        return same[0]
    if len(pending) != 1:
        billing_code = views[0].billing_code
        raise DomainError("invalid", "refund-id-required",
                          f"billing {billing_code} has several refunds; name one with refund_id",
                          [{"field": "refund_id", "message": "one of " + ", ".join(v.refund_id for v in views)}])
    return pending[0]
