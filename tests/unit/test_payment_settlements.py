"""Settlement, expiry and reconciliation rules of the payment service, on an in-memory store
(unique _id like the real one) and a FixedClock."""
from __future__ import annotations

import datetime as dt

import pytest

from servicekit.clock import FixedClock, rfc3339
from servicekit.errors import DomainError
from servicekit.events import decode
from services.payment.adapters.repositories import Repositories
from services.payment.domain import billing_codes
from services.payment.domain.billing import FeeParameters
from services.payment.domain.fees import FeeSchedule
from services.payment.domain.payments import validate
from services.payment.domain.statement import parse_csv
from services.payment.usecases.billing import Billings
from services.payment.usecases.reconciliation import reconcile
from services.payment.usecases.settlement import Settlements
from services.payment.adapters.bank import BankClient
from tests.unit import bank_sim
from tests.unit.fakemongo import Database as FakeDb

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def fee():
    return FeeParameters(passport_type="ELECTRONIC", validity_years=10, service_type="NEW", express=False)


def settlements_on(db, clock, **options):
    """The settlement use cases over their own repositories of `db` (as another replica would)."""
    return Settlements(Repositories.over(db, clock), clock, **options)


@pytest.fixture()
def world():
    clock = FixedClock(T0)
    db = FakeDb()
    store = Billings(Repositories.over(db, clock), FeeSchedule.load(), clock)
    store.ensure_indexes()
    settlements = settlements_on(db, clock)
    billing = store.issue("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    return clock, db, store, settlements, billing


def events_of(db, collection):
    out = []
    for doc in db[collection].docs.values():
        for ev in doc.get("_outbox", []):
            envelope, payload = decode(bytes(ev["data"]))
            out.append((envelope.event_type, envelope.aggregate_id, payload))
    return out


def pay(settlements, billing, ref, amount=None, paid_at=None):
    return settlements.settle(billing.code, billing.amount if amount is None else amount,
                              rfc3339(paid_at or T0 + dt.timedelta(minutes=5)), ref)


# -- shape -------------------------------------------------------------------------------------
@pytest.mark.parametrize("code,amount,paid_at,ref,field", [
    ("12345", 950000, "2026-03-02T08:00:00+07:00", "R1", "billing_code"),
    (None, 950000, "2026-03-02T08:00:00+07:00", "R1", "billing_code"),
    ("VALID", -5, "2026-03-02T08:00:00+07:00", "R1", "amount"),
    ("VALID", 0, "2026-03-02T08:00:00+07:00", "R1", "amount"),
    ("VALID", 9.5, "2026-03-02T08:00:00+07:00", "R1", "amount"),
    ("VALID", True, "2026-03-02T08:00:00+07:00", "R1", "amount"),
    ("VALID", 950000, "2026-03-02 08:00", "R1", "paid_at"),
    ("VALID", 950000, "2026-03-02T08:00:00+07:00", "", "bank_reference"),
    ("VALID", 950000, "2026-03-02T08:00:00+07:00", "a b", "bank_reference"),
])
def test_malformed_payments_are_refused(code, amount, paid_at, ref, field):
    if code == "VALID":
        code = billing_codes.new_code()
    with pytest.raises(DomainError) as exc:
        validate(code, amount, paid_at, ref)
    assert exc.value.kind == "invalid" and field in [e["field"] for e in exc.value.errors]


def test_unknown_billing_code_is_refused_and_nothing_recorded(world):
    _, db, _, settlements, _ = world
    with pytest.raises(DomainError) as exc:
        settlements.settle(billing_codes.new_code(), 950000, rfc3339(T0), "R1")
    assert exc.value.problem == "unknown-billing-code"
    assert db["payments"].docs == {} and db["outcomes"].docs == {}


# -- settlement --------------------------------------------------------------------------------
def test_payment_settles_once_and_repeats_are_harmless(world):
    _, db, _, settlements, billing = world
    assert settlements.status(billing) == ("UNPAID", None)
    for _ in range(3):
        outcome, _ = pay(settlements, billing, "REF-1")
        assert outcome == "SETTLED"
    assert len(db["outcomes"].docs) == 1
    settled = events_of(db, "outcomes")
    assert [(t, a) for t, a, _ in settled] == [("PaymentSettled", "app-1")]
    payload = settled[0][2]
    assert payload.bank_reference == "REF-1" and payload.amount.amount == billing.amount
    assert payload.appointment_id == "hold-1" and payload.office_id == "TBK"
    assert settlements.status(billing) == ("PAID", T0 + dt.timedelta(minutes=5))


def test_second_payment_is_an_overpayment_for_refund_not_a_second_settlement(world):
    _, db, _, settlements, billing = world
    pay(settlements, billing, "REF-1")
    outcome, _ = pay(settlements, billing, "REF-2")
    assert outcome == "OVERPAYMENT"
    assert pay(settlements, billing, "REF-2")[0] == "OVERPAYMENT"  # its repeat too
    assert db["outcomes"].docs[billing.code]["bank_reference"] == "REF-1"
    assert list(db["refunds"].docs) == ["REF-2"] and db["refunds"].docs["REF-2"]["status"] == "PENDING"
    assert [t for t, _, _ in events_of(db, "refunds")] == ["OverpaymentRecorded"]
    assert len(events_of(db, "outcomes")) == 1


def test_reused_bank_reference_with_other_content_is_a_conflict(world):
    clock, db, store, settlements, billing = world
    pay(settlements, billing, "REF-1")
    other = store.issue("hold-2", "app-2", "acc-2", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    with pytest.raises(DomainError) as exc:
        pay(settlements, other, "REF-1")
    assert exc.value.problem == "bank-reference-reused"
    assert other.code not in db["outcomes"].docs


def test_amount_mismatch_is_recorded_and_does_not_settle(world):
    _, db, _, settlements, billing = world
    with pytest.raises(DomainError) as exc:
        pay(settlements, billing, "REF-1", amount=billing.amount - 1)
    assert exc.value.kind == "invalid" and exc.value.problem == "amount-mismatch"
    assert db["mismatches"].docs["REF-1"]["expected"] == billing.amount
    assert db["outcomes"].docs == {}
    assert settlements.status(billing)[0] == "UNPAID"
    refund = db["refunds"].docs["REF-1"]  # the money received goes back in full
    assert (refund["reason"], refund["status"], refund["amount"]) == ("AMOUNT_MISMATCH", "PENDING", billing.amount - 1)
    with pytest.raises(DomainError):  # the bank repeats its notification: still one refund
        pay(settlements, billing, "REF-1", amount=billing.amount - 1)
    assert len(db["refunds"].docs) == 1
    assert settlements.settle(billing.code, billing.amount, rfc3339(billing.issued_at), "REF-2")[0] == "SETTLED"


# -- expiry ------------------------------------------------------------------------------------
def test_sweeper_expires_unpaid_billing_exactly_once(world):
    clock, db, _, settlements, billing = world
    assert settlements.sweep() == 0
    clock.advance(hours=2)
    assert settlements.status(billing)[0] == "EXPIRED"
    assert settlements.sweep() == 1
    assert settlements.sweep() == 0 and settlements.sweep(lookback=None) == 0  # e.g. another replica
    assert [(t, a) for t, a, _ in events_of(db, "outcomes")] == [("BillingExpired", "app-1")]
    assert settlements.status(billing) == ("EXPIRED", None)


def test_the_expiry_queue_expires_each_billing_once_after_its_window_without_scanning(world):
    clock, db, store, settlements, billing = world
    later = store.issue("hold-2", "app-2", "acc-2", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2, minutes=1)))
    assert settlements.sweep_due() == 0  # the first call starts at the current window
    lookup = db["billings"].find

    def by_id_only(query=None, projection=None):  # from here on, a scan of the billings fails the test
        assert list(query or {}) == ["_id"] and not isinstance(query["_id"], dict), f"scan: {query}"
        return lookup(query, projection)
    db["billings"].find = by_id_only
    clock.advance(hours=2, seconds=5)  # the first deadline passed, its 10 s window not yet over
    assert settlements.sweep_due() == 0
    clock.advance(seconds=10)
    assert settlements.sweep_due() == 1 and settlements.status(billing)[0] == "EXPIRED"
    assert settlements.status(later)[0] == "UNPAID" and settlements.sweep_due() == 0
    clock.advance(minutes=1)
    assert settlements.sweep_due() == 1  # the second one, once
    other_replica = settlements_on(db, clock)
    other_replica._windows._next = settlements._windows._next - 20
    assert other_replica.sweep_due() == 0  # the same windows again: decided already
    assert [t for t, _, _ in events_of(db, "outcomes")] == ["BillingExpired", "BillingExpired"]


