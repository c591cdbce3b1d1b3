"""Leader-per-time-window by unique insert: whoever inserts `<name>:<window>` first does the work
of that window. Atomic on FerretDB and MongoDB alike (no conditional updates). Used where several
replicas would otherwise duplicate work or reorder it (outbox relay, sweepers); correctness still
rests on keyed decision records, the lease only keeps replicas out of each other's way."""
from __future__ import annotations

import os
import socket
from typing import Callable

from servicekit.clock import Clock
from servicekit.mongo import find_by_ids, insert_unique

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
# A frequent sweeper's lease window, longer than its run interval: one lease round trip per replica
# per window, not per run (an idle platform should not write to its store every few seconds); the
# cost is that a dead holder's sweeps wait at most one and a half such windows for another replica.
SWEEPER_WINDOW_S = 30


class WindowLease:
    """The holder of a window keeps the next one: it asks first (an insert, no read), and another
    replica competes for it only after the first half of the window, so a sweeper's cursors and
    caches stay in the process that built them (two replicas taking turns at random each re-read
    what the other had already looked at). A holder that died or restarted (a new process is another
    holder) is replaced within one and a half windows."""

    def __init__(self, db, name: str, window_s: int, clock: Clock, holder: str = HOLDER):
        self.coll = db["leases"]
        self.name, self.window_s, self.clock, self.holder = name, window_s, clock, holder
        self._won: int | None = None
        self._lost: int | None = None  # a window another holder has: not asked again in it
        self._defer_until = 0.0  # within the first half of a window the last one's holder goes first

    def held(self) -> bool:
        now = self.clock.now().timestamp()
        window = int(now) // self.window_s
        if self._won == window:
            return True
        if self._lost == window:  # asked already this window: no round trip until the next
            return False
        if now < self._defer_until:  # (it lies within this window: a later one is past it)
            return False
        if self._won != window - 1:
            # one read of this window's lease and the last one's: taken already (by this process
            # before a restart, or another), or the last one's holder may still take it
            holders = {doc["_id"]: doc.get("holder") for doc in find_by_ids(
                self.coll, [self._id(window - 1), self._id(window)], {"holder": 1})}
            now_by, last_by = holders.get(self._id(window)), holders.get(self._id(window - 1))
            if now_by is not None:
                return self._settle(window, now_by == self.holder)
            until = (window + 0.5) * self.window_s
            if last_by not in (None, self.holder) and now < until:
                self._defer_until = until
                return False
        if insert_unique(self.coll, {"_id": self._id(window), "name": self.name, "window": window,
                                     "holder": self.holder, "at": self.clock.now()}):
            if window % 12 == 0:  # old windows go now and then, not in every one (a scan on FerretDB)
                self.coll.delete_many({"name": self.name, "window": {"$lt": window - 60}})
            return self._settle(window, True)
        doc = self.coll.find_one({"_id": self._id(window)}, {"holder": 1})
        return self._settle(window, bool(doc) and doc.get("holder") == self.holder)

    def _id(self, window: int) -> str:
        return f"{self.name}:{window}"

    def _settle(self, window: int, won: bool) -> bool:
        if won:
            self._won = window
        else:
            self._lost = window
        return won

    def only_holder(self, work: Callable[[], int]) -> Callable[[], int]:
        """`work` as a worker cycle that runs only in the replica holding the current window."""
        return lambda: work() if self.held() else 0
