"""Things that fall due, queued by the time window they fall due in, so a sweeper reads only the
windows that have passed, by `_id`. (FerretDB serves only `_id` equality from an index: "everything
past its deadline" scans the whole collection, and sweepers run every few seconds, so such a query
costs more the more data there is, idle or not.)

An entry `<window>:<n>` (n = 0, 1, ... without gaps) names one thing. It is written before the record
it names, so a crash leaves at most an entry without its record, which the sweeper skips; the sweeper
checks each record's own deadline, so a stray entry never acts early. A periodic scan of the records
stays as the safety net (an entry lost, a record written straight to the store)."""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Callable, Iterator

from servicekit.mongo import Appender, read_numbered


class WindowQueue:
    def __init__(self, collection, window_s: int):
        self.entries, self.window_s = collection, window_s
        self._appender = Appender(collection)
        self._lock = threading.Lock()

    def window_of(self, moment: dt.datetime) -> int:
        return int(moment.timestamp()) // self.window_s

    def add(self, due_at: dt.datetime, entry: dict) -> None:
        window = self.window_of(due_at)
        # One writer at a time per process: parallel requests would all try the same next number and
        # step on one by one (a failed insert each); other replicas still step on, as they must.
        with self._lock:
            self._appender.append(window, _entry_key(window), lambda n: dict(entry))

    def entries_in(self, window: int) -> list[dict]:
        return read_numbered(self.entries, _entry_key(window))


class WindowCursor:
    """The windows of a queue that have wholly passed since the last call, each handed out once per
    process. The first call starts at the current window: a full scan at start-up covers what fell
    due before."""

    def __init__(self, window_of: Callable[[dt.datetime], int]):
        self.window_of = window_of
        self._next: int | None = None

    def passed(self, now: dt.datetime) -> Iterator[int]:
        last = self.window_of(now) - 1
        if self._next is None:
            self._next = last + 1
        while self._next <= last:
            yield self._next
            self._next += 1


def _entry_key(window: int):
    return lambda n: f"{window}:{n}"


class DueSweeper:
    """One sweeper tick: the queue's windows that passed (`sweep_due`); at start-up, so downtime never
    skips a deadline, and then every `scan_every_s`, a full scan of the records as the safety net
    (`scan(first)`, first True at start-up)."""

    def __init__(self, scan: Callable[[bool], object], sweep_due: Callable[[], object], scan_every_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.scan, self.sweep_due, self.scan_every_s, self.clock = scan, sweep_due, scan_every_s, clock
        self.last_scan: float | None = None

    def __call__(self) -> None:
        now = self.clock()
        if self.last_scan is None or now - self.last_scan >= self.scan_every_s:
            self.scan(self.last_scan is None)
            self.last_scan = now
        self.sweep_due()
