"""The payment domain on its own (no store): a billing's transitions and the facts they cause,
the refund policy as records, the one mapping of each record to the store and of each event to
its proto message; and the cancel use case (new as a use case) on the in-memory store."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from servicekit.clock import FixedClock, rfc3339
from servicekit.errors import DomainError
from services.payment.adapters import records
from services.payment.adapters.events import to_proto
from services.payment.adapters.repositories import Repositories
from services.payment.domain import events
from services.payment.domain.billing import (
    AMOUNT_MISMATCH, BOOKING_NOT_COMPLETED, CANCELLED, EXPIRE_FIRST, EXPIRED, LATE, PAID, SETTLE, SETTLED,
    SETTLES_IT, UNPAID, Billing, BillingItem, Payment)
from services.payment.domain.fees import FeeSchedule
from services.payment.domain.refund import (
    OFFICE_CANCELLED, OVERPAYMENT, PAID_OUT, PENDING, Cancellation, Refund, RefundView, choose_for_payout)
from services.payment.usecases.billing import Billings
from tests.unit.test_payment_settlements import FakeDb, T0, fee, settlements_on

DEADLINE = T0 + dt.timedelta(hours=2)


def issued() -> Billing:
    billing, _ = Billing.issue("123456789012345", "hold-1", "app-1", "acc-1", "TBK", fee(),
                               [BillingItem("PASPOR_ELECTRONIC_10Y", "e-passport", 950_000)], DEADLINE, T0)
    return billing


def payment(ref="REF-1", amount=950_000, paid_at=T0 + dt.timedelta(minutes=5)) -> Payment:
    return Payment(bank_reference=ref, billing_code="123456789012345", amount=amount, paid_at=paid_at)


def test_issuing_sums_the_fee_lines_and_says_so_in_one_event():
    billing, facts = Billing.issue("123456789012345", "hold-1", "app-1", "acc-1", "TBK", fee(),
                                   [BillingItem("A", "a", 600_000), BillingItem("B", "b", 350_000)], DEADLINE, T0)
    assert billing.amount == 950_000 and billing.currency == "IDR" and billing.passport_type == "ELECTRONIC"
    assert facts == [events.BillingIssued(application_id="app-1", billing_code=billing.code, account_id="acc-1",
                                          office_id="TBK", appointment_id="hold-1", amount=950_000,
                                          expires_at=DEADLINE)]


def test_each_transition_is_one_outcome_with_its_fact():
    billing, now = issued(), T0 + dt.timedelta(minutes=10)
    settled, [paid] = billing.settle(payment(), now)
    assert (settled.kind, settled.bank_reference, settled.paid_at) == (SETTLED, "REF-1", payment().paid_at)
    assert settled.settled_by(payment()) and not settled.settled_by(payment("REF-2"))
    assert isinstance(paid, events.PaymentSettled) and paid.bank_reference == "REF-1"
    expired, [fact] = billing.expire(now)
    assert (expired.kind, expired.expired_at, expired.void_reason) == (EXPIRED, DEADLINE, "")
    assert isinstance(fact, events.BillingExpired) and fact.expired_at == DEADLINE  # at the deadline itself
    cancelled, [fact] = billing.cancel(now)
    assert (cancelled.kind, cancelled.expired_at, cancelled.cancelled) == (EXPIRED, now, True)
    assert isinstance(fact, events.BillingExpired) and fact.expired_at == now
    voided, [fact] = billing.void(now)
    assert (voided.kind, voided.void_reason, voided.voided_as_abandoned) == (EXPIRED, BOOKING_NOT_COMPLETED, True)
    assert isinstance(fact, events.BillingVoided) and fact.reason == BOOKING_NOT_COMPLETED


def test_status_follows_the_outcome_else_the_deadline_and_grace():
    billing, grace = issued(), dt.timedelta(minutes=10)
    assert billing.status(None, T0, grace) == (UNPAID, None)
    assert billing.status(None, DEADLINE + dt.timedelta(minutes=5), grace) == (UNPAID, None)
    assert billing.status(None, DEADLINE + grace, grace) == (EXPIRED, None)  # due: about to be recorded
    settled, _ = billing.settle(payment(), T0)
    assert billing.status(settled, DEADLINE + grace, grace) == (PAID, payment().paid_at)
    assert billing.status(billing.expire(T0)[0], T0, grace) == (EXPIRED, None)


def test_a_payment_is_judged_by_its_amount_and_its_paid_at():
    billing = issued()
    assert billing.pays_exactly(payment()) and not billing.pays_exactly(payment(amount=949_999))
    assert not billing.paid_too_late(payment(paid_at=DEADLINE))
    assert billing.paid_too_late(payment(paid_at=DEADLINE + dt.timedelta(seconds=1)))
    assert payment().same_as(payment()) and not payment().same_as(payment(amount=1))


def test_refunds_as_records_follow_the_policy():
    billing, now = issued(), T0 + dt.timedelta(days=1)
    settled, _ = billing.settle(payment(), now)

    def cancelled(reason):
        return Cancellation("hold-1", billing.code, reason, "app-1", "ev-1", now)
    refund, [fact] = Refund.of_cancellation(billing, cancelled("OFFICE"), settled, now)
    assert (refund.refund_id, refund.reason, refund.amount) == (f"refund:{billing.code}", OFFICE_CANCELLED, 950_000)
    assert isinstance(fact, events.RefundRecorded) and fact.appointment_id == "hold-1"
    assert Refund.of_cancellation(billing, cancelled("APPLICANT"), settled, now) == (None, [])
    assert Refund.of_cancellation(billing, cancelled("OFFICE"), None, now) == (None, [])
    over, [fact] = Refund.of_payment(billing, payment("REF-2"), OVERPAYMENT, now)
    assert over.refund_id == "REF-2" and isinstance(fact, events.OverpaymentRecorded)
    payout, [fact] = over.pay_out("TRF-1", "sup-1", now)
    assert (payout.payout_id, payout.actor) == ("REF-2:paid_out", "sup-1")
    assert isinstance(fact, events.RefundPaidOut) and fact.actor_account_id == "sup-1"
    assert over.pay_out("TRF-1", "", now)[0].actor == "unknown"  # the audit always names someone
    assert (RefundView.of(over, None).status, RefundView.of(over, payout).status) == (PENDING, PAID_OUT)


def test_a_payout_names_the_one_pending_refund_or_a_repeat_or_asks_which():
    billing, now = issued(), T0
    a = RefundView.of(Refund.of_payment(billing, payment("R-A"), OVERPAYMENT, now)[0], None)
    b = RefundView.of(Refund.of_payment(billing, payment("R-B"), OVERPAYMENT, now)[0], None)
    with pytest.raises(DomainError) as exc:
        choose_for_payout([a, b], "TRF-1")
    assert exc.value.problem == "refund-id-required"
    paid_a = dataclasses.replace(a, status=PAID_OUT, payout_reference="TRF-1")
    assert choose_for_payout([paid_a, b], "TRF-1") == paid_a  # a repeat of the payout that stands
    assert choose_for_payout([paid_a, b], "TRF-2") == b


def test_every_record_maps_to_its_document_and_back():
    billing, now = issued(), T0
    settled, _ = billing.settle(payment(), now)
    voided, _ = billing.void(now)
    refund, _ = Refund.of_payment(billing, payment("REF-2"), OVERPAYMENT, now)
    payout, _ = refund.pay_out("TRF-1", "sup-1", now)
    for record, to_doc, from_doc in [
            (billing, records.billing_to_doc, records.billing_from_doc),
            (settled, records.outcome_to_doc, records.outcome_from_doc),
            (voided, records.outcome_to_doc, records.outcome_from_doc),
            (payment(), records.payment_to_doc, records.payment_from_doc),
            (refund, records.refund_to_doc, records.refund_from_doc),
            (payout, records.payout_to_doc, records.payout_from_doc)]:
        assert from_doc(to_doc(record)) == record
    assert records.outcome_to_doc(voided)["voided"] is True and "voided" not in records.outcome_to_doc(settled)
    assert "appointment_id" not in records.refund_to_doc(refund)  # the shape the store always had


def test_events_map_to_their_proto_messages_field_by_field():
    billing, now = issued(), T0
    _, [settled] = billing.settle(payment(), now)
    message = to_proto(settled)
    assert type(message).__name__ == "PaymentSettled"
    assert (message.billing_code, message.amount.amount, message.amount.currency) == (billing.code, 950_000, "IDR")
    assert message.paid_at == rfc3339(payment().paid_at) and message.appointment_id == "hold-1"


def test_cancelling_an_unpaid_billing_expires_it_now_and_a_decided_one_keeps_its_outcome():
    clock, db = FixedClock(T0), FakeDb()
    store = Billings(Repositories.over(db, clock), FeeSchedule.load(), clock)
    unpaid = store.issue("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(DEADLINE))
    paid = store.issue("hold-2", "app-2", "acc-2", "TBK", fee(), rfc3339(DEADLINE))
    settlements = settlements_on(db, clock)
    settlements.settle(paid.code, paid.amount, rfc3339(T0), "REF-P")
    clock.advance(minutes=3)
    outcome = settlements.cancel_unpaid("hold-1")
    assert (outcome.kind, outcome.void_reason, outcome.expired_at) == (EXPIRED, CANCELLED, T0 + dt.timedelta(minutes=3))
    assert settlements.cancel_unpaid("hold-1") == outcome  # redelivered: the same decision
    assert settlements.cancel_unpaid("hold-2").kind == SETTLED
    assert settlements.cancel_unpaid("no-such-hold") is None
    assert unpaid.code in db["outcomes"].docs



def test_what_a_payment_does_depends_on_its_amount_its_time_and_the_outcome_that_stands():
    billing, now = issued(), T0
    settled, _ = billing.settle(payment(), now)
    assert billing.judge(payment(amount=1), settled) == AMOUNT_MISMATCH  # a wrong amount is never applied
    assert billing.judge(payment(), None) == SETTLE
    assert billing.judge(payment(paid_at=DEADLINE + dt.timedelta(seconds=1)), None) == EXPIRE_FIRST
    assert billing.judge(payment(), settled) == SETTLES_IT  # the repeat of the payment that settled it
    assert billing.judge(payment("REF-2"), settled) == OVERPAYMENT
    for ended in (billing.expire(now)[0], billing.cancel(now)[0], billing.void(now)[0]):
        assert billing.judge(payment(), ended) == LATE
