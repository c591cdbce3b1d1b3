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

    def find(self, *args, **kwargs):
        self.finds += 1
        return self.collection.find(*args, **kwargs)

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
    assert apps.transitions.finds == 1  # the two records and the first missing number, in one read
    apps.transitions.finds = 0
    assert [t["status"] for t in apps.history("app1")] == ["DRAFT", "AWAITING_PAYMENT"]
    assert apps.transitions.finds == 1  # only the numbers after them
    db["transitions"].insert_one({"_id": "app1:0002", "seq": 2, "status": "PAID"})  # appended by another replica
    apps.transitions.finds = 0
    assert [t["status"] for t in apps.history("app1")] == ["DRAFT", "AWAITING_PAYMENT", "PAID"]
    assert apps.transitions.finds == 1


def test_a_numbered_reader_looks_up_only_after_the_entries_it_read_before():
    from servicekit.mongo import NumberedReader
    entries = Counting(Database()["entries"])
    reader = NumberedReader(entries)
    assert reader.read("seq", key) == [] and entries.finds == 1  # one miss
    for n in range(3):
        entries.collection.insert_one({"_id": key(n), "n": n})
    entries.finds = 0
    assert [d["n"] for d in reader.read("seq", key)] == [0, 1, 2] and entries.finds == 1  # one read of 8 keys
    entries.finds = 0
    assert [d["n"] for d in reader.read("seq", key)] == [0, 1, 2] and entries.finds == 1  # nothing new
    entries.collection.insert_one({"_id": key(3), "n": 3})  # another process appended
    entries.finds = 0
    assert [d["n"] for d in reader.read("seq", key)] == [0, 1, 2, 3] and entries.finds == 1
    assert [d["_id"] for d in reader.read("other", lambda n: f"other:{n}", first=1)] == []


def test_a_long_sequence_is_read_in_lists_of_growing_size_up_to_its_first_missing_number():
    from servicekit.mongo import read_numbered
    entries = Counting(Database()["entries"])
    for n in range(30):
        entries.collection.insert_one({"_id": key(n), "n": n})
    entries.collection.insert_one({"_id": key(31), "n": 31})  # after a gap: not part of the sequence
    assert [d["n"] for d in read_numbered(entries, key)] == list(range(30))
    assert entries.finds == 3  # 8 + 16 + 32 keys, where one read per entry took 31
    entries.finds = 0
    assert [d["n"] for d in read_numbered(entries, key, first=8)] == list(range(8, 30)) and entries.finds == 2
    assert read_numbered(entries, key, first=30) == []


def test_the_notification_log_reads_each_entry_once_per_process():
    from servicekit.clock import FixedClock as Clock
    from services.notification.adapters.repositories import ApplicationLog
    log = ApplicationLog(Database(), Clock(dt.datetime(2026, 12, 5, 9, tzinfo=dt.timezone.utc)))
    log.collection = Counting(log.collection)
    log._reader.collection = log.collection
    log.append("app-1", "ev-1", [], {"event_id": "ev-1", "event_type": "ApplicationCreated", "service_type": "NEW",
                                      "event_at": dt.datetime(2026, 12, 5, 9, tzinfo=dt.timezone.utc)})
    log.append("app-1", "ev-2", [], {"event_id": "ev-2", "event_type": "AppointmentBooked",
                                      "event_at": dt.datetime(2026, 12, 5, 9, 1, tzinfo=dt.timezone.utc)})
    assert [f["event_id"] for f in log.facts("app-1")] == ["ev-1", "ev-2"]
    log.collection.finds = 0
    assert [f["event_id"] for f in log.facts("app-1")] == ["ev-1", "ev-2"] and log.collection.finds == 1
    assert log.items("app-1") == [] and log.collection.finds == 2
