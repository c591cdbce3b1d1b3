"""MongoDB access. Each service owns one database; MONGO_URI points at real MongoDB in a cluster
and at FerretDB locally.

FerretDB has no transactions and its conditional updates are not atomic (it reads, applies the
update in Go, and writes back), so correctness never rests on a conditional update: decisions are
inserts under a unique key (`insert_unique`), which are atomic on both servers.
"""
from __future__ import annotations

from typing import Callable, Hashable

import pymongo
from pymongo import monitoring
from pymongo.errors import ConnectionFailure, DuplicateKeyError, ExecutionTimeout

from servicekit import metrics
from servicekit.cache import Memo
from servicekit.config import env, env_int
from servicekit.errors import DomainError

# The store could not be reached, or did not answer in time: a passing condition (a restart, a
# network blink), answered as 503 + Retry-After by every process, never as a 500.
STORE_UNREACHABLE = (ConnectionFailure, ExecutionTimeout)

_clients: dict[str, pymongo.MongoClient] = {}


def database(service: str) -> pymongo.database.Database:
    uri = env("MONGO_URI", "mongodb://127.0.0.1:27017/")
    if uri not in _clients:
        # Short driver timeouts: a request must end within its answer budget (2 s in a release rush)
        # also when the store is down, with a 503 instead of waiting for it.
        _clients[uri] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=env_int("MONGO_SERVER_SELECTION_TIMEOUT_MS", 1000),
            connectTimeoutMS=env_int("MONGO_CONNECT_TIMEOUT_MS", 1000),
            socketTimeoutMS=env_int("MONGO_SOCKET_TIMEOUT_MS", 10000),  # a slow scan of a sweeper still ends
            tz_aware=True, maxPoolSize=50, appname=service, event_listeners=[CommandMetrics()])
    name = env("MONGO_DATABASE", "passport_" + service.replace("-", "_"))
    return _clients[uri][name]


def store_unavailable() -> DomainError:
    return DomainError("unavailable", "store-unavailable",
                       "our data store is briefly unreachable; nothing was changed, please retry shortly")


def insert_unique(collection, document: dict) -> bool:
    """Insert; False when a document with the same unique key exists (the race was lost)."""
    try:
        collection.insert_one(document)
        return True
    except DuplicateKeyError:
        return False


IDS_PER_READ = 1000  # FerretDB's `_id: {$in}` index lookup takes at most this many keys (sqlite-id-in.patch)


def find_by_ids(collection, ids: list, projection=None) -> list[dict]:
    """The documents of these `_id`s that exist, in one `_id: {$in}` read per IDS_PER_READ ids: a
    lookup by the _id index on MongoDB and on our FerretDB build, where one read per id cost a
    round trip each."""
    return [d for n in range(0, len(ids), IDS_PER_READ)
            for d in collection.find({"_id": {"$in": ids[n:n + IDS_PER_READ]}}, projection)]


def upsert(collection, filter: dict, update: dict) -> None:
    """update_one (or replace_one, for a whole document) with upsert, surviving a lost race to create
    the document: two first upserts at once both miss it, both insert, and the loser is answered
    DuplicateKeyError (by FerretDB always, by MongoDB outside the cases it retries itself). The
    document exists then, so the same update is applied to it once more."""
    write = collection.update_one if any(key.startswith("$") for key in update) else collection.replace_one
    try:
        write(filter, update, upsert=True)
    except DuplicateKeyError:
        write(filter, update, upsert=True)


def read_numbered(collection, key: Callable[[int], str], first: int = 0, projection=None) -> list[dict]:
    """A gap-free numbered sequence `key(first), key(first + 1), ...` up to the first missing number,
    read by `_id` lists (FerretDB serves only `_id` lookups from an index; any other filter scans) of
    8, 16, ... keys: a short sequence (an application's status log) costs one round trip, not one per
    entry. The projection must keep `_id`."""
    out, batch = [], 8
    while True:
        keys = [key(first + len(out) + i) for i in range(batch)]
        found = {d["_id"]: d for d in find_by_ids(collection, keys, projection)}
        for k in keys:
            if k not in found:
                return out
            out.append(found[k])
        batch = min(2 * batch, IDS_PER_READ)


