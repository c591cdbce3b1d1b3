"""What this booking replica recently saw of a slot's seats, to spend fewer store writes in a rush.

A hold is an insert of `<slot>#<n>` that fails when seat n is taken, so without hints a booking
of a nearly full slot tries seat after seat, and every "slot-full" answer costs one failed insert
per seat. The hints: seat numbers seen taken are tried last, and a slot seen full answers
`slot-full` at once for `ttl_s` (2 s), the same freshness as the public slot listing. They are only
hints: the unique insert still decides every hold, so they can never overbook; at worst a seat
freed through another replica is offered again after `ttl_s`. Frees seen by this replica clear them.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class SeatHints:
    def __init__(self, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic, max_slots: int = 50_000):
        self.ttl_s, self.clock, self.max_slots = ttl_s, clock, max_slots
        self._taken: dict[str, dict[int, float]] = {}  # slot -> seat number -> when seen taken
        self._lock = threading.Lock()

    def taken(self, slot_id: str) -> set[int]:
        now = self.clock()
        with self._lock:
            seen = self._taken.get(slot_id, {})
            return {n for n, at in seen.items() if now - at < self.ttl_s}

    def full(self, slot_id: str, capacity: int) -> bool:
        return self.ttl_s > 0 and capacity > 0 and len(self.taken(slot_id)) >= capacity

    def saw_taken(self, slot_id: str, n: int) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if slot_id not in self._taken and len(self._taken) >= self.max_slots:
                self._taken.clear()  # bounded memory; hints are only hints
            self._taken.setdefault(slot_id, {})[n] = self.clock()

    def saw_freed(self) -> None:
        """A seat was released here (cancel, expiry, reschedule, reaper): forget everything."""
        with self._lock:
            self._taken.clear()
