"""The audit log: append-only and hash-chained.

Every staff action that changes what applicants get is one entry. Entry n is stored under the
`_id` n (zero-padded, so `_id` order is chain order) and carries the hash of entry n-1, and its own
hash = sha256(prev_hash + canonical JSON of the entry without `hash`). FerretDB has no atomic
updates, so the chain is serialised by the unique `_id`: an appender reads the tail, inserts under
the next number, and on a duplicate re-reads the tail and tries again. Changing, removing or
reordering any stored entry breaks the chain at that entry, which `verify()` reports.
"""
from __future__ import annotations

import datetime as dt
import json

from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError
from servicekit.mongo import insert_unique

from services.booking.domain.audit_chain import GENESIS, check_chain, entry_hash, entry_id as _id

MAX_ATTEMPTS = 100


def _json_safe(value):
    """Details are stored and hashed as plain JSON values (str, int, bool, None, lists, objects)."""
    return json.loads(json.dumps(value, default=str))


class AuditLog:
    def __init__(self, db, clock: Clock):
        self.entries, self.clock = db["audit_log"], clock
        self._known_seq = 0  # an entry number this process has seen exist (numbers have no gaps)

    def ensure_indexes(self) -> None:
        self.entries.create_index([("office_id", 1), ("at", 1)])

    def append(self, caller, action: str, office_id: str, details: dict) -> dict:
        """The `on_staff_action` hook of Applications: append one entry; returns it."""
        details = _json_safe(details or {})
        for _ in range(MAX_ATTEMPTS):
            tail = self._tail()
            seq = tail["seq"] + 1 if tail else 1
            entry = {"seq": seq, "at": rfc3339(self.clock.now()), "actor_account_id": caller.account_id,
                     "actor_role": caller.role, "office_id": office_id, "action": action,
                     "details": details, "prev_hash": tail["hash"] if tail else GENESIS}
            entry["hash"] = entry_hash(entry)
            if insert_unique(self.entries, dict(entry, _id=_id(seq))):
                return entry
            # another appender took this number: re-read the tail and try again
        raise DomainError("busy", "audit-busy", "the audit log is busy; please retry")

    def append_once(self, caller, action: str, office_id: str, details: dict, source: str,
                    lookback: int = 200) -> dict:
        """Append an entry caused by a fact another service published (`source`: its event id),
        unless one of the last `lookback` entries already records it: a redelivered event, or one
        handled again after a crash between the append and its consumer's commit, is appended once."""
        return self.append_each_once([(caller, action, details)], office_id, source, lookback)[0]

    def append_each_once(self, items: list[tuple], office_id: str, source: str, lookback: int = 200) -> list[dict]:
        """`items` (caller, action, details) of one published fact, each appended once: the n-th is
        keyed `source` (the first) or `source#n`, and one look back over the tail finds those a
        previous delivery appended already (a crash may have stopped it half-way)."""
        keys = [source if n == 0 else f"{source}#{n}" for n in range(len(items))]
        seen = self._recent_sources(set(keys), lookback)
        return [seen[key] if key in seen else self.append(caller, action, office_id, dict(details, source_event=key))
                for key, (caller, action, details) in zip(keys, items)]

    def _recent_sources(self, keys: set[str], lookback: int) -> dict[str, dict]:
        """The entries (their `_id` and source only) among the last `lookback` whose `source_event`
        is one of `keys`."""
        tail = self._tail()
        last = tail["seq"] if tail else 0
        found = {}
        for seq in range(last, max(0, last - lookback), -1):
            entry = self.entries.find_one({"_id": _id(seq)}, {"details.source_event": 1})
            source = ((entry or {}).get("details") or {}).get("source_event")
            if source in keys:
                found[source] = entry
                if len(found) == len(keys):
                    break
        return found

    def _tail(self) -> dict | None:
        """The last entry, by `_id` lookups only (a sorted read scans on FerretDB): entries are
        numbered 1, 2, 3, ... without gaps, so probe forward from the last number seen here,
        doubling the step, then bisect between the last number found and the first one missing."""
        def exists(seq: int) -> bool:
            return self.entries.find_one({"_id": _id(seq)}, {"_id": 1}) is not None
        found, step = self._known_seq, 1
        while exists(found + step):
            found, step = found + step, step * 2
        missing = found + step
        while missing - found > 1:
            middle = (found + missing) // 2
            found, missing = (middle, missing) if exists(middle) else (found, middle)
        self._known_seq = found
        return self.entries.find_one({"_id": _id(found)}) if found else None

    def list(self, office_id: str, start: dt.datetime, end: dt.datetime, limit: int = 1000) -> list[dict]:
        """Entries of one office with start <= at < end (UTC instants)."""
        query = {"office_id": office_id, "at": {"$gte": rfc3339(start), "$lt": rfc3339(end)}}
        return list(self.entries.find(query, {"_id": 0}).sort("at", 1).limit(limit))

    def verify(self) -> dict:
        return check_chain(self.entries.find({}).sort("_id", 1).batch_size(500))
