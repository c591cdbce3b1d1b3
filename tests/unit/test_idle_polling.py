"""An idle platform should not poll its store: a replica that lost a lease window does not ask again
in that window, and an idle outbox relay looks ever more seldom unless a write of its process wakes it."""
from __future__ import annotations

import datetime as dt
import threading
import time

from servicekit import idle, outbox
from servicekit.clock import FixedClock
from servicekit.lease import WindowLease
from services.notification.adapters import queue as due_queue
from tests.unit.fakemongo import Database

T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)


class Counting:
    def __init__(self, collection):
        self.collection, self.calls = collection, 0

    def __getattr__(self, name):
        attr = getattr(self.collection, name)
        if callable(attr):
            def counted(*args, **kwargs):
                self.calls += 1
                return attr(*args, **kwargs)
            return counted
        return attr


def test_a_replica_that_lost_a_window_asks_the_store_once_in_that_window():
    db, clock = Database(), FixedClock(T0)
    window = int(T0.timestamp()) // 5
    db["leases"].insert_one({"_id": f"reaper:{window}", "name": "reaper", "window": window, "holder": "other:1"})
    lease = WindowLease(db, "reaper", 5, clock)
    lease.coll = Counting(lease.coll)
    assert [lease.held() for _ in range(10)] == [False] * 10
    assert lease.coll.calls == 1  # one read of this window's and the last one's holders; then nothing
    clock.advance(seconds=5)
    assert [lease.held() for _ in range(3)] == [False] * 3  # the last window's holder goes first...
    assert lease.coll.calls == 2
    clock.advance(seconds=2.5)
    assert lease.held() is True  # ...for half a window: then it is taken over
    purged = 1 if (window + 1) % 12 == 0 else 0  # old windows are purged every 12th window
    assert lease.held() is True and lease.coll.calls == 4 + purged  # a read, its insert (and the purge)


def test_the_holder_keeps_the_lease_whoever_asks_first_and_another_takes_over_when_it_stops():
    db, clock = Database(), FixedClock(T0)
    mine, theirs = WindowLease(db, "reaper", 10, clock), WindowLease(db, "reaper", 10, clock, holder="other:1")
    assert mine.held() is True and theirs.held() is False
    mine.coll = Counting(mine.coll)
    for _ in range(5):  # window after window the other replica asks first, and the holder keeps it
        clock.advance(seconds=10)
        assert theirs.held() is False and mine.held() is True
        clock.advance(seconds=6)
        assert theirs.held() is False and mine.held() is True
        clock.advance(seconds=-6)
    assert mine.coll.calls in (5, 6)  # the holder's one insert per window (and a purge): no read
    # the holder stops (dies): the other waits half of the next window, then takes it
    clock.advance(seconds=10)
    assert theirs.held() is False
    clock.advance(seconds=5)
    assert theirs.held() is True
    clock.advance(seconds=5)  # the next window's start: back from a pause, it does not take it back
    assert mine.held() is False and theirs.held() is True


class IdleRelay(outbox.OutboxRelay):
    def __init__(self):
        super().__init__(Database(), "booking", FixedClock(T0))
        self.cycles: list[float] = []

    def cycle(self) -> int:
        self.cycles.append(time.monotonic())
        return 0


def test_an_idle_relay_looks_ever_more_seldom_and_a_write_of_its_process_wakes_it():
    relay, stop = IdleRelay(), threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    worker.start()
    try:
        time.sleep(3.2)
        idle_cycles = len(relay.cycles)
        assert idle_cycles <= 3  # at 0, 1 and 3 s (0.5 s apart it would have been 7)
        nudged_at = time.monotonic()
        outbox.insert(Database()["transitions"], {"_id": "app-1:0001"}, [], "booking.events", FixedClock(T0))
        time.sleep(0.5)
        assert len(relay.cycles) == idle_cycles + 1 and relay.cycles[-1] - nudged_at < 0.4
    finally:
        stop.set()
        idle.wake(outbox.INTENTS)
        worker.join(5)
    assert not worker.is_alive()


def test_a_message_queued_by_the_process_wakes_its_idle_sender_of_that_channel():
    db = Database()
    email = idle.register(due_queue.of(db, "EMAIL").name, 0.5, 2.0)
    sms = idle.register(due_queue.of(db, "SMS").name, 0.5, 2.0)
    try:
        assert due_queue.enqueue(db, {"_id": "m1", "channel": "EMAIL"}, T0)
        assert email._woken.is_set() and not sms._woken.is_set()
        assert not due_queue.enqueue(db, {"_id": "m1", "channel": "EMAIL"}, T0)  # queued already
    finally:
        idle.unregister(due_queue.of(db, "EMAIL").name, email)
        idle.unregister(due_queue.of(db, "SMS").name, sms)
