"""Domain events of the payment service: past-tense facts, as dataclasses. adapters/events.py maps
each to its proto message of the same name (published on payment.events through the outbox)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """A fact about one application's billing; `application_id` keys it on the topic."""
    application_id: str


@dataclass(frozen=True)
class BillingIssued(Event):
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    amount: int
    expires_at: dt.datetime


@dataclass(frozen=True)
class PaymentSettled(Event):
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    amount: int
    paid_at: dt.datetime
    bank_reference: str


@dataclass(frozen=True)
class BillingExpired(Event):
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    expired_at: dt.datetime


@dataclass(frozen=True)
class BillingVoided(Event):
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    reason: str
    voided_at: dt.datetime


@dataclass(frozen=True)
class OverpaymentRecorded(Event):
    billing_code: str
    account_id: str
    office_id: str
    amount: int
    paid_at: dt.datetime
    bank_reference: str


@dataclass(frozen=True)
class LatePaymentReceived(Event):
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    amount: int
    paid_at: dt.datetime
    bank_reference: str


@dataclass(frozen=True)
class RefundRecorded(Event):
    refund_id: str
    billing_code: str
    account_id: str
    office_id: str
    appointment_id: str
    reason: str
    amount: int


@dataclass(frozen=True)
class RefundPaidOut(Event):
    refund_id: str
    billing_code: str
    office_id: str
    reason: str
    amount: int
    paid_out_at: dt.datetime
    actor_account_id: str
    bank_reference: str


@dataclass(frozen=True)
class StatementReconciled:
    """A supervisor reconciled a bank statement: who, which file (its SHA-256), what it did. Not
    about one application: keyed on the topic by its office."""
    reconciliation_id: str
    office_id: str
    actor_account_id: str
    actor_role: str
    statement_sha256: str
    lines: int
    settled: int
    refused: int
    reconciled_at: dt.datetime

    @property
    def application_id(self) -> str:  # the topic key (adapters/events.py): the office's runs in order
        return f"office:{self.office_id}"