def test_a_stray_expiry_entry_expires_nothing_early(world):
    clock, db, store, settlements, billing = world
    window_of = store.expiry_queue.queue.window_of
    settlements.sweep_due()
    store.expiry_queue.add(billing.code, T0 + dt.timedelta(seconds=20))  # e.g. a code drawn twice
    store.expiry_queue.add("000000000000000", T0 + dt.timedelta(seconds=20))  # its billing never written
    clock.advance(minutes=1)
    assert window_of(T0 + dt.timedelta(seconds=20)) < window_of(clock.now()) - 1
    assert settlements.sweep_due() == 0 and settlements.status(billing)[0] == "UNPAID"


def test_sweep_after_downtime_catches_old_deadlines(world):
    clock, db, _, settlements, billing = world
    clock.advance(days=5)
    assert settlements.sweep() == 0  # beyond the regular lookback window
    assert settlements.sweep(lookback=None) == 1  # the start-up pass


def test_payment_after_expiry_is_late_and_recorded_for_booking(world):
    clock, db, _, settlements, billing = world
    clock.advance(hours=3)
    settlements.sweep()
    with pytest.raises(DomainError) as exc:
        pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(minutes=90))
    assert exc.value.problem == "billing-expired"
    assert list(db["late_payments"].docs) == ["REF-1"]
    assert [t for t, _, _ in events_of(db, "late_payments")] == ["LatePaymentReceived"]
    assert db["outcomes"].docs[billing.code]["kind"] == "EXPIRED"
    assert not [t for t, _, _ in events_of(db, "outcomes") if t == "PaymentSettled"]


