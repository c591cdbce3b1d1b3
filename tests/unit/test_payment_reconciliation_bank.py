"""Reconciliation settles a line only on the bank's signed word (issue 18): the bank simulator's
status API answers, the adapter verifies its signature, and a file's made-up line changes nothing.
In-memory store, the real simulator on an ephemeral port."""
from __future__ import annotations

import datetime as dt
import hashlib
import socket

import pytest

from passport.v1 import common_pb2, payment_pb2
from servicekit.clock import FixedClock, rfc3339
from servicekit.errors import DomainError
from services.payment.adapters.bank import BankClient
from services.payment.adapters.repositories import Repositories
from services.payment.domain.fees import FeeSchedule
from services.payment.domain.statement import parse_csv
from services.payment.entrypoints.grpc_api import PaymentServicer
from services.payment.usecases.billing import Billings
from services.payment.usecases.reconciliation import reconcile
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements
from tests.unit import bank_sim
from tests.unit.fakemongo import Database as FakeDb
from tests.unit.test_payment_settlements import T0, events_of, fee

PAID_AT = rfc3339(T0 + dt.timedelta(minutes=2))


@pytest.fixture()
def world(tmp_path):
    clock = FixedClock(T0)
    db = FakeDb()
    repos = Repositories.over(db, clock)
    store = Billings(repos, FeeSchedule.load(), clock)
    store.ensure_indexes()
    settlements = Settlements(repos, clock)
    billing = store.issue("hold-1", "app-1", "acc-1", "TBK", fee(), rfc3339(T0 + dt.timedelta(hours=2)))
    with bank_sim.serving(tmp_path / "bank.jsonl") as (url, record):
        yield db, repos, settlements, billing, BankClient(url, 2.0, bank_sim.SECRET), record, url


def statement(*lines) -> str:
    return "bank_reference,billing_code,amount,paid_at\n" + "".join(f"{r},{c},{a},{p}\n" for r, c, a, p in lines)


def outcomes(report, kind="mismatched"):
    return [(i["line"]["bank_reference"], i["outcome"]) for i in report[kind]]


def test_a_made_up_reference_is_refused_and_changes_nothing(world):
    db, _, settlements, billing, bank, _, _ = world
    report = reconcile(settlements, parse_csv(statement(("FAKE-1", billing.code, billing.amount, PAID_AT))),
                       "TBK", bank)
    assert outcomes(report) == [("FAKE-1", "bank-unknown-reference")] and not report["missing_ours"]
    assert settlements.status(billing)[0] == "UNPAID"
    assert not db["payments"].docs and not db["outcomes"].docs


def test_a_real_payment_settles_with_the_banks_paid_at(world):
    _, _, settlements, billing, bank, record, _ = world
    record(billing.code, billing.amount, "REAL-1", PAID_AT)
    edited = rfc3339(T0 + dt.timedelta(minutes=1))  # the file's paid_at is not the one that counts
    report = reconcile(settlements, parse_csv(statement(("REAL-1", billing.code, billing.amount, edited))),
                       "TBK", bank)
    assert outcomes(report, "missing_ours") == [("REAL-1", "SETTLED")]
    status, paid_at = settlements.status(billing)
    assert status == "PAID" and rfc3339(paid_at) == PAID_AT


def test_a_line_that_differs_from_the_bank_is_refused(world):
    db, _, settlements, billing, bank, record, _ = world
    record(billing.code, billing.amount, "REAL-2", PAID_AT)
    record("999999999999999", billing.amount, "OTHER-3", PAID_AT)  # the bank's payment of another code
    report = reconcile(settlements, parse_csv(statement(("REAL-2", billing.code, billing.amount + 1, PAID_AT),
                                                        ("OTHER-3", billing.code, billing.amount, PAID_AT))),
                       "TBK", bank)
    assert outcomes(report) == [("REAL-2", "bank-amount-mismatch"), ("OTHER-3", "bank-amount-mismatch")]
    assert settlements.status(billing)[0] == "UNPAID" and not db["payments"].docs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_bank_that_is_down_or_unsigned_leaves_the_line_for_a_retry(world):
    db, _, settlements, billing, _, record, url = world
    record(billing.code, billing.amount, "REAL-4", PAID_AT)
    text = statement(("REAL-4", billing.code, billing.amount, PAID_AT))
    for bank in (BankClient(f"http://127.0.0.1:{free_port()}", 0.5, bank_sim.SECRET),  # down
                 BankClient(url, 2.0, "another-secret"),  # answers we cannot verify
                 None):  # no bank adapter at all
        report = reconcile(settlements, parse_csv(text), "TBK", bank)
        assert outcomes(report) == [("REAL-4", "bank-unavailable")]
        assert settlements.status(billing)[0] == "UNPAID" and not db["payments"].docs
    # uploaded again once the bank answers: settled
    report = reconcile(settlements, parse_csv(text), "TBK", BankClient(url, 2.0, bank_sim.SECRET))
    assert outcomes(report, "missing_ours") == [("REAL-4", "SETTLED")]


def test_the_adapter_refuses_an_answer_about_another_reference(world):
    *_, record, url = world
    record("123456789012345", 10, "A/B", PAID_AT)  # a reference with a slash is quoted in the path
    bank = BankClient(url, 2.0, bank_sim.SECRET)
    assert bank.confirm("A/B").status == "PAID"
    assert not bank.confirm("A").known
    with pytest.raises(DomainError) as refused:
        BankClient(url, 2.0, "").confirm("A/B")  # no secret: nothing can be trusted
    assert refused.value.problem == "bank-unavailable"


def servicer(repos, settlements, bank):
    clock = settlements.clock
    return PaymentServicer(Billings(repos, FeeSchedule.load(), clock), settlements, bank, Refunds(repos, clock),
                           repos.reconciliations)


def test_reconcile_rpc_is_the_offices_supervisors_and_is_audited_with_the_files_hash(world):
    db, repos, settlements, billing, bank, record, _ = world
    record(billing.code, billing.amount, "REAL-5", PAID_AT)
    text = statement(("REAL-5", billing.code, billing.amount, PAID_AT), ("FAKE-5", billing.code, 1, PAID_AT))
    api = servicer(repos, settlements, bank)
    for caller in (common_pb2.Caller(), common_pb2.Caller(account_id="o", role="OFFICER", office_id="TBK"),
                   common_pb2.Caller(account_id="s", role="SUPERVISOR", office_id="BTM")):
        with pytest.raises(DomainError) as refused:
            api.Reconcile(payment_pb2.ReconcileRequest(csv=text, office_id="TBK", caller=caller), None)
        assert refused.value.kind == "forbidden"
    assert settlements.status(billing)[0] == "UNPAID"
    supervisor = common_pb2.Caller(account_id="sup-1", role="SUPERVISOR", office_id="TBK")
    report = api.Reconcile(payment_pb2.ReconcileRequest(csv=text, office_id="TBK", caller=supervisor), None)
    assert [i.outcome for i in report.missing_ours] == ["SETTLED"]
    assert [i.outcome for i in report.mismatched] == ["bank-unknown-reference"]
    [(kind, key, run)] = events_of(db, "reconciliations")
    assert (kind, key) == ("StatementReconciled", "office:TBK")
    assert (run.actor_account_id, run.actor_role, run.office_id) == ("sup-1", "SUPERVISOR", "TBK")
    assert run.statement_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert (run.lines, run.settled, run.refused) == (2, 1, 1)
