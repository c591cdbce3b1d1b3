"""Per-channel due queues: the only collections the delivery worker scans.

`due_<channel>` holds one entry per OPEN message of that channel, under the message's id. An entry is
the whole rendered message (so sending reads nothing else) plus two scheduling hints:
- `due_at`: when to look at it next;
- `failed`: the number of the last attempt known to have failed. Written only after its
  `<mid>:failed:<n>` record, and only for a failure that is retried, so attempts 1..n all failed
  (none sent, none dead-lettered): the next attempt is n + 1, claimed by inserting `<mid>:attempt:<n+1>`.
  A stale hint only makes that claim collide; the worker then reads the message's records.

An entry is inserted BEFORE the message record and removed only after `<mid>:sent` or `<mid>:dead`
exists, so the queue holds every open message and nothing else: a poll costs the backlog, never the
history. The safety sweep (Delivery.sweep) re-queues an open message whose entry was lost anyway.
FerretDB updates are read-modify-write; a lost update of a hint costs a re-check, never a decision.
"""
from __future__ import annotations

import datetime as dt

from servicekit.mongo import insert_unique


def of(db, channel: str):
    return db[f"due_{channel.lower()}"]


def entry(message: dict, due_at: dt.datetime) -> dict:
    return {**message, "due_at": due_at, "failed": 0}


def enqueue(db, message: dict, due_at: dt.datetime) -> bool:
    """Idempotent: False when the message is queued already."""
    return insert_unique(of(db, message["channel"]), entry(message, due_at))
