"""Gap-free numbered sequences read and appended with fewer round trips (fake store: pure logic):
servicekit.mongo.Appender and the booking replica's transition-log prefix."""
from __future__ import annotations

import datetime as dt

from servicekit.clock import FixedClock
from servicekit.mongo import Appender, append_numbered, read_numbered
from services.booking.usecases.facade import Applications
from services.booking.domain.calendar import load
from tests.unit.fakemongo import Database


class Counting:
    """Wraps a fake collection and counts its round trips."""

    def __init__(self, collection):
        self.collection, self.finds, self.inserts = collection, 0, 0
        self.name, self.database = collection.name, collection.database

    def find_one(self, *args, **kwargs):
        self.finds += 1
        return self.collection.find_one(*args, **kwargs)

    def insert_one(self, doc):
        self.inserts += 1
        return self.collection.insert_one(doc)


def key(n: int) -> str:
    return f"seq:{n}"


def test_an_appender_tries_where_its_last_append_ended_and_steps_on_past_other_writers():
    entries = Counting(Database()["entries"])
    appender = Appender(entries)
    assert appender.append("seq", key, lambda n: {"n": n})["_id"] == "seq:0"
    assert (entries.finds, entries.inserts) == (1, 1)  # unknown sequence: read to its end first
    entries.finds = entries.inserts = 0
    assert appender.append("seq", key, lambda n: {"n": n})["_id"] == "seq:1"
    assert (entries.finds, entries.inserts) == (0, 1)  # one round trip
    append_numbered(entries.collection, key, lambda n: {"n": n, "by": "another replica"})  # takes seq:2
    entries.finds = entries.inserts = 0
    assert appender.append("seq", key, lambda n: {"n": n})["_id"] == "seq:3"
    assert entries.inserts == 2  # tried seq:2, stepped on
    assert [d["_id"] for d in read_numbered(entries.collection, key)] == ["seq:0", "seq:1", "seq:2", "seq:3"]


def test_an_appender_with_a_forgotten_end_still_appends_without_a_gap():
    entries = Counting(Database()["entries"])
    for n in range(3):
        entries.collection.insert_one({"_id": key(n)})
    appender = Appender(entries, max_entries=1)
    appender.append("other", lambda n: f"other:{n}", lambda n: {})
    assert appender.append("seq", key, lambda n: {})["_id"] == "seq:3"


def test_a_replica_reads_only_the_transitions_after_the_log_it_read_before():
    db = Database()
    apps = Applications(db, load(), FixedClock(dt.datetime(2026, 11, 30, 1, tzinfo=dt.timezone.utc)), payment_stub=None)
    apps.transitions = Counting(db["transitions"])
    for seq in range(2):
        db["transitions"].insert_one({"_id": f"app1:{seq:04d}", "seq": seq, "status": ["DRAFT", "AWAITING_PAYMENT"][seq]})
    assert [t["status"] for t in apps.history("app1")] == ["DRAFT", "AWAITING_PAYMENT"]
    assert apps.transitions.finds == 3  # two records and the first missing number
    apps.transitions.finds = 0
    assert [t["status"] for t in apps.history("app1")] == ["DRAFT", "AWAITING_PAYMENT"]
    assert apps.transitions.finds == 1  # only the next number
    db["transitions"].insert_one({"_id": "app1:0002", "seq": 2, "status": "PAID"})  # appended by another replica
    apps.transitions.finds = 0
    assert [t["status"] for t in apps.history("app1")] == ["DRAFT", "AWAITING_PAYMENT", "PAID"]
    assert apps.transitions.finds == 2
