"""The audit hash chain (pure check_chain, and AuditLog.append with a tiny in-memory collection)
and the statistics tabulation."""
from __future__ import annotations

import datetime as dt

import pytest
from pymongo.errors import DuplicateKeyError

from passport.v1 import common_pb2
from servicekit.clock import FixedClock
from servicekit.errors import DomainError
from services.booking.adapters import audit
from services.booking.domain import statistics


class FakeCollection:
    """Just enough of a pymongo collection for AuditLog: unique _id insert, find_one by _id."""

    def __init__(self, race_once: dict | None = None):
        self.docs: dict[str, dict] = {}
        self.race_once = race_once  # a document another appender inserts just before our first insert

    def insert_one(self, doc):
        if self.race_once is not None:
            other, self.race_once = self.race_once, None
            self.docs[other["_id"]] = other
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("dup")
        self.docs[doc["_id"]] = dict(doc)

    def find_one(self, query, projection=None):
        doc = self.docs.get(query["_id"])
        return dict(doc) if doc is not None else None

    def in_order(self):
        return [dict(self.docs[k]) for k in sorted(self.docs)]


SUPERVISOR = common_pb2.Caller(account_id="acc_sup", role="SUPERVISOR", office_id="TBK")


def make_log(coll):
    log = audit.AuditLog({"audit_log": coll}, FixedClock(dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.timezone.utc)))
    return log


def test_entries_chain_by_hash_and_sequence():
    coll = FakeCollection()
    log = make_log(coll)
    for i in range(5):
        log.append(SUPERVISOR, "QUOTA_SET", "TBK", {"capacity": i, "reason": "staff sick"})
    docs = coll.in_order()
    assert [d["seq"] for d in docs] == [1, 2, 3, 4, 5]
    assert [d["_id"] for d in docs] == [f"{n:012d}" for n in range(1, 6)]
    assert docs[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(docs, docs[1:]))
    assert audit.check_chain(docs) == {"ok": True, "entries": 5, "first_broken_seq": 0, "reason": ""}


def test_a_new_process_finds_the_tail_with_few_id_lookups():
    coll = FakeCollection()
    first = make_log(coll)
    for n in range(300):
        first.append(SUPERVISOR, "QUOTA_SET", "TBK", {"n": n})
    lookups = []
    original = coll.find_one
    coll.find_one = lambda query, projection=None: lookups.append(query["_id"]) or original(query, projection)
    restarted = make_log(coll)  # knows nothing: probes 1, 2, 4, ... 256, 512, then bisects
    entry = restarted.append(SUPERVISOR, "QUOTA_SET", "TBK", {"n": 300})
    assert entry["seq"] == 301 and entry["prev_hash"] == coll.docs[f"{300:012d}"]["hash"]
    assert len(lookups) <= 2 * 10 + 2  # O(log n), not a read of the whole log
    assert audit.check_chain(coll.in_order())["ok"]


def test_a_lost_race_for_the_next_number_retries_on_the_new_tail():
    first = FakeCollection()
    make_log(first).append(SUPERVISOR, "QUOTA_SET", "TBK", {"n": 1})
    rival = make_log(FakeCollection())
    rival.entries.docs = dict(first.docs)
    other = rival.append(SUPERVISOR, "BALLOT_CREATED", "TBK", {"n": 2})
    coll = FakeCollection(race_once=dict(rival.entries.docs[f"{2:012d}"]))
    coll.docs = dict(first.docs)
    mine = make_log(coll).append(SUPERVISOR, "QUOTA_SET", "TBK", {"n": 3})
    assert mine["seq"] == 3 and mine["prev_hash"] == other["hash"]
    assert audit.check_chain(coll.in_order())["ok"]


@pytest.mark.parametrize("tamper, reason", [
    (lambda d: d[2]["details"].update(capacity=999), "content"),
    (lambda d: d.pop(2), "missing"),
    (lambda d: d[2].update(prev_hash="f" * 64), "prev_hash"),
    (lambda d: d[2].update(action="NOTHING"), "content"),
])
def test_tampering_is_reported_at_the_first_broken_entry(tamper, reason):
    coll = FakeCollection()
    log = make_log(coll)
    for i in range(6):
        log.append(SUPERVISOR, "QUOTA_SET", "TBK", {"capacity": i})
    docs = coll.in_order()
    tamper(docs)
    report = audit.check_chain(docs)
    assert report["ok"] is False and report["first_broken_seq"] == 3
    assert reason in report["reason"]


