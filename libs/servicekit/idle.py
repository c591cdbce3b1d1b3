"""Polling that costs nothing while there is nothing to do: a worker polling a queue in the store
waits ever longer while the queue stays empty (first_s doubling up to max_s), and a write of its own
process to that queue wakes it at once. Writes by other processes are seen within max_s."""
from __future__ import annotations

import threading
from collections import defaultdict


class IdleWait:
    def __init__(self, first_s: float, max_s: float):
        self.first_s, self.max_s = first_s, max(first_s, max_s)
        self._wait = first_s
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def after(self, acted: bool) -> None:
        """Call after each poll: returns at once if it acted, else after the idle wait (or a wake)."""
        if acted:
            self._wait = self.first_s
            return
        self._wait = min(self._wait * 2, self.max_s)
        if self._woken.wait(self._wait):
            self._woken.clear()
            self._wait = self.first_s


_waits: dict[str, list[IdleWait]] = defaultdict(list)
_lock = threading.Lock()


def register(queue: str, first_s: float, max_s: float) -> IdleWait:
    """The idle wait of a worker polling `queue` in this process (woken by wake(queue))."""
    wait = IdleWait(first_s, max_s)
    with _lock:
        _waits[queue].append(wait)
    return wait


def unregister(queue: str, wait: IdleWait) -> None:
    with _lock:
        if wait in _waits[queue]:
            _waits[queue].remove(wait)


def wake(queue: str) -> None:
    """Something was written to `queue` by this process: its pollers look now."""
    for wait in list(_waits.get(queue, ())):
        wait.wake()
