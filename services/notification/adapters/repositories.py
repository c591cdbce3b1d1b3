"""Repositories: the only code that reads and writes the notification store (besides queue.py).

Collections: `messages` (the archive of rendered messages), `application_log` (each application's
delivery log `<application_id>:<n>`, n = 1, 2, ... contiguous, with the facts of its events),
`preferences`, `deliveries` (the keyed records of each message's delivery, domain/delivery.py) and
`reminders` (pending ones only). Every write is an insert under a unique `_id` except preferences
(only the account itself writes them) and the removal of a pending reminder, so a redelivered event
or a second replica never records anything twice.
FerretDB answers only `_id` lookups without scanning: reads on the request and send paths are
`_id` probes (see docs/notification.md).
"""
from __future__ import annotations

import datetime as dt

from servicekit import outbox
from servicekit.clock import Clock
from servicekit.events import TOPICS, new_event
from servicekit.mongo import Appender, NumberedReader, find_by_ids, insert_unique, upsert

from services.notification.adapters.proto import failed_to_proto
from services.notification.domain.delivery import Delivery, NotificationFailed
from services.notification.domain.message import DEFAULT_PREFERENCES, Message, Preferences
from services.notification.domain.ordering import order_key
from services.notification.domain.reminders import Reminder


def message_doc(message: Message) -> dict:
    """Message -> its stored record (and queue entry, adapters/queue.py); the one mapping."""
    doc = {"_id": message.id, "event_id": message.event_id, "event_type": message.event_type,
           "account_id": message.account_id, "application_id": message.application_id,
           "channel": message.channel, "template": message.template, "language": message.language,
           "subject": message.subject, "body": message.body, "created_at": message.created_at,
           "event_at": message.event_at}
    if message.audience:
        doc["audience"] = message.audience
    if message.group is not None:
        doc["group"] = message.group
        doc["fact"] = message.fact or {}
    return doc


class MessageArchive:
    """Every message ever recorded, whole; read only by the safety sweep."""

    def __init__(self, db):
        self.collection = db["messages"]

    def add(self, doc: dict) -> bool:
        return insert_unique(self.collection, doc)

    def channels(self) -> dict[str, str]:
        """Message id -> channel, of every message (a full scan: the sweep only)."""
        return {m["_id"]: m["channel"] for m in self.collection.find({}, {"channel": 1})}

    def get(self, message_id: str) -> dict | None:
        return self.collection.find_one({"_id": message_id})


class PreferencesStore:
    def __init__(self, db):
        self.collection = db["preferences"]

    def of(self, account_id: str) -> Preferences:
        doc = self.collection.find_one({"_id": account_id})
        return Preferences(doc["language"], tuple(doc["channels"])) if doc else DEFAULT_PREFERENCES

    def save(self, account_id: str, prefs: Preferences) -> None:
        # Only the account itself writes its preferences, so a whole-document replace is safe.
        upsert(self.collection, {"_id": account_id},
               {"_id": account_id, "language": prefs.language, "channels": list(prefs.channels)})


class ApplicationLog:
    """Each application's delivery log: entries `<application_id>:<n>` listing an event's messages
    and its fact. Only inserts at the first free n, so the entries stay contiguous and are read by
    `_id` probes until the first gap: the cost is the application's own messages, and an entry never
    changes, so this process reads each one once (each event's delivery reads the log again)."""

    def __init__(self, db, clock: Clock):
        self.collection, self.clock = db["application_log"], clock
        self._appender = Appender(self.collection)
        self._reader = NumberedReader(self.collection)

    def append(self, application_id: str, event_id: str, items: list[dict], fact: dict | None = None) -> int:
        """A re-handled event may append its messages twice; readers drop the copy."""
        return self._appender.append(application_id, _log_key(application_id), lambda n: {
            "application_id": application_id, "n": n, "event_id": event_id, "messages": items,
            "fact": fact or {}, "at": self.clock.now()}, first=1)["n"]

    def items(self, application_id: str) -> list[dict]:
        """The logged messages of the application, once each (without status)."""
        items: dict[str, dict] = {}
        for entry in self._reader.read(application_id, _log_key(application_id), first=1):
            for item in entry["messages"]:
                items.setdefault(item["_id"], dict(item))
        return list(items.values())

    def facts(self, application_id: str) -> list[dict]:
        """The facts of every event of the application seen so far (once each), in event order."""
        facts: dict[str, dict] = {}
        for entry in self._reader.read(application_id, _log_key(application_id), first=1):
            fact = entry.get("fact")
            if not fact and entry.get("messages"):  # logged before facts existed: its type and time only
                first = entry["messages"][0]
                fact = {"event_type": first["event_type"], "event_id": entry["event_id"],
                        "event_at": first["created_at"], "legacy": True}
            if fact and fact.get("event_id"):
                facts.setdefault(fact["event_id"], fact)
        return sorted(facts.values(), key=order_key)


