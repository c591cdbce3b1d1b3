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
        tail = self._tail()
        for seq in range(tail["seq"] if tail else 0, max(0, (tail["seq"] if tail else 0) - lookback), -1):
            entry = self.entries.find_one({"_id": _id(seq)}, {"details.source_event": 1})
            if entry and (entry.get("details") or {}).get("source_event") == source:
                return entry
        return self.append(caller, action, office_id, dict(details, source_event=source))

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
