"""servicekit.due_windows: the windows a sweeper reads, and when it also scans (pure logic)."""
from __future__ import annotations

import datetime as dt

from servicekit.due_windows import DueSweeper, WindowCursor, WindowQueue
from tests.unit.fakemongo import Database

T0 = dt.datetime(2026, 12, 5, 9, 0, 0, tzinfo=dt.timezone.utc)


def test_each_passed_window_is_handed_out_once_starting_at_the_first_call():
    queue = WindowQueue(Database()["due"], window_s=10)
    cursor = WindowCursor(queue.window_of)
    assert list(cursor.passed(T0 + dt.timedelta(seconds=5))) == []  # starts at the current window
    assert list(cursor.passed(T0 + dt.timedelta(seconds=9))) == []
    w = queue.window_of(T0)
    assert list(cursor.passed(T0 + dt.timedelta(seconds=31))) == [w, w + 1, w + 2]
    assert list(cursor.passed(T0 + dt.timedelta(seconds=31))) == []


def test_entries_are_read_back_by_the_window_of_their_deadline():
    queue = WindowQueue(Database()["due"], window_s=10)
    queue.add(T0 + dt.timedelta(seconds=3), {"id": "a"})
    queue.add(T0 + dt.timedelta(seconds=7), {"id": "b"})
    queue.add(T0 + dt.timedelta(seconds=12), {"id": "c"})
    assert [e["id"] for e in queue.entries_in(queue.window_of(T0))] == ["a", "b"]
    assert [e["_id"] for e in queue.entries_in(queue.window_of(T0) + 1)] == [f"{queue.window_of(T0) + 1}:0"]


def test_the_sweeper_scans_at_start_and_then_every_interval_and_reads_the_windows_every_tick():
    now, calls = [0.0], []
    sweeper = DueSweeper(lambda first: calls.append(("scan", first)), lambda: calls.append("due"), scan_every_s=60,
                         clock=lambda: now[0])
    for t in (0.0, 5.0, 59.0, 60.0, 65.0):
        now[0] = t
        sweeper()
    assert calls == [("scan", True), "due", "due", "due", ("scan", False), "due", "due"]
