"""How the outbox relay finds pending records without scanning the record collections: intents
written before the records, dropped once published or abandoned, and the rare full sweep that
catches a record whose intent was given up too early."""
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


def _relay(db, clock):
    relay = outbox.OutboxRelay(db, "booking", ["transitions"], clock)
    relay._next_full_sweep = float("inf")  # tests switch the sweep on explicitly
    return relay


def test_a_record_is_found_through_its_intent_and_the_intent_goes_once_published():
    db, clock = Database(), FixedClock(T0)
    assert outbox.insert(db["transitions"], {"_id": "app-1:0001"}, [_event(clock)], "booking.events", clock)
    assert list(db[outbox.INTENTS].docs) == ["transitions:app-1:0001"]
    relay = _relay(db, clock)
    [(name, doc, intent)] = relay.pending()
    assert (name, doc["_id"], intent) == ("transitions", "app-1:0001", "transitions:app-1:0001")
    # what cycle() does after Kafka acknowledged: flag off, then the intent is no longer needed
    db["transitions"].update_one({"_id": "app-1:0001"}, {"$set": {outbox.PENDING: False}})
    assert relay.pending() == []
    assert db[outbox.INTENTS].docs == {}


def test_a_lost_race_inserts_nothing_twice_and_one_intent_serves_the_winner():
    db, clock = Database(), FixedClock(T0)
    assert outbox.insert(db["transitions"], {"_id": "app-1:0001", "by": "a"}, [_event(clock)], "t", clock)
    assert not outbox.insert(db["transitions"], {"_id": "app-1:0001", "by": "b"}, [_event(clock)], "t", clock)
    [(_, doc, _)] = _relay(db, clock).pending()
    assert db["transitions"].docs[doc["_id"]]["by"] == "a"


def test_an_intent_whose_record_never_came_waits_out_the_grace_then_goes():
    db, clock = Database(), FixedClock(T0)
    db[outbox.INTENTS].insert_one({"_id": "transitions:x", "collection": "transitions", "record_id": "x", "at": T0})
    relay = _relay(db, clock)
    assert relay.pending() == [] and "transitions:x" in db[outbox.INTENTS].docs  # the writer may still insert
    clock.advance(seconds=outbox.INTENT_GRACE.total_seconds() + 1)
    assert relay.pending() == [] and db[outbox.INTENTS].docs == {}


def test_the_full_sweep_finds_a_pending_record_without_intent():
    db, clock = Database(), FixedClock(T0)
    outbox.insert(db["transitions"], {"_id": "late"}, [_event(clock)], "t", clock)
    db[outbox.INTENTS].docs.clear()  # its intent was given up while the writer stalled
    relay = _relay(db, clock)
    assert relay.pending() == []
    relay._next_full_sweep = 0.0
    [(name, doc, intent)] = relay.pending()
    assert (name, doc["_id"], intent) == ("transitions", "late", None)
    assert relay.pending() == []  # and the next sweep is FULL_SWEEP_S away
