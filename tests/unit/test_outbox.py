"""How the outbox relay finds unpublished events without scanning the record collections: intents
written before the records, dropped in one delete once published, or once abandoned by a write that
never happened; and a writer stalled between its two inserts writing its intent again."""
from __future__ import annotations

import datetime as dt

from passport.v1 import booking_pb2
from servicekit import outbox
from servicekit.clock import FixedClock
from servicekit.events import new_event
from tests.unit.fakemongo import Database

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)


def _event(clock, app="app-1"):
    return new_event("booking", app, booking_pb2.AppointmentCancelled(application_id=app), clock)


def test_a_record_is_found_through_its_intent():
    db, clock = Database(), FixedClock(T0)
    assert outbox.insert(db["transitions"], {"_id": "app-1:0001"}, [_event(clock)], "booking.events", clock)
    assert list(db[outbox.INTENTS].docs) == ["transitions:app-1:0001"]
    [(doc, intent)], drop = outbox.OutboxRelay(db, "booking", clock).pending()
    assert (doc["_id"], intent, drop) == ("app-1:0001", "transitions:app-1:0001", [])
    assert doc["_outbox"][0]["event_type"] == "AppointmentCancelled"


def test_a_lost_race_inserts_nothing_twice_and_one_intent_serves_the_winner():
    db, clock = Database(), FixedClock(T0)
    assert outbox.insert(db["transitions"], {"_id": "app-1:0001", "by": "a"}, [_event(clock)], "t", clock)
    assert not outbox.insert(db["transitions"], {"_id": "app-1:0001", "by": "b"}, [_event(clock)], "t", clock)
    [(doc, _)], _ = outbox.OutboxRelay(db, "booking", clock).pending()
    assert db["transitions"].docs[doc["_id"]]["by"] == "a" and len(db[outbox.INTENTS].docs) == 1


def test_an_intent_whose_record_never_came_waits_out_the_grace_then_is_dropped():
    db, clock = Database(), FixedClock(T0)
    db[outbox.INTENTS].insert_one({"_id": "transitions:x", "collection": "transitions", "record_id": "x", "at": T0})
    relay = outbox.OutboxRelay(db, "booking", clock)
    assert relay.pending() == ([], [])  # the writer may still insert its record
    clock.advance(seconds=outbox.INTENT_GRACE.total_seconds() + 1)
    assert relay.pending() == ([], ["transitions:x"])


def test_a_cycle_without_kafka_work_still_drops_finished_intents_in_one_delete():
    db, clock = Database(), FixedClock(T0)
    db["transitions"].insert_one({"_id": "quiet", "_outbox": [], "_outbox_at": T0})  # a record without events
    db[outbox.INTENTS].insert_one({"_id": "transitions:quiet", "collection": "transitions", "record_id": "quiet",
                                   "at": T0})
    relay = outbox.OutboxRelay(db, "booking", clock)
    relay.lease.held = lambda: True
    assert relay.cycle() == 0 and db[outbox.INTENTS].docs == {}


def test_a_writer_stalled_between_its_inserts_writes_its_intent_again(monkeypatch):
    db, clock = Database(), FixedClock(T0)
    ticks = iter([0.0, outbox.INTENT_GRACE.total_seconds()])  # started, then after the record insert
    monkeypatch.setattr(outbox.time, "monotonic", lambda: next(ticks))
    original = db["transitions"].insert_one

    def record_insert_after_the_relay_gave_up(doc):
        db[outbox.INTENTS].docs.clear()  # the relay dropped the "abandoned" intent meanwhile
        original(doc)
    db["transitions"].insert_one = record_insert_after_the_relay_gave_up
    assert outbox.insert(db["transitions"], {"_id": "slow"}, [_event(clock)], "t", clock)
    assert list(db[outbox.INTENTS].docs) == ["transitions:slow"]
