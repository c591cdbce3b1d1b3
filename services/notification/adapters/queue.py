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
history. The safety sweep (usecases/delivery.py `sweep`) re-queues an open message whose entry was lost anyway.
FerretDB updates are read-modify-write; a lost update of a hint costs a re-check, never a decision.
"""
from __future__ import annotations

import datetime as dt

from servicekit import idle
from servicekit.mongo import insert_unique


# What the order walk needs of a queue entry that is not in the poll's due batch.
LIGHT = {"_id": 1, "group": 1, "application_id": 1, "channel": 1, "event_type": 1, "event_id": 1, "event_at": 1,
         "due_at": 1, "created_at": 1, "fact": 1, "failed": 1}


def of(db, channel: str):
    return db[f"due_{channel.lower()}"]


def entry(message: dict, due_at: dt.datetime) -> dict:
    return {**message, "due_at": due_at, "failed": 0}


def enqueue(db, message: dict, due_at: dt.datetime) -> bool:
    """Idempotent: False when the message is queued already. Wakes this process's idle sender."""
    queued = insert_unique(of(db, message["channel"]), entry(message, due_at))
    if queued:
        idle.wake(of(db, message["channel"]).name)
    return queued


class DueQueues:
    """The due queues of the channels a delivery serves."""

    def __init__(self, db, channels):
        self.db = db
        self.queues = {channel: of(db, channel) for channel in channels}

    def ensure_indexes(self) -> None:
        for due in self.queues.values():
            due.create_index("due_at")
            due.create_index("group")

    def serves(self, channel: str) -> bool:
        return channel in self.queues

    def enqueue(self, message: dict, due_at: dt.datetime) -> bool:
        return enqueue(self.db, message, due_at)

    def due(self, channel: str, now: dt.datetime, limit: int) -> list[dict]:
        """The channel's entries due by `now`, the longest due first, whole."""
        return list(self.queues[channel].find({"due_at": {"$lte": now}}).sort("due_at", 1).limit(limit))

    def open_of(self, channel: str, groups: list[str]) -> list[dict]:
        """Every open entry of these order groups in the channel, read light (LIGHT)."""
        return list(self.queues[channel].find({"group": {"$in": groups}}, LIGHT)) if groups else []

    def get(self, channel: str, message_id: str) -> dict | None:
        return self.queues[channel].find_one({"_id": message_id})

    def hint(self, channel: str, message_id: str, fields: dict) -> None:
        """Scheduling hints; an update lost to a parallel writer costs a re-check. Never re-creates an
        entry removed meanwhile (no upsert)."""
        self.queues[channel].update_one({"_id": message_id}, {"$set": fields})

    def remove(self, channel: str, message_ids: list[str]) -> None:
        if message_ids:
            self.queues[channel].delete_many({"_id": {"$in": message_ids}})

    def ids(self) -> set[str]:
        """Every queued message id of every channel (the sweep only)."""
        return {e["_id"] for due in self.queues.values() for e in due.find({}, {"_id": 1})}
