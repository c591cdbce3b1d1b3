"""Leader-per-time-window by unique insert: whoever inserts `<name>:<window>` first does the work
of that window. Atomic on FerretDB and MongoDB alike (no conditional updates). Used where several
replicas would otherwise duplicate work or reorder it (outbox relay, sweepers); correctness still
rests on keyed decision records, the lease only keeps replicas out of each other's way."""
from __future__ import annotations

import os
import socket
from typing import Callable

from servicekit.clock import Clock
from servicekit.mongo import insert_unique

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
# A frequent sweeper's lease window, longer than its run interval: one lease round trip per replica
# per window, not per run (an idle platform should not write to its store every few seconds); the
# cost is that a dead holder's sweeps wait at most this long for another replica.
SWEEPER_WINDOW_S = 30


class WindowLease:
    def __init__(self, db, name: str, window_s: int, clock: Clock):
        self.coll = db["leases"]
        self.name, self.window_s, self.clock = name, window_s, clock
        self._won: int | None = None
        self._lost: int | None = None  # a window another holder has: nobody can take it from them

    def held(self) -> bool:
        window = int(self.clock.now().timestamp()) // self.window_s
        if self._won == window:
            return True
        if self._lost == window:  # asked already this window: no round trip until the next
            return False
        lease_id = f"{self.name}:{window}"
        if insert_unique(self.coll, {"_id": lease_id, "name": self.name, "window": window,
                                     "holder": HOLDER, "at": self.clock.now()}):
            self._won = window
            if window % 12 == 0:  # old windows go now and then, not in every one (a scan on FerretDB)
                self.coll.delete_many({"name": self.name, "window": {"$lt": window - 60}})
            return True
        doc = self.coll.find_one({"_id": lease_id}, {"holder": 1})
        if doc and doc.get("holder") == HOLDER:  # e.g. this process restarted within the window
            self._won = window
            return True
        self._lost = window
        return False

    def only_holder(self, work: Callable[[], int]) -> Callable[[], int]:
        """`work` as a worker cycle that runs only in the replica holding the current window."""
        return lambda: work() if self.held() else 0