def test_payment_made_after_the_deadline_expires_the_billing_itself(world):
    clock, db, _, settlements, billing = world
    clock.advance(hours=2, minutes=1)  # the sweeper has not run yet
    with pytest.raises(DomainError) as exc:
        pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(hours=2, seconds=30))
    assert exc.value.problem == "billing-expired"
    assert [t for t, _, _ in events_of(db, "outcomes")] == ["BillingExpired"]
    assert list(db["late_payments"].docs) == ["REF-1"]


def test_timely_payment_arriving_before_the_sweep_still_settles(world):
    clock, db, _, settlements, billing = world
    clock.advance(hours=2, seconds=5)
    assert pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(hours=1, minutes=59))[0] == "SETTLED"
    assert settlements.sweep() == 0
    assert [t for t, _, _ in events_of(db, "outcomes")] == ["PaymentSettled"]


def test_grace_period_delays_expiry(world):
    clock, db, _, _, billing = world
    graceful = settlements_on(db, clock, expiry_grace=dt.timedelta(minutes=10))
    clock.advance(hours=2, minutes=5)
    assert graceful.status(billing)[0] == "UNPAID" and graceful.sweep() == 0
    clock.advance(minutes=5)
    assert graceful.sweep() == 1


# -- reconciliation ----------------------------------------------------------------------------
@pytest.fixture()
def bank(tmp_path):
    """The bank simulator and the adapter that asks it: (BankClient, record)."""
    with bank_sim.serving(tmp_path / "bank.jsonl") as (url, record):
        yield BankClient(url, 2.0, bank_sim.SECRET), record