def test_rehashing_a_changed_entry_still_breaks_the_next_link():
    coll = FakeCollection()
    log = make_log(coll)
    for i in range(4):
        log.append(SUPERVISOR, "QUOTA_SET", "TBK", {"capacity": i})
    docs = coll.in_order()
    docs[1]["details"] = {"capacity": 50}
    docs[1]["hash"] = audit.entry_hash(docs[1])
    assert audit.check_chain(docs)["first_broken_seq"] == 3


# -- statistics ------------------------------------------------------------------------------
def test_statistics_ranges_are_validated():
    for start, end, group, field in [("2026-05-10", "2026-05-01", "day", "from"),
                                     ("2026-01-01", "2027-01-02", "day", "to"),
                                     ("2026-13-01", "2026-05-01", "day", "from"),
                                     ("2026-05-01", "2026-05-02", "week", "group")]:
        with pytest.raises(DomainError) as err:
            statistics.parse_range(start, end, group)
        assert err.value.kind == "invalid" and err.value.errors[0]["field"] == field
    assert statistics.parse_range("2026-01-01", "2026-12-31", "")[2] == "day"  # 365 days is fine


def test_statistics_count_on_the_appointment_day_and_group():
    start, end = dt.date(2026, 4, 29), dt.date(2026, 5, 2)
    offered = {"2026-04-29": 10, "2026-04-30": 10, "2026-05-01": 5, "2026-05-05": 99}
    reached = {"a": {"AWAITING_PAYMENT", "PAID", "CHECKED_IN", "ISSUED"}, "b": {"AWAITING_PAYMENT"},
               "c": {"AWAITING_PAYMENT", "PAID", "NO_SHOW"}, "d": {"AWAITING_PAYMENT", "PAID"}}
    days = {"a": "2026-04-30", "b": "2026-04-30", "c": "2026-05-01", "d": "2026-06-01"}
    rows = statistics.tabulate(start, end, "day", offered, reached, days)
    assert [r["period"] for r in rows] == ["2026-04-29", "2026-04-30", "2026-05-01", "2026-05-02"]
    assert rows[1] == {"period": "2026-04-30", "offered": 10, "booked": 2, "paid": 1, "checked_in": 1,
                       "no_show": 0, "issued": 1}
    assert rows[2]["no_show"] == 1 and rows[3]["offered"] == 0
    months = statistics.tabulate(start, end, "month", offered, reached, days)
    assert [(m["period"], m["offered"], m["booked"], m["paid"]) for m in months] == [
        ("2026-04", 20, 2, 1), ("2026-05", 5, 1, 1)]
    assert statistics.periods(dt.date(2025, 12, 30), dt.date(2026, 1, 2), "year") == ["2025", "2026"]


def test_a_fact_from_another_service_is_audited_once_however_often_it_is_delivered():
    """Issue 16: refunds paid (payment's RefundPaidOut) go into the chain, once per event."""
    from services.booking.entrypoints import kafka_handlers as reactions
    from passport.v1 import common_pb2 as common, payment_pb2

    class Envelope:
        event_id = "ev-refund-1"
    coll = FakeCollection()
    log = make_log(coll)
    paid = payment_pb2.RefundPaidOut(refund_id="refund:8123", billing_code="812345678901234", application_id="app-1",
                                     office_id="TBK", reason="OFFICE_CANCELLED",
                                     amount=common.Money(amount=650000, currency="IDR"), actor_account_id="acc_sup",
                                     bank_reference="TRF-1")
    handle = reactions.handlers(apps=None, audit=log)["RefundPaidOut"]
    for _ in range(3):
        handle(Envelope(), paid)
    log.append(SUPERVISOR, "QUOTA_SET", "TBK", {"capacity": 1, "reason": "x"})
    handle(Envelope(), paid)  # redelivered after another entry
    docs = coll.in_order()
    assert [d["action"] for d in docs] == ["REFUND_PAID_OUT", "QUOTA_SET"]
    assert docs[0]["actor_account_id"] == "acc_sup" and docs[0]["details"]["amount"] == 650000
    assert audit.check_chain(docs)["ok"]


def test_a_reconciled_statement_is_audited_with_its_supervisor_and_hash():
    """Issue 18: who reconciled which file (payment's StatementReconciled) is in the chain, once."""
    from services.booking.entrypoints import kafka_handlers as reactions
    from passport.v1 import payment_pb2

    class Envelope:
        event_id = "ev-reconciled-1"
    coll = FakeCollection()
    log = make_log(coll)
    run = payment_pb2.StatementReconciled(reconciliation_id="r1", office_id="TBK", actor_account_id="acc_sup",
                                          actor_role="SUPERVISOR", statement_sha256="ab" * 32, lines=3, settled=1,
                                          refused=2, reconciled_at="2026-03-02T01:00:00Z")
    handle = reactions.handlers(apps=None, audit=log)["StatementReconciled"]
    handle(Envelope(), run)
    handle(Envelope(), run)  # redelivered
    [doc] = coll.in_order()
    assert (doc["action"], doc["actor_account_id"], doc["actor_role"], doc["office_id"]) == (
        "STATEMENT_RECONCILED", "acc_sup", "SUPERVISOR", "TBK")
    assert doc["details"]["statement_sha256"] == "ab" * 32 and doc["details"]["refused"] == 2


