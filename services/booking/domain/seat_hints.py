"""What this booking replica knows of a slot's seats, to spend fewer store round trips in a rush.

A hold is an insert of `<slot>#<n>` that fails when seat n is taken, so without hints a booking
of a nearly full slot tries seat after seat, and every "slot-full" answer costs one failed insert
per seat. The hints:
- seats seen taken in the last `ttl_s` are tried last and counted by the listing without a read;
  a slot seen full answers `slot-full` at once. Frees seen by this replica clear them; a seat freed
  through another replica is offered again after `ttl_s`.
- seats seen free in the last `free_ttl_s` are counted free by the public listing without a read
  (a seat taken through another replica shows there within `free_ttl_s`; one taken here at once).
- seats another request of this replica is trying right now are tried after the untried ones, so
  parallel requests of one replica do not race each other for the same seat.
They are only hints: the unique insert still decides every hold, so they can never overbook.
"""
from __future__ import annotations

import collections
import random
import threading
import time
from typing import Callable


class SeatHints:
    def __init__(self, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic, max_slots: int = 50_000,
                 free_ttl_s: float = 0.0):
        self.ttl_s, self.free_ttl_s, self.clock, self.max_slots = ttl_s, free_ttl_s, clock, max_slots
        self._taken: dict[str, dict[int, float]] = {}  # slot -> seat number -> when seen taken
        self._free: dict[str, dict[int, float]] = {}  # slot -> seat number -> when seen free
        self._trying: dict[str, collections.Counter] = {}  # slot -> seat number -> requests trying it
        self._lock = threading.Lock()

    def taken(self, slot_id: str) -> set[int]:
        with self._lock:
            return self._taken_now(slot_id)

    def _taken_now(self, slot_id: str) -> set[int]:
        now = self.clock()
        return {n for n, at in self._taken.get(slot_id, {}).items() if now - at < self.ttl_s}

    def seen(self, slot_id: str) -> tuple[set[int], set[int]]:
        """Seats seen taken in the last `ttl_s`, and seen free in the last `free_ttl_s`."""
        with self._lock:
            now = self.clock()
            free = {n for n, at in self._free.get(slot_id, {}).items() if now - at < self.free_ttl_s}
            return self._taken_now(slot_id), free

    def saw_free(self, slot_id: str, n: int) -> None:
        if self.free_ttl_s <= 0:
            return
        with self._lock:
            if slot_id not in self._free and len(self._free) >= self.max_slots:
                self._free.clear()
            self._free.setdefault(slot_id, {})[n] = self.clock()

    def full(self, slot_id: str, capacity: int) -> bool:
        return self.ttl_s > 0 and capacity > 0 and len(self.taken(slot_id)) >= capacity

    def pick(self, slot_id: str, capacity: int, tried: set[int]) -> int | None:
        """The next seat for a request to try (None: it tried them all), marked as being tried until
        `tried_seat`: at random among the seats nobody here is trying and none seen taken, then
        among those another request is trying, then those seen taken."""
        with self._lock:
            taken, trying = self._taken_now(slot_id), self._trying.setdefault(slot_id, collections.Counter())
            left = [n for n in range(capacity) if n not in tried]
            for pool in ([n for n in left if n not in taken and not trying[n]],
                         [n for n in left if n not in taken], left):
                if pool:
                    n = random.choice(pool)
                    trying[n] += 1
                    return n
            return None

    def tried_seat(self, slot_id: str, n: int, taken: bool) -> None:
        with self._lock:
            trying = self._trying.get(slot_id)
            if trying is not None:
                trying[n] -= 1
                if trying[n] <= 0:
                    del trying[n]
                if not trying:
                    del self._trying[slot_id]
            if taken:
                self._saw_taken(slot_id, n)

    def saw_taken(self, slot_id: str, n: int) -> None:
        with self._lock:
            self._saw_taken(slot_id, n)

    def _saw_taken(self, slot_id: str, n: int) -> None:
        self._free.get(slot_id, {}).pop(n, None)
        if self.ttl_s <= 0:
            return
        if slot_id not in self._taken and len(self._taken) >= self.max_slots:
            self._taken.clear()  # bounded memory; hints are only hints
        self._taken.setdefault(slot_id, {})[n] = self.clock()

    def saw_freed(self) -> None:
        """A seat was released here (cancel, expiry, reschedule, reaper): forget what was seen taken."""
        with self._lock:
            self._taken.clear()
