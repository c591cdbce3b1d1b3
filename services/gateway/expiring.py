"""A gateway collection whose records carry `expires` and are deleted once it has passed.
FerretDB has no TTL indexes, so each worker deletes what expired every few minutes, by an index on
`expires` (never a scan), on the first request after that time."""
from __future__ import annotations

import datetime as dt
import threading

from servicekit import mongo

PURGE_EVERY = dt.timedelta(minutes=5)


class ExpiringCollection:
    def __init__(self, name: str):
        self.name = name
        self._indexed = False
        self._last_purge = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        self._lock = threading.Lock()

    def get(self, now: dt.datetime):
        """The collection, with what expired before `now` deleted when a purge is due."""
        store = mongo.database("gateway")[self.name]
        with self._lock:
            index_now, purge_now = not self._indexed, now - self._last_purge >= PURGE_EVERY
            if purge_now:
                self._last_purge = now
        if index_now:
            store.create_index("expires")  # idempotent; a store error leaves it for the next request
            self._indexed = True
        if purge_now:
            store.delete_many({"expires": {"$lt": now}})
        return store
