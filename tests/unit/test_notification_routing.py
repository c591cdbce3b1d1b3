"""Which events become which messages, keyed how: applicants, anonymous complaints and the
head-of-office escalation (fakes for storage and ListStaff; real payload messages and templates)."""
from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import booking_pb2, complaint_pb2, envelope_pb2
from services.notification.entrypoints.events import handlers
from services.notification.usecases.messages import Messages
from tests.unit.fakemongo import Database as FakeDb
from tests.unit.test_notification_delivery import FakeClock


class FakeSupervisors:
    def __init__(self, heads: dict[str, list[str]]):
        self.heads, self.asked = heads, []

    def of(self, office_id):
        self.asked.append(office_id)
        return self.heads.get(office_id, [])


def _setup(heads=None):
    db = FakeDb()
    messages = Messages(db, FakeClock())
    sup = FakeSupervisors(heads or {"TBK": ["sup-1", "sup-2"]})
    return db, messages, handlers(messages, None, sup), sup


def _envelope(event_id: str, payload) -> envelope_pb2.EventEnvelope:
    ts = Timestamp()
    ts.FromDatetime(dt.datetime(2026, 3, 2, 3, 0))
    return envelope_pb2.EventEnvelope(event_id=event_id, event_type=payload.DESCRIPTOR.name, occurred_at=ts)


def test_escalation_tells_each_supervisor_once_and_the_complainant():
    db, _, hs, sup = _setup()
    esc = complaint_pb2.ComplaintEscalated(complaint_id="c-1", office_id="TBK", category="SERVICE",
                                           account_id="acc-1", kind="FIRST_RESPONSE", due_at="2026-03-05T10:00:00Z")
    hs["ComplaintEscalated"](_envelope("e1", esc), esc)
    hs["ComplaintEscalated"](_envelope("e1", esc), esc)  # redelivered: nothing new
    ids = set(db["messages"].docs)
    assert ids == {"e1:EMAIL:sup-1", "e1:EMAIL:sup-2", "e1:SMS", "e1:EMAIL"}
    head = db["messages"].docs["e1:EMAIL:sup-1"]
    assert head["account_id"] == "sup-1" and head["application_id"] == "" and head["audience"] == "SUPERVISOR"
    assert head["template"] == "complaint_escalated_supervisor" and "kepala kantor" in head["body"]
    assert sup.asked == ["TBK", "TBK"]


def test_anonymous_escalation_reaches_supervisors_only():
    db, _, hs, _ = _setup()
    esc = complaint_pb2.ComplaintEscalated(complaint_id="c-2", office_id="TBK", kind="RESOLUTION")
    hs["ComplaintEscalated"](_envelope("e2", esc), esc)
    assert set(db["messages"].docs) == {"e2:EMAIL:sup-1", "e2:EMAIL:sup-2"}


def test_office_without_supervisor_records_nothing_for_staff():
    db, _, hs, _ = _setup(heads={})
    esc = complaint_pb2.ComplaintEscalated(complaint_id="c-3", office_id="XYZ", kind="RESOLUTION")
    hs["ComplaintEscalated"](_envelope("e3", esc), esc)
    assert db["messages"].docs == {}


def test_responded_and_resolved_go_to_named_complainants_only():
    db, _, hs, sup = _setup()
    named = complaint_pb2.ComplaintResolved(complaint_id="c-4", office_id="TBK", account_id="acc-4", status="RESOLVED")
    anon = complaint_pb2.ComplaintResponded(complaint_id="c-5", office_id="TBK", status="IN_PROGRESS")
    hs["ComplaintResolved"](_envelope("e4", named), named)
    hs["ComplaintResponded"](_envelope("e5", anon), anon)
    assert set(db["messages"].docs) == {"e4:SMS", "e4:EMAIL"}
    assert sup.asked == []  # only escalations concern the head of office


def test_new_booking_events_are_handled():
    db, _, hs, _ = _setup()
    assert {"AppointmentConfirmed", "AppointmentCancelled", "CheckedIn"} <= set(hs)
    ev = booking_pb2.CheckedIn(application_id="app-1", account_id="acc-1", office_id="TBK", queue_number="R-001",
                               date="2026-03-10")
    hs["CheckedIn"](_envelope("e6", ev), ev)
    assert "R-001" in db["messages"].docs["e6:SMS"]["body"]
    assert db["messages"].docs["e6:SMS"]["application_id"] == "app-1"
