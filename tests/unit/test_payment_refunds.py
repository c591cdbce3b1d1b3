"""Refund policy and records of the payment service: office cancellations of paid applications,
overpayments, payout (PENDING -> PAID_OUT) and idempotency, on the in-memory store."""
from __future__ import annotations

import datetime as dt

import pytest

from passport.v1 import booking_pb2
from servicekit.clock import FixedClock, rfc3339
from servicekit.consumer import PermanentError
from servicekit.errors import DomainError
from services.payment.adapters.repositories import Repositories
from services.payment.domain.fees import FeeSchedule
from services.payment.domain.refund import refund_due
from services.payment.entrypoints.events import handlers
from services.payment.usecases.billing import Billings
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements
from tests.unit.test_payment_settlements import T0, FakeDb, events_of, fee, pay


@pytest.fixture()
def world():
    clock = FixedClock(T0)
    db = FakeDb()
    repos = Repositories.over(db, clock)
    store = Billings(repos, FeeSchedule.load(), clock)
    store.ensure_indexes()
    owed = Refunds(repos, clock)
    owed.ensure_indexes()
    settlements = Settlements(repos, clock, on_settled=owed.on_settled)
    billing = store.issue("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    return clock, db, settlements, owed, billing


def cancelled(reason, appointment_id="hold-1"):
    return booking_pb2.AppointmentCancelled(application_id="app-1", account_id="acc-1", office_id="TBK",
                                            appointment_id=appointment_id, slot_id="slot-1", reason=reason)


# -- the policy --------------------------------------------------------------------------------
@pytest.mark.parametrize("reason,outcome,due", [
    ("OFFICE", "SETTLED", "OFFICE_CANCELLED"),
    ("OFFICE", None, None),                 # nothing paid (yet)
    ("OFFICE", "EXPIRED", None),
    ("APPLICANT", "SETTLED", None),         # PNBP is non-refundable once paid
    ("APPLICANT", None, None),
    ("BILLING_EXPIRED", "EXPIRED", None),
    ("BILLING_EXPIRED", "SETTLED", None),
])
def test_refund_policy(reason, outcome, due):
    assert refund_due(reason, outcome) == due


def test_unknown_cancellation_reason_is_a_contract_violation(world):
    _, db, _, owed, _ = world
    with pytest.raises(ValueError):
        refund_due("WEATHER", "SETTLED")
    with pytest.raises(PermanentError):
        owed.on_cancelled(cancelled("WEATHER"))
    assert db["refunds"].docs == {} and db["cancellations"].docs == {}


# -- office cancellation -----------------------------------------------------------------------
def test_office_cancellation_of_a_paid_billing_records_one_pending_refund(world):
    _, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")
    refund = owed.on_cancelled(cancelled("OFFICE"), "ev-1")
    assert refund.refund_id == f"refund:{billing.code}" and refund.reason == "OFFICE_CANCELLED"
    assert refund.amount == billing.amount
    # Redelivered (same or another event id), and the settlement repeated: still one refund.
    owed.on_cancelled(cancelled("OFFICE"), "ev-1")
    owed.on_cancelled(cancelled("OFFICE"), "ev-2")
    pay(settlements, billing, "R1")
    assert len(db["refunds"].docs) == 1
    [view] = owed.for_application("app-1")
    assert (view.status, view.reason, view.paid_out_at) == ("PENDING", "OFFICE_CANCELLED", None)
    recorded = [e for e in events_of(db, "refunds") if e[0] == "RefundRecorded"]
    assert len(recorded) == 1 and recorded[0][1] == "app-1"
    assert recorded[0][2].amount.amount == billing.amount and recorded[0][2].billing_code == billing.code


def test_cancellation_before_the_money_arrives_is_refunded_when_it_settles(world):
    _, db, settlements, owed, billing = world
    assert owed.on_cancelled(cancelled("OFFICE"), "ev-1") is None
    assert db["refunds"].docs == {}
    pay(settlements, billing, "R1")  # the applicant paid anyway before the deadline
    [view] = owed.for_application("app-1")
    assert view.reason == "OFFICE_CANCELLED" and view.status == "PENDING"


def test_applicant_cancellation_of_a_paid_billing_is_not_refunded(world):
    _, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")
    assert owed.on_cancelled(cancelled("APPLICANT"), "ev-1") is None
    # A later OFFICE event for the same appointment does not overturn the first cancellation.
    assert owed.on_cancelled(cancelled("OFFICE"), "ev-2") is None
    assert db["refunds"].docs == {} and owed.for_application("app-1") == []


def test_cancellation_of_an_unpaid_or_unknown_appointment_refunds_nothing(world):
    _, db, _, owed, _ = world
    assert owed.on_cancelled(cancelled("OFFICE", appointment_id="no-such-hold")) is None
    assert owed.on_cancelled(cancelled("BILLING_EXPIRED")) is None
    assert db["refunds"].docs == {}


def test_consumer_handler_records_the_refund(world):
    _, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")

    class Envelope:
        event_id = "ev-9"
    handlers(owed, settlements)["AppointmentCancelled"](Envelope(), cancelled("OFFICE"))
    assert list(db["refunds"].docs) == [f"refund:{billing.code}"]


def test_a_cancelled_unpaid_billing_is_voided_and_a_late_payment_refunded(world):
    _, db, settlements, owed, billing = world

    class Envelope:
        event_id = "ev-10"
    handlers(owed, settlements)["AppointmentCancelled"](Envelope(), cancelled("APPLICANT"))
    assert settlements.outcome_of(billing.code).kind == "EXPIRED", "voided at once"
    with pytest.raises(DomainError) as late:
        pay(settlements, billing, "R-LATE")
    assert late.value.problem == "billing-cancelled"  # said as it is: cancelled, when, refunded
    assert "cancelled at" in late.value.detail and "refunded" in late.value.detail
    resolved = booking_pb2.LatePaymentResolved(application_id=billing.application_id,
                                               billing_code=billing.code, outcome="REFUND")
    for _ in range(2):  # redelivered: one refund
        handlers(owed, settlements)["LatePaymentResolved"](Envelope(), resolved)
    refunds = owed.for_application(billing.application_id)
    assert [(r.reason, r.amount, r.status) for r in refunds] == [("LATE_PAYMENT", billing.amount, "PENDING")]


# -- payout ------------------------------------------------------------------------------------
def test_mark_paid_moves_pending_to_paid_out_once(world):
    clock, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")
    owed.on_cancelled(cancelled("OFFICE"), "ev-1")
    clock.advance(days=1)
    paid = owed.mark_paid(billing.code, "TRF-1", office_id="TBK", actor="sup-1")
    assert paid.status == "PAID_OUT" and paid.paid_out_at == T0 + dt.timedelta(days=1)
    payout = db["refund_payouts"].docs[f"refund:{billing.code}:paid_out"]
    assert payout["actor"] == "sup-1" and payout["bank_reference"] == "TRF-1"
    assert owed.mark_paid(billing.code, "TRF-1", actor="sup-2").status == "PAID_OUT"  # a repeat
    assert len(db["refund_payouts"].docs) == 1
    with pytest.raises(DomainError) as exc:
        owed.mark_paid(billing.code, "TRF-2")
    assert exc.value.problem == "refund-already-paid-out"
    assert [v.status for v in owed.for_application("app-1")] == ["PAID_OUT"]
    assert owed.list("TBK", "PENDING") == [] and len(owed.list("TBK", "PAID_OUT")) == 1
    assert [e[0] for e in events_of(db, "refund_payouts")] == ["RefundPaidOut"]


def test_overpayment_and_office_refund_of_one_billing_need_a_refund_id(world):
    _, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")
    assert settlements.settle(billing.code, billing.amount, rfc3339(T0), "R2")[0] == "OVERPAYMENT"
    owed.on_cancelled(cancelled("OFFICE"), "ev-1")
    assert sorted(v.reason for v in owed.for_application("app-1")) == ["OFFICE_CANCELLED", "OVERPAYMENT"]
    with pytest.raises(DomainError) as exc:
        owed.mark_paid(billing.code, "TRF-1")
    assert exc.value.problem == "refund-id-required"
    assert owed.mark_paid(billing.code, "TRF-1", refund_id="R2").reason == "OVERPAYMENT"
    # Now only one is pending: it can be named by billing code alone.
    assert owed.mark_paid(billing.code, "TRF-2").reason == "OFFICE_CANCELLED"
    assert {v.status for v in owed.list("TBK")} == {"PAID_OUT"}


@pytest.mark.parametrize("code,ref,office,problem", [
    ("12345", "TRF-1", "", "validation-error"),
    (None, "TRF-1", "", "validation-error"),
    ("BILLING", "", "", "validation-error"),
    ("BILLING", "a b", "", "validation-error"),
    ("BILLING", "TRF-1", "", "refund-not-found"),       # paid, but nothing owed
    ("BILLING", "TRF-1", "JKT", "refund-not-found"),    # another office's refund
])
def test_bad_payouts_are_refused_and_nothing_recorded(world, code, ref, office, problem):
    _, db, settlements, owed, billing = world
    pay(settlements, billing, "R1")
    if office:
        owed.on_cancelled(cancelled("OFFICE"), "ev-1")
    with pytest.raises(DomainError) as exc:
        owed.mark_paid(billing.code if code == "BILLING" else code, ref, office_id=office)
    assert exc.value.problem == problem
    assert db["refund_payouts"].docs == {}


def test_list_validates_status_and_office(world):
    _, _, _, owed, _ = world
    with pytest.raises(DomainError):
        owed.list("TBK", "LOST")
    with pytest.raises(DomainError):
        owed.list("", "")


def test_bank_references_cannot_enter_the_refund_key_space(world):
    _, _, settlements, _, billing = world
    with pytest.raises(DomainError) as exc:
        pay(settlements, billing, f"refund:{billing.code}")
    assert exc.value.problem == "validation-error"