def test_reconciliation_reports_and_settles_what_we_missed(world, bank):
    clock, db, store, settlements, billing = world
    client, record = bank
    b2 = store.issue("hold-2", "app-2", "acc-2", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    b3 = store.issue("hold-3", "app-3", "acc-3", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(minutes=1))
    pay(settlements, b3, "REF-3", paid_at=T0 + dt.timedelta(minutes=3))  # not in the bank's statement
    with pytest.raises(DomainError):
        pay(settlements, b3, "REF-4", amount=1, paid_at=T0 + dt.timedelta(minutes=4))
    csv_text = "bank_reference,billing_code,amount,paid_at\n" + "\n".join([
        f"REF-1,{billing.code},{billing.amount},{rfc3339(T0 + dt.timedelta(minutes=1))}",
        f"REF-2,{b2.code},{b2.amount},{rfc3339(T0 + dt.timedelta(minutes=2))}",
        f"REF-4,{b3.code},1,{rfc3339(T0 + dt.timedelta(minutes=4))}",
        f"REF-5,{billing_codes.new_code()},5,{rfc3339(T0 + dt.timedelta(minutes=5))}",
        "REF-6,x,notanumber,2026-03-02T08:00:00+07:00"])
    record(b2.code, b2.amount, "REF-2", rfc3339(T0 + dt.timedelta(minutes=2)))  # the bank has it
    report = reconcile(settlements, parse_csv(csv_text), bank=client)
    refs = {k: [i["line"]["bank_reference"] for i in v] for k, v in report.items()}
    assert refs["matched"] == ["REF-1"]
    assert refs["missing_ours"] == ["REF-2"] and report["missing_ours"][0]["outcome"] == "SETTLED"
    assert refs["missing_bank"] == ["REF-3"]
    assert sorted(refs["mismatched"]) == ["REF-4", "REF-5", "REF-6"]
    assert settlements.status(b2)[0] == "PAID"  # settled through reconciliation
    again = reconcile(settlements, parse_csv(csv_text), bank=client)
    assert [i["line"]["bank_reference"] for i in again["matched"]] == ["REF-1", "REF-2"]


def test_statement_without_required_columns_is_refused():
    with pytest.raises(DomainError):
        parse_csv("reference,amount\nR,1\n")


def test_office_reconciliation_keeps_unknown_codes_and_hides_other_offices(world):
    clock, db, store, settlements, billing = world
    other = store.issue("hold-9", "app-9", "acc-9", "BTM", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(minutes=1))
    pay(settlements, other, "REF-9", paid_at=T0 + dt.timedelta(minutes=2))
    unknown = billing_codes.new_code()
    csv_text = "bank_reference,billing_code,amount,paid_at\n" + "\n".join([
        f"REF-1,{billing.code},{billing.amount},{rfc3339(T0 + dt.timedelta(minutes=1))}",
        f"REF-9,{other.code},{other.amount},{rfc3339(T0 + dt.timedelta(minutes=2))}",
        f"REF-7,{unknown},950000,{rfc3339(T0 + dt.timedelta(minutes=3))}",
        f"REF-9,{billing.code},{billing.amount},{rfc3339(T0 + dt.timedelta(minutes=2))}"])
    report = reconcile(settlements, parse_csv(csv_text), office_id="TBK")
    refs = {k: [i["line"]["bank_reference"] for i in v] for k, v in report.items()}
    assert refs["matched"] == ["REF-1"]
    # money paid against no billing of ours is reported, not dropped from the office's view
    assert ("REF-7", "unknown-billing-code") in [(i["line"]["bank_reference"], i["outcome"])
                                                 for i in report["mismatched"]]
    # another office's line is left out, and its billing is never named to this office
    assert refs["mismatched"] == ["REF-7", "REF-9"] and other.code not in str(report)
    assert refs["missing_ours"] == [] and refs["missing_bank"] == []
    assert db["payments"].docs.keys() == {"REF-1", "REF-9"}  # nothing settled from the unknown line


def test_issuing_is_idempotent_per_appointment_and_lists_items(world):
    clock, db, store, _settlements, billing = world
    again = store.issue("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=5)))
    assert again.code == billing.code and again.expires_at == T0 + dt.timedelta(hours=2)
    assert len(db["billings"].docs) == 1
    [(kind, aggregate, issued)] = events_of(db, "billings")
    assert (kind, aggregate, issued.billing_code, issued.appointment_id) == ("BillingIssued", "app-1", billing.code, "hold-1")
    assert issued.expires_at == rfc3339(T0 + dt.timedelta(hours=2))  # the seat hold's deadline, as booking sent it
    express_lost = FeeParameters(passport_type="ORDINARY", validity_years=5,
                                 service_type="REPLACEMENT_LOST", express=True)
    other = store.issue("hold-2", "app-2", "acc-2", "TBK", express_lost, rfc3339(T0 + dt.timedelta(hours=2)))
    assert [(i.code, i.amount) for i in other.items] == [
        ("PASPOR_ORDINARY_5Y", 350_000), ("LAYANAN_PERCEPATAN", 1_000_000), ("DENDA_REPLACEMENT_LOST", 1_000_000)]
    assert other.amount == 2_350_000 and other.code != billing.code


def test_a_billing_issued_by_this_call_is_unpaid_without_an_outcome_lookup_and_a_repeat_is_not_fresh(world):
    clock, db, store, settlements, billing = world
    record, fresh = store.issue_fresh("hold-7", "app-7", "acc-7", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    assert fresh
    settlements.outcome_of = lambda code: pytest.fail("a fresh billing has no outcome to look up")
    assert settlements.status(record, fresh=True) == ("UNPAID", None)
    again, fresh_again = store.issue_fresh("hold-7", "app-7", "acc-7", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=3)))
    assert again.code == record.code and not fresh_again


def test_a_claim_left_by_a_call_that_died_before_its_billing_is_issued_under_the_claimed_code(world):
    clock, db, store, settlements, billing = world
    db["billing_claims"].insert_one({"_id": "hold-8", "code": "123456789012345"})  # the call died here
    record, fresh = store.issue_fresh("hold-8", "app-8", "acc-8", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    assert fresh and record.code == "123456789012345"
    again, fresh_again = store.issue_fresh("hold-8", "app-8", "acc-8", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    assert again.code == record.code and not fresh_again
    assert [b["_id"] for b in db["billings"].find({"appointment_id": "hold-8"})] == [record.code]


def test_a_code_that_collides_with_another_billing_is_given_up_and_a_new_one_drawn(world, monkeypatch):
    clock, db, store, settlements, billing = world
    codes = iter([billing.code, "223456789012345"])  # first draw: hold-1's code
    monkeypatch.setattr(billing_codes, "new_code", lambda: next(codes))
    record, fresh = store.issue_fresh("hold-9", "app-9", "acc-9", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    assert fresh and record.code == "223456789012345" and record.appointment_id == "hold-9"
    assert db["billing_claims"].find_one({"_id": "hold-9"})["code"] == "223456789012345"
    assert db["billings"].find_one({"_id": billing.code})["appointment_id"] == "hold-1"  # untouched


def test_a_billing_issued_before_claims_came_first_is_found_and_its_claim_written(world):
    clock, db, store, settlements, billing = world
    db["billing_claims"].delete_one({"_id": "hold-1"})  # the old order wrote the claim after the billing
    again, fresh = store.issue_fresh("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    assert again.code == billing.code and not fresh
    assert db["billing_claims"].find_one({"_id": "hold-1"})["code"] == billing.code


def test_a_paid_at_far_in_the_future_is_refused_and_changes_nothing(world):
    _clock, db, _, settlements, billing = world
    for ahead in (dt.timedelta(minutes=5, seconds=1), dt.timedelta(days=365)):
        with pytest.raises(DomainError) as exc:
            pay(settlements, billing, "REF-FUTURE", paid_at=T0 + ahead)
        assert exc.value.kind == "invalid" and [e["field"] for e in exc.value.errors] == ["paid_at"]
    assert db["payments"].docs == {} and db["outcomes"].docs == {} and db["late_payments"].docs == {}
    assert settlements.status(billing) == ("UNPAID", None)
    # within the skew (the bank's clock a little ahead) it is an ordinary payment
    assert pay(settlements, billing, "REF-1", paid_at=T0 + dt.timedelta(minutes=4))[0] == "SETTLED"


def test_the_paid_at_skew_is_configurable():
    code, now = billing_codes.new_code(), T0
    assert validate(code, 950000, rfc3339(now + dt.timedelta(minutes=9)), "R1", now, dt.timedelta(minutes=10))
    with pytest.raises(DomainError):
        validate(code, 950000, rfc3339(now + dt.timedelta(minutes=9)), "R1", now)
