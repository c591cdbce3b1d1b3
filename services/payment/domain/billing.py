"""The Billing aggregate and its one decision (Outcome).

A billing is immutable once issued; what becomes of it is ONE outcome keyed by its code: SETTLED
(paid in time with the exact amount) or EXPIRED (deadline passed, or voided: its appointment was
cancelled, or its booking was abandoned). The store keeps the first outcome written, so whichever
transition wins the race is the one that stands; the methods here say which transitions exist and
what facts they cause."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.payment.domain import events

SETTLED, EXPIRED = "SETTLED", "EXPIRED"
CANCELLED, BOOKING_NOT_COMPLETED = "CANCELLED", "BOOKING_NOT_COMPLETED"  # why a billing was voided
UNPAID, PAID = "UNPAID", "PAID"  # with EXPIRED, the statuses a billing is seen in
CURRENCY = "IDR"
# What a payment does to a billing (Billing.judge).
AMOUNT_MISMATCH, SETTLE, EXPIRE_FIRST, SETTLES_IT, OVERPAYMENT, LATE = (
    "AMOUNT_MISMATCH", "SETTLE", "EXPIRE_FIRST", "SETTLES_IT", "OVERPAYMENT", "LATE")


@dataclass(frozen=True)
class FeeParameters:
    passport_type: str
    validity_years: int
    service_type: str
    express: bool


@dataclass(frozen=True)
class BillingItem:
    code: str
    label: str
    amount: int


@dataclass(frozen=True)
class Claim:
    """An appointment claimed under the code its billing is (to be) issued with; a claim without
    a code means the booking attempt was abandoned first and is never billed."""
    appointment_id: str
    code: str | None

    @property
    def abandoned(self) -> bool:
        return self.code is None


@dataclass(frozen=True)
class Payment:
    """A bank payment as received; `bank_reference` is its identity (dedupes notifications)."""
    bank_reference: str
    billing_code: str
    amount: int
    paid_at: dt.datetime
    office_id: str = ""
    received_at: dt.datetime | None = None
    source: str = ""

    def same_as(self, other: "Payment") -> bool:
        """A repeat of the same payment (a redelivered notification), not a reused reference."""
        return (self.billing_code, self.amount, self.paid_at) == (other.billing_code, other.amount, other.paid_at)


@dataclass(frozen=True)
class Outcome:
    """THE decision about a billing. `expired_at` for EXPIRED, `bank_reference`/`amount`/`paid_at`
    for SETTLED; `void_reason` when an EXPIRED outcome is a void."""
    billing_code: str
    kind: str
    application_id: str
    office_id: str
    decided_at: dt.datetime
    bank_reference: str = ""
    amount: int = 0
    paid_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    void_reason: str = ""

    @property
    def settled(self) -> bool:
        return self.kind == SETTLED

    def settled_by(self, payment: Payment) -> bool:
        return self.settled and self.bank_reference == payment.bank_reference

    @property
    def voided_as_abandoned(self) -> bool:
        return self.void_reason == BOOKING_NOT_COMPLETED

    @property
    def cancelled(self) -> bool:
        return self.void_reason == CANCELLED


@dataclass(frozen=True)
class Billing:
    code: str
    appointment_id: str
    application_id: str
    account_id: str
    office_id: str
    items: tuple[BillingItem, ...] = ()
    amount: int = 0
    currency: str = CURRENCY
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    fee: FeeParameters | None = None

    @classmethod
    def issue(cls, code: str, appointment_id: str, application_id: str, account_id: str, office_id: str,
              fee: FeeParameters, items: list[BillingItem], expires_at: dt.datetime,
              now: dt.datetime) -> tuple["Billing", list[events.Event]]:
        """A new billing for one appointment: the sum of its fee lines, payable until the seat
        hold's deadline as booking sent it."""
        billing = cls(code=code, appointment_id=appointment_id, application_id=application_id,
                      account_id=account_id, office_id=office_id, items=tuple(items),
                      amount=sum(i.amount for i in items), issued_at=now, expires_at=expires_at, fee=fee)
        return billing, [events.BillingIssued(
            application_id=application_id, billing_code=code, account_id=account_id, office_id=office_id,
            appointment_id=appointment_id, amount=billing.amount, expires_at=expires_at)]

    @property
    def passport_type(self) -> str:
        """The metric label for the billing's passport type (ORDINARY | ELECTRONIC)."""
        return (self.fee.passport_type if self.fee else "") or "UNKNOWN"

    # -- reading -------------------------------------------------------------------------------
    def is_due(self, now: dt.datetime, grace: dt.timedelta) -> bool:
        return now >= self.expires_at + grace

    def status(self, outcome: Outcome | None, now: dt.datetime,
               grace: dt.timedelta) -> tuple[str, dt.datetime | None]:
        """UNPAID | PAID (with paid_at) | EXPIRED. A billing past its deadline is EXPIRED before the
        sweeper records it."""
        if outcome is not None:
            return (PAID, outcome.paid_at) if outcome.settled else (EXPIRED, None)
        if self.is_due(now, grace):
            return EXPIRED, None
        return UNPAID, None

    def pays_exactly(self, payment: Payment) -> bool:
        """A billing is paid with its exact amount; any other amount is refunded in full."""
        return payment.amount == self.amount

    def paid_too_late(self, payment: Payment) -> bool:
        return payment.paid_at > self.expires_at

    def judge(self, payment: Payment, outcome: Outcome | None) -> str:
        """What a payment does, given the billing's outcome that stands (None: undecided):
        - AMOUNT_MISMATCH: not its exact amount: never applied, refunded in full;
        - SETTLE: undecided and paid by the deadline: settle it (if nothing else wins first);
        - EXPIRE_FIRST: undecided but paid after the deadline: it expired first, then LATE;
        - SETTLES_IT: this very payment settled it (a repeat answers the same);
        - OVERPAYMENT: settled by another payment: a second payment, refunded in full;
        - LATE: expired (or cancelled, or voided): recorded for re-seating or refund.
        (A payment of a billing voided as abandoned is refused before it is judged.)"""
        if not self.pays_exactly(payment):
            return AMOUNT_MISMATCH
        if outcome is None:
            return EXPIRE_FIRST if self.paid_too_late(payment) else SETTLE
        if outcome.settled:
            return SETTLES_IT if outcome.settled_by(payment) else OVERPAYMENT
        return LATE

    # -- transitions (each one a candidate for the billing's one outcome) ----------------------
    def settle(self, payment: Payment, now: dt.datetime) -> tuple[Outcome, list[events.Event]]:
        outcome = Outcome(billing_code=self.code, kind=SETTLED, application_id=self.application_id,
                          office_id=self.office_id, decided_at=now, bank_reference=payment.bank_reference,
                          amount=payment.amount, paid_at=payment.paid_at)
        return outcome, [events.PaymentSettled(
            application_id=self.application_id, billing_code=self.code, account_id=self.account_id,
            office_id=self.office_id, appointment_id=self.appointment_id, amount=payment.amount,
            paid_at=payment.paid_at, bank_reference=payment.bank_reference)]

    def expire(self, now: dt.datetime) -> tuple[Outcome, list[events.Event]]:
        """Unpaid at its deadline: expired as of the deadline itself."""
        outcome = Outcome(billing_code=self.code, kind=EXPIRED, application_id=self.application_id,
                          office_id=self.office_id, decided_at=now, expired_at=self.expires_at)
        return outcome, [self._expired_event(self.expires_at)]

    def cancel(self, now: dt.datetime) -> tuple[Outcome, list[events.Event]]:
        """The appointment of an unpaid billing was cancelled: it expires now, so a payment that
        still arrives is a late payment (booking then re-seats or it is refunded)."""
        outcome = Outcome(billing_code=self.code, kind=EXPIRED, application_id=self.application_id,
                          office_id=self.office_id, decided_at=now, expired_at=now, void_reason=CANCELLED)
        return outcome, [self._expired_event(now)]

    def void(self, now: dt.datetime) -> tuple[Outcome, list[events.Event]]:
        """Its booking attempt was abandoned before an appointment was recorded: it belongs to no
        appointment and must never be payable."""
        outcome = Outcome(billing_code=self.code, kind=EXPIRED, application_id=self.application_id,
                          office_id=self.office_id, decided_at=now, expired_at=now,
                          void_reason=BOOKING_NOT_COMPLETED)
        return outcome, [events.BillingVoided(
            application_id=self.application_id, billing_code=self.code, account_id=self.account_id,
            office_id=self.office_id, appointment_id=self.appointment_id, reason=BOOKING_NOT_COMPLETED,
            voided_at=now)]

    def _expired_event(self, at: dt.datetime) -> events.BillingExpired:
        return events.BillingExpired(
            application_id=self.application_id, billing_code=self.code, account_id=self.account_id,
            office_id=self.office_id, appointment_id=self.appointment_id, expired_at=at)
