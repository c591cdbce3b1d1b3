"""The audit log's hash chain, pure: entry n carries the hash of entry n-1 and its own hash =
sha256(prev_hash + canonical JSON of the entry without `hash`); `check_chain` finds the first broken
link. The store side (appending under the next number) is adapters/audit.py."""
from __future__ import annotations

import hashlib
import json
from typing import Iterable

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor_account_id", "actor_role", "office_id", "action", "details", "prev_hash")


def entry_id(seq: int) -> str:
    """Entry n is stored under n zero-padded, so `_id` order is chain order."""
    return f"{seq:012d}"


def canonical(entry: dict) -> str:
    return json.dumps({k: entry[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict) -> str:
    return hashlib.sha256((entry["prev_hash"] + canonical(entry)).encode()).hexdigest()


def check_chain(entries: Iterable[dict]) -> dict:
    """Walk entries in `_id` order: {ok, entries, first_broken_seq, reason}. Pure."""
    prev_hash, expected, count = GENESIS, 1, 0
    for doc in entries:
        count += 1
        seq = doc.get("seq")
        broken = None
        if doc.get("_id") is not None and doc.get("_id") != entry_id(expected):
            broken = f"entry {entry_id(expected)} is missing (found {doc.get('_id')})"
        elif seq != expected:
            broken = f"entry {doc.get('_id')} says seq {seq}, expected {expected}"
        elif doc.get("prev_hash") != prev_hash:
            broken = "prev_hash does not match the hash of the previous entry"
        else:
            try:
                if entry_hash(doc) != doc.get("hash"):
                    broken = "the entry's content does not match its hash"
            except (KeyError, TypeError):
                broken = "the entry is malformed"
        if broken:
            return {"ok": False, "entries": count, "first_broken_seq": expected, "reason": broken}
        prev_hash, expected = doc["hash"], expected + 1
    return {"ok": True, "entries": count, "first_broken_seq": 0, "reason": ""}
