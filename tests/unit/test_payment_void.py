"""A billing whose booking attempt was never recorded (BookingAbandoned) is never payable: it is
voided, or never issued, and money paid for it goes back in full (issue 22), on the in-memory store."""
from __future__ import annotations

import pytest

from passport.v1 import booking_pb2
from servicekit.clock import FixedClock
from servicekit.errors import DomainError
from services.payment.adapters.repositories import Repositories
from services.payment.domain.fees import FeeSchedule
from services.payment.entrypoints.events import handlers
from services.payment.usecases.billing import Billings
from tests.unit.test_payment_refunds import world  # noqa: F401 (fixture)
from tests.unit.test_payment_settlements import T0, events_of, fee, pay


class Envelope:
    event_id = "ev-abandoned"


def abandoned(hold="hold-1"):
    return booking_pb2.BookingAbandoned(application_id="app-1", account_id="acc-1", office_id="TBK",
                                        appointment_id=hold)


def test_an_abandoned_attempt_voids_its_billing_and_a_payment_of_it_is_refunded_never_applied(world):
    _, db, settlements, owed, billing = world
    for _ in range(2):  # redelivered: one decision
        handlers(owed, settlements)["BookingAbandoned"](Envelope(), abandoned())
    outcome = settlements.outcome_of(billing.code)
    assert (outcome.kind, outcome.void_reason) == ("EXPIRED", "BOOKING_NOT_COMPLETED")
    assert [e[0] for e in events_of(db, "outcomes")] == ["BillingVoided"]
    with pytest.raises(DomainError) as refused:
        pay(settlements, billing, "R-PHANTOM")
    assert refused.value.problem == "billing-void" and "refunded in full" in refused.value.detail
    assert settlements.status(billing)[0] == "EXPIRED"
    assert not [e for e in events_of(db, "outcomes") if e[0] == "PaymentSettled"]
    refunds = owed.for_application("app-1")
    assert [(r.reason, r.amount) for r in refunds] == [("BOOKING_NOT_COMPLETED", billing.amount)]
    with pytest.raises(DomainError):  # the bank repeats its notification: still one refund
        pay(settlements, billing, "R-PHANTOM")
    assert len(owed.for_application("app-1")) == 1


def test_an_attempt_abandoned_before_its_billing_never_gets_one(world):
    _, db, settlements, owed, _ = world
    handlers(owed, settlements)["BookingAbandoned"](Envelope(), abandoned("hold-2"))
    store = Billings(Repositories.over(db, FixedClock(T0)), FeeSchedule.load(), FixedClock(T0))
    with pytest.raises(DomainError) as refused:  # IssueBilling arriving after the abandonment
        store.issue("hold-2", "app-1", "acc-1", "TBK", fee(), "2026-03-02T12:00:00+07:00")
    assert refused.value.problem == "appointment-abandoned"
    assert not [b for b in db["billings"].docs.values() if b["appointment_id"] == "hold-2"]


def test_a_billing_paid_before_its_void_is_refunded(world):
    _, db, settlements, owed, billing = world
    assert pay(settlements, billing, "R-EARLY")[0] == "SETTLED"
    handlers(owed, settlements)["BookingAbandoned"](Envelope(), abandoned())
    assert settlements.outcome_of(billing.code).kind == "SETTLED"  # the first decision stands
    refunds = owed.for_application("app-1")
    assert [(r.reason, r.amount) for r in refunds] == [("BOOKING_NOT_COMPLETED", billing.amount)]



def test_reconciliation_lists_a_payment_of_a_void_billing_for_follow_up(world, tmp_path):
    from services.payment.adapters.bank import BankClient
    from services.payment.usecases.reconciliation import reconcile
    from tests.unit import bank_sim
    _, _, settlements, owed, billing = world
    handlers(owed, settlements)["BookingAbandoned"](Envelope(), abandoned())
    with pytest.raises(DomainError):
        pay(settlements, billing, "R-VOID")
    line = {"bank_reference": "R-VOID", "billing_code": billing.code, "amount": billing.amount,
            "paid_at": "2026-03-02T08:05:00+07:00"}
    report = reconcile(settlements, [line])
    assert [i["outcome"] for i in report["mismatched"]] == ["VOID"] and not report["matched"]
    unseen = dict(line, bank_reference="R-VOID-2")  # a payment the notification never told us of
    with bank_sim.serving(tmp_path / "bank.jsonl") as (url, record):
        record(billing.code, billing.amount, "R-VOID-2", unseen["paid_at"])  # the bank confirms it
        report = reconcile(settlements, [unseen], bank=BankClient(url, 2.0, bank_sim.SECRET))
    assert [i["outcome"] for i in report["mismatched"]] == ["billing-void"]


def test_a_billing_just_issued_is_answered_without_reading_the_refunds(world):
    from passport.v1 import payment_pb2
    from services.payment.entrypoints.grpc_api import PaymentServicer
    _, db, settlements, owed, billing = world
    handlers(owed, settlements)["BookingAbandoned"](Envelope(), abandoned())
    with pytest.raises(DomainError):  # paid all the same: app-1 is owed a refund
        pay(settlements, billing, "R-PHANTOM")
    servicer = PaymentServicer(Billings(Repositories.over(db, FixedClock(T0)), FeeSchedule.load(), FixedClock(T0)),
                               settlements, bank=None, refunds=owed, reconciliations=None)
    looked_up = []
    owed.repo.for_application = lambda application_id, scan=owed.repo.for_application: looked_up.append(1) or scan(
        application_id)
    request = payment_pb2.IssueBillingRequest(
        appointment_id="hold-9", application_id="app-1", account_id="acc-1", office_id="TBK",
        fee=payment_pb2.FeeParameters(passport_type="ORDINARY", validity_years=5, service_type="NEW"),
        expires_at="2026-03-02T12:00:00+07:00")
    fresh = servicer.IssueBilling(request, None)
    assert fresh.status == "UNPAID" and list(fresh.refunds) == [] and looked_up == []
    again = servicer.IssueBilling(request, None)  # a retry answers the billing as GetBilling would
    assert again.billing_code == fresh.billing_code and [r.reason for r in again.refunds] == ["BOOKING_NOT_COMPLETED"]
    assert [r.reason for r in servicer.GetBilling(payment_pb2.GetBillingRequest(application_id="app-1"), None).refunds] \
        == ["BOOKING_NOT_COMPLETED"]
