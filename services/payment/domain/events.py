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