def count_numbered(collection, key: Callable[[int], str], first: int = 0) -> int:
    """How many entries a gap-free numbered sequence holds from `first`, by `_id` reads only: doubling
    then halving (about 2 log2(n) reads, where reading them all would take n)."""
    def exists(n: int) -> bool:
        return collection.find_one({"_id": key(first + n)}, {"_id": 1}) is not None

    if not exists(0):
        return 0
    present, missing = 0, 1
    while exists(missing):
        present, missing = missing, missing * 2
    while missing - present > 1:
        middle = (present + missing) // 2
        present, missing = (middle, missing) if exists(middle) else (present, middle)
    return missing


def append_numbered(collection, key: Callable[[int], str], make: Callable[[int], dict], first: int = 0) -> dict:
    """Insert `make(n)` under `key(n)` at the first free number, so the sequence stays gap-free:
    start after the entries read, step on when a parallel writer took the number (an insert is atomic)."""
    return _append_from(collection, key, make, first + len(read_numbered(collection, key, first, {"_id": 1})))[0]


def _append_from(collection, key: Callable[[int], str], make: Callable[[int], dict], n: int) -> tuple[dict, int]:
    """Insert at `n`, or at the next free number after it, when all numbers before `n` are taken."""
    while not insert_unique(collection, doc := dict(make(n), _id=key(n))):
        n += 1
    return doc, n


class Appender:
    """append_numbered for many sequences of one collection, remembering where each ended in this
    process: the next append to it tries that number at once (one insert instead of a read and an
    insert; another writer's entries only make it step on). Bounded: it only saves lookups."""

    def __init__(self, collection, max_entries: int = 10_000):
        self.collection = collection
        self._ends = Memo(max_entries)

    def append(self, sequence: Hashable, key: Callable[[int], str], make: Callable[[int], dict], first: int = 0) -> dict:
        return self.append_at(sequence, key, make, first)[0]

    def append_at(self, sequence: Hashable, key: Callable[[int], str], make: Callable[[int], dict],
                  first: int = 0) -> tuple[dict, int]:
        """append(), also returning the number the entry got."""
        end = self._ends.get(sequence)
        if end is None:  # not appended here yet: find the end first
            end = first + count_numbered(self.collection, key, first)
        doc, n = _append_from(self.collection, key, make, end)
        self._ends.put(sequence, n + 1)
        return doc, n


class NumberedReader:
    """read_numbered for many sequences of one collection whose entries never change once written
    (logs), remembering in this process each sequence's entries read so far: a later read looks up
    only after them (one `_id` miss when nothing was added). Bounded: it only saves lookups."""

    def __init__(self, collection, projection=None, max_entries: int = 20_000):
        self.collection, self.projection = collection, projection
        self._read = Memo(max_entries)

    def read(self, sequence: Hashable, key: Callable[[int], str], first: int = 0) -> list[dict]:
        known = self._read.get(sequence, ())
        later = read_numbered(self.collection, key, first + len(known), self.projection)
        if later:
            known = known + tuple(later)
            self._read.put(sequence, known)
        return list(known)  # the entries themselves, shared with later reads: read them, never change them


class CommandMetrics(monitoring.CommandListener):
    """Store round trips by command and collection: shows which collections a request touches and
    which commands are slow (e.g. a FerretDB filter that scans). Labels are code-defined names."""

    def __init__(self):
        self._started: dict[tuple, tuple[str, str]] = {}

    def started(self, event):
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else event.command.get("collection", "")
        self._started[(event.connection_id, event.request_id)] = (event.command_name, str(collection))

    def _finished(self, event, outcome: str):
        command, collection = self._started.pop((event.connection_id, event.request_id),
                                                (event.command_name, ""))
        metrics.MONGO_COMMANDS.labels(command, collection, outcome).inc()
        metrics.MONGO_COMMAND_SECONDS.labels(command, collection).observe(event.duration_micros / 1e6)

    def succeeded(self, event):
        self._finished(event, "ok")

    def failed(self, event):
        self._finished(event, "error")


def ping(db) -> bool:
    try:
        db.client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
