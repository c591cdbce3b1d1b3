"""Escalation of SLA breaches with an injectable clock across a weekend and a national holiday
(domain, on the in-memory store): each breach escalates to the head of office exactly once,
carrying ComplaintEscalated in its outbox; an answered complaint does not escalate its first response."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from passport.v1 import common_pb2
from servicekit.clock import FixedClock
from servicekit.config import DEMO_SECRETS
from servicekit.crypto import KeyRing
from servicekit.events import decode
from services.complaint.adapters import calendars
from services.complaint.adapters.repository import ComplaintRepository
from services.complaint.usecases.complaints import Complaints
from tests.unit.fakemongo import Database as FakeDb

CALENDARS = calendars.load(Path(__file__).resolve().parents[2] / "services" / "booking" / "offices.json")
WIB = ZoneInfo("Asia/Jakarta")
OFFICER = common_pb2.Caller(account_id="officer-tbk", role="OFFICER", office_id="TBK")


def escalations(store) -> list[tuple[str, str]]:
    out = []
    for record in store.repository.escalations.docs.values():
        (event,) = record["_outbox"]
        envelope, payload = decode(bytes(event["data"]))
        assert envelope.event_type == "ComplaintEscalated" and payload.office_id == "TBK"
        out.append((payload.complaint_id, payload.kind))
    return sorted(out)


def test_breaches_escalate_once_each_counting_only_working_days():
    # Friday 9 Jan 2026, 16:00 in Jakarta; Fri 16 Jan is a national holiday
    clock = FixedClock(dt.datetime(2026, 1, 9, 16, tzinfo=WIB))
    store = Complaints(ComplaintRepository(FakeDb(), clock, KeyRing(DEMO_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])), CALENDARS, clock)
    silent, _ = store.file(common_pb2.Caller(), "SERVICE", "TBK", "Tidak ada jawaban.", "", True)
    answered, _ = store.file(common_pb2.Caller(), "SERVICE", "TBK", "Loket tutup.", "", True)

    clock.at = dt.datetime(2026, 1, 14, 23, 59, tzinfo=WIB)  # the weekend did not count: due tonight
    assert store.sweep() == 0
    assert store.view(store.repository.complaints.find_one({"_id": silent["_id"]})).sla_state == "due_soon"
    store.respond(OFFICER, answered["_id"], "Sedang kami periksa.", "IN_PROGRESS")

    clock.at = dt.datetime(2026, 1, 15, 0, 1, tzinfo=WIB)  # Thursday: the first response is late
    assert store.sweep() == 1
    assert store.sweep() == 0  # again: nothing new
    assert escalations(store) == [(silent["_id"], "FIRST_RESPONSE")]
    assert store.view(store.repository.complaints.find_one({"_id": silent["_id"]})).sla_state == "breached"

    clock.at = dt.datetime(2026, 1, 19, 23, 0, tzinfo=WIB)  # Mon 19: resolution due tonight (16th a holiday)
    assert store.sweep() == 0
    clock.at = dt.datetime(2026, 1, 20, 0, 1, tzinfo=WIB)
    assert store.sweep() == 2 and store.sweep() == 0
    assert escalations(store) == sorted([(silent["_id"], "FIRST_RESPONSE"), (silent["_id"], "RESOLUTION"),
                                         (answered["_id"], "RESOLUTION")])
    history = store.view(store.repository.complaints.find_one({"_id": silent["_id"]}), staff=True).history
    assert [(h.type, h.kind, h.role) for h in history if h.type == "ESCALATION"] == [
        ("ESCALATION", "FIRST_RESPONSE", "SYSTEM"), ("ESCALATION", "RESOLUTION", "SYSTEM")]


def test_the_deadline_queue_escalates_the_same_breaches_reading_complaints_only_by_key():
    """The sweeper's regular pass reads the SLA queue's windows that passed, by `_id`; it never scans
    the complaints (the full scan is the safety net at start-up and hourly)."""
    clock = FixedClock(dt.datetime(2026, 1, 9, 16, tzinfo=WIB))
    store = Complaints(ComplaintRepository(FakeDb(), clock, KeyRing(DEMO_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])), CALENDARS, clock)
    assert store.sweep_due() == 0  # starts at the current window (as at start-up)
    silent, _ = store.file(common_pb2.Caller(), "SERVICE", "TBK", "Tidak ada jawaban.", "", True)
    answered, _ = store.file(common_pb2.Caller(), "SERVICE", "TBK", "Loket tutup.", "", True)
    queued = store.repository.sla_due.entries.docs
    assert sorted((e["complaint_id"], e["kind"]) for e in queued.values()) == sorted(
        (c["_id"], k) for c in (silent, answered) for k in ("FIRST_RESPONSE", "RESOLUTION"))
    complaints = store.repository.complaints
    scan = complaints.find

    def by_key_only(query, *args, **kwargs):
        assert set(query) == {"_id"} and isinstance(query["_id"], str), query
        return scan(query, *args, **kwargs)
    complaints.find = by_key_only

    clock.at = dt.datetime(2026, 1, 14, 23, 59, tzinfo=WIB)
    assert store.sweep_due() == 0
    store.respond(OFFICER, answered["_id"], "Sedang kami periksa.", "IN_PROGRESS")
    clock.at = dt.datetime(2026, 1, 15, 0, 1, tzinfo=WIB)  # past the first-response deadline's window
    assert store.sweep_due() == 1 and store.sweep_due() == 0
    assert escalations(store) == [(silent["_id"], "FIRST_RESPONSE")]
    clock.at = dt.datetime(2026, 1, 20, 0, 1, tzinfo=WIB)
    assert store.sweep_due() == 2 and store.sweep_due() == 0
    complaints.find = scan
    assert store.sweep() == 0  # the safety net finds nothing the queue missed
    assert escalations(store) == sorted([(silent["_id"], "FIRST_RESPONSE"), (silent["_id"], "RESOLUTION"),
                                         (answered["_id"], "RESOLUTION")])


def test_a_deadline_queued_without_its_complaint_escalates_nothing():
    clock = FixedClock(dt.datetime(2026, 1, 9, 16, tzinfo=WIB))
    repository = ComplaintRepository(FakeDb(), clock, KeyRing(DEMO_SECRETS["COMPLAINT_ENCRYPTION_KEYS"]))
    store = Complaints(repository, CALENDARS, clock)
    store.sweep_due()
    repository.sla_due.add(clock.at + dt.timedelta(seconds=30), {"complaint_id": "never-written", "kind": "RESOLUTION"})
    clock.at += dt.timedelta(minutes=2)
    assert store.sweep_due() == 0 and not repository.escalations.docs
