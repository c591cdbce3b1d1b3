"""A small time-to-live cache with single flight: while one thread computes a key, the others
asking for it wait for that result instead of computing it again. For read-mostly views that may be
a moment old (e.g. slot availability during a release rush), never for decisions."""
from __future__ import annotations

import threading
import time
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")


class TtlCache:
    def __init__(self, ttl_s: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self.ttl_s <= 0:
            return compute()
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)  # computed by another thread while we waited
            if hit is not None:
                return hit[1]
            value = compute()  # an exception is not cached: the next caller tries again
            with self._guard:
                if len(self._entries) >= self.max_entries:
                    self._evict_expired()
                self._entries[key] = (self.clock() + self.ttl_s, value)
            return value

    def peek(self, key: Hashable, stale_while_computing_s: float = 0.0):
        """The fresh value of `key`, or None (never computes, never waits). With
        `stale_while_computing_s`: also the value that expired less than that ago while another
        thread is computing its successor (stale-while-revalidate: the others need not wait)."""
        if self.ttl_s <= 0:
            return None
        hit = self._entries.get(key)
        if hit is None:
            return None
        until, value = hit
        now = self.clock()
        if until > now:
            return value
        lock = self._locks.get(key)
        if now - until < stale_while_computing_s and lock is not None and lock.locked():
            return value
        return None

    def invalidate(self, key: Hashable) -> None:
        with self._guard:
            self._entries.pop(key, None)

    def _fresh(self, key):
        hit = self._entries.get(key)
        return hit if hit is not None and hit[0] > self.clock() else None

    def _evict_expired(self) -> None:
        now = self.clock()
        for k in [k for k, (until, _) in self._entries.items() if until <= now]:
            del self._entries[k]
            self._locks.pop(k, None)
        if len(self._entries) >= self.max_entries:  # all fresh: start over rather than grow
            self._entries.clear()
            self._locks.clear()


class Memo:
    """Facts that never change once true (an immutable record, a requirement met for good),
    remembered per process so a hot path reads them from the store once. Bounded: when full it
    starts over rather than grow."""

    def __init__(self, max_entries: int = 50_000):
        self.max_entries = max_entries
        self._facts: dict[Hashable, object] = {}

    def get(self, key: Hashable, default=None):
        return self._facts.get(key, default)

    def put(self, key: Hashable, value: object = True) -> None:
        if len(self._facts) >= self.max_entries:
            self._facts.clear()
        self._facts[key] = value