def test_counter_actions_of_biometrics_events_are_audited_once_each():
    """Issue 16: the photo override, fingers recorded missing, the supervisor's approval (in
    BiometricsCaptured) and the interview (InterviewCompleted) each become one entry, however often
    the events are delivered; a delivery that stopped half-way is completed, not doubled."""
    from services.booking.entrypoints import kafka_handlers as reactions
    from passport.v1 import biometrics_pb2

    class Envelope:
        def __init__(self, event_id):
            self.event_id = event_id

    class Apps:
        def __init__(self):
            self.advanced = []

        def advance(self, application_id, from_statuses, to_status, note):
            self.advanced.append(to_status)

    coll, apps = FakeCollection(), Apps()
    log = make_log(coll)
    captured = biometrics_pb2.BiometricsCaptured(
        application_id="app-1", account_id="acc-1", office_id="TBK", outcome="CAPTURED", fingers_missing=[1, 2],
        photo_overridden=True, counter_actions=[
            biometrics_pb2.CounterAction(action="PHOTO_OVERRIDDEN", actor_id="off-1", actor_role="OFFICER",
                                         at="2026-05-04T02:00:00+00:00", capture_id="c-1", reason="camera fault",
                                         failed_checks=["sharpness"]),
            biometrics_pb2.CounterAction(action="FINGER_RECORDED_MISSING", actor_id="off-1", actor_role="OFFICER",
                                         at="2026-05-04T02:01:00+00:00", capture_id="c-2", finger=1, reason="AMPUTATED"),
            biometrics_pb2.CounterAction(action="FINGER_RECORDED_MISSING", actor_id="off-1", actor_role="OFFICER",
                                         at="2026-05-04T02:01:00+00:00", capture_id="c-3", finger=2, reason="AMPUTATED"),
            biometrics_pb2.CounterAction(action="MISSING_FINGERS_APPROVED", actor_id="acc_sup", actor_role="SUPERVISOR",
                                         at="2026-05-04T02:02:00+00:00", reason="both hands")])
    handle = reactions.handlers(apps=apps, audit=log)
    # a first delivery that crashed after two of its four entries
    log.append_each_once([(common_pb2.Caller(account_id="off-1", role="OFFICER"), "PHOTO_OVERRIDDEN",
                           reactions.counter_action_details("app-1", captured.counter_actions[0])),
                          (common_pb2.Caller(account_id="off-1", role="OFFICER"), "FINGER_RECORDED_MISSING",
                           reactions.counter_action_details("app-1", captured.counter_actions[1]))],
                         "TBK", source="ev-captured")
    for _ in range(2):
        handle["BiometricsCaptured"](Envelope("ev-captured"), captured)
    done = biometrics_pb2.InterviewCompleted(application_id="app-1", account_id="acc-1", office_id="TBK",
                                             outcome="APPROVED", officer_id="off-2")
    for _ in range(2):
        handle["InterviewCompleted"](Envelope("ev-interview"), done)
    docs = coll.in_order()
    assert [(d["action"], d["actor_account_id"], d["actor_role"]) for d in docs] == [
        ("PHOTO_OVERRIDDEN", "off-1", "OFFICER"), ("FINGER_RECORDED_MISSING", "off-1", "OFFICER"),
        ("FINGER_RECORDED_MISSING", "off-1", "OFFICER"), ("MISSING_FINGERS_APPROVED", "acc_sup", "SUPERVISOR"),
        ("INTERVIEW_RECORDED", "off-2", "OFFICER")]
    assert docs[0]["details"] == {"application_id": "app-1", "recorded_at": "2026-05-04T02:00:00+00:00",
                                  "reason": "camera fault", "capture_id": "c-1", "failed_checks": ["sharpness"],
                                  "source_event": "ev-captured"}
    assert [d["details"].get("finger") for d in docs[1:3]] == [1, 2]
    assert docs[4]["details"]["outcome"] == "APPROVED" and all(d["office_id"] == "TBK" for d in docs)
    assert audit.check_chain(docs)["ok"]
    assert apps.advanced.count("APPROVED") == 2  # the status change itself is booking's own idempotent step