CLOSING = ("sent", "skipped", "dead")  # the records that end a message's delivery


class DeliveryRecords:
    """The keyed delivery records of each message (domain/delivery.py names them)."""

    def __init__(self, db, clock: Clock):
        self.collection, self.clock = db["deliveries"], clock

    def ensure_indexes(self) -> None:
        self.collection.create_index("message_id")

    def claim(self, message_id: str, attempt: int, at: dt.datetime) -> bool:
        """The right to send attempt n: only the winner of this insert sends."""
        return insert_unique(self.collection, {"_id": f"{message_id}:attempt:{attempt}", "message_id": message_id,
                                               "kind": "attempt", "n": attempt, "at": at})

    def sent(self, message_id: str, attempt: int, at: dt.datetime) -> None:
        insert_unique(self.collection, {"_id": f"{message_id}:sent", "message_id": message_id, "kind": "sent",
                                        "n": attempt, "at": at})

    def failed(self, message_id: str, attempt: int, at: dt.datetime, error: str, permanent: bool,
               next_at: dt.datetime) -> dict:
        failure = {"_id": f"{message_id}:failed:{attempt}", "message_id": message_id, "kind": "failed",
                   "n": attempt, "at": at, "error": error, "permanent": permanent, "next_at": next_at}
        insert_unique(self.collection, failure)
        return failure

    def skipped(self, message_id: str, at: dt.datetime, reason: str) -> None:
        insert_unique(self.collection, {"_id": f"{message_id}:skipped", "message_id": message_id, "kind": "skipped",
                                        "n": 0, "at": at, "reason": reason})

    def dead(self, failed: NotificationFailed, aggregate_id: str) -> bool:
        """The dead-letter record with its NotificationFailed event (outbox: published once it is stored);
        False when it existed already."""
        event = new_event("notification", aggregate_id, failed_to_proto(failed), self.clock)
        record = {"_id": f"{failed.notification_id}:dead", "message_id": failed.notification_id, "kind": "dead",
                  "n": failed.attempts, "at": self.clock.now(), "reason": failed.reason}
        return outbox.insert(self.collection, record, [event], TOPICS["notification"], self.clock)

    def of(self, message_ids: list[str]) -> dict[str, Delivery]:
        """The deliveries of these messages, from their records (one query for all)."""
        records: dict[str, list[dict]] = {mid: [] for mid in message_ids}
        for r in self.collection.find({"message_id": {"$in": list(records)}}, {"_outbox": 0}):
            records[r["message_id"]].append(r)
        return {mid: Delivery(mid, tuple(rs)) for mid, rs in records.items()}

    def closed(self) -> set[str]:
        """Ids of the messages sent, dead-lettered or skipped (a full scan: the sweep only)."""
        return {r["message_id"] for r in self.collection.find({"kind": {"$in": list(CLOSING)}},
                                                               {"message_id": 1})}

    def statuses_of(self, message_ids: list[str]) -> dict[str, tuple[str, dt.datetime | None]]:
        """What the delivery log shows for each message: its closing records (sent, skipped, dead)
        read by `_id` in one lookup for all the messages."""
        closing = {d["_id"]: d for d in find_by_ids(
            self.collection, [f"{mid}:{kind}" for mid in message_ids for kind in CLOSING], {"at": 1})}

        def status(mid: str) -> tuple[str, dt.datetime | None]:
            if f"{mid}:sent" in closing:
                return "SENT", closing[f"{mid}:sent"]["at"]
            if f"{mid}:skipped" in closing:
                return "SKIPPED", None
            return ("FAILED", None) if f"{mid}:dead" in closing else ("RECORDED", None)
        return {mid: status(mid) for mid in message_ids}


class PendingReminders:
    """Only pending reminders: a poll reads the due ones, a handled one is removed."""

    def __init__(self, db):
        self.collection = db["reminders"]

    def ensure_indexes(self) -> None:
        self.collection.create_index("due_at")

    def add(self, reminder: Reminder) -> bool:
        return insert_unique(self.collection, {
            "_id": reminder.id, "application_id": reminder.application_id, "account_id": reminder.account_id,
            "office_id": reminder.office_id, "date": reminder.date, "start_time": reminder.start_time,
            "zone": reminder.zone, "due_at": reminder.due_at})

    def due(self, now: dt.datetime, limit: int = 200) -> list[Reminder]:
        return [Reminder(r["application_id"], r["account_id"], r["office_id"], r["date"], r["start_time"],
                         r.get("zone") or "", r["due_at"])
                for r in self.collection.find({"due_at": {"$lte": now}}).sort("due_at", 1).limit(limit)]

    def remove(self, reminder: Reminder) -> None:
        self.collection.delete_one({"_id": reminder.id})


def _log_key(application_id: str):
    return lambda n: f"{application_id}:{n}"
