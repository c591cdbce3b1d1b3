"""Which events become messages, and the record of each message.

A message is keyed `<event_id>:<channel>`: recording it is an insert under that unique key, so a
redelivered event, a restarted consumer or a second replica never records (or sends) it twice.
The message is rendered when it is recorded (subject and body from the event's fields; no contact
details: those are looked up at send time). Its delivery state lives in `deliveries` records
(see policy.py).

Recording one event's messages is three kinds of insert, in this order, each idempotent, so a crash
anywhere is repaired by the redelivered event (the consumer marks it processed only afterwards):
1. the due-queue entry of each message (queue.py): from then on it will be sent;
2. the message record (the archive, read only by the safety sweep);
3. one entry in the application's delivery log `<application_id>:<n>` (n = 1, 2, ... contiguous),
   listing the event's messages; `GET /v1/applications/{id}/notifications` reads it by `_id` probes
   and the status of each message by its `<mid>:sent` / `<mid>:dead` records, never by a scan.
"""
from __future__ import annotations

import datetime as dt

from passport.v1 import notification_pb2
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import Appender, insert_unique, read_numbered

from services.notification import queue
from services.notification.ordering import order_key
from services.notification.templates import Templates, template_name

CHANNELS = ("EMAIL", "SMS")
LANGUAGES = ("id", "en")
DEFAULT_PREFERENCES = {"language": "id", "channels": ["SMS", "EMAIL"]}
STAFF_CHANNEL = "EMAIL"
# What the delivery log shows of a message (no contents: the applicant sees type, channel, status).
LOG_FIELDS = ("_id", "event_id", "event_type", "channel", "template", "language", "created_at")


class Messages:
    def __init__(self, db, clock: Clock, templates: Templates | None = None, hold_s: float = 0.0):
        """`hold_s`: how long an application's message waits before it is due (ordering.py: an earlier
        event still on its way through another topic is recorded, and sent, first)."""
        self.db, self.clock, self.hold = db, clock, dt.timedelta(seconds=hold_s)
        self.messages, self.preferences, self.deliveries = db["messages"], db["preferences"], db["deliveries"]
        self.log = db["application_log"]
        self._log_appender = Appender(self.log)
        self.templates = templates or Templates()

    def ensure_indexes(self) -> None:
        # For MongoDB; FerretDB answers only `_id` lookups without scanning (see docs/notification.md).
        self.deliveries.create_index("message_id")
        for channel in CHANNELS:
            queue.of(self.db, channel).create_index("due_at")
            queue.of(self.db, channel).create_index("group")

    def preferences_of(self, account_id: str) -> dict:
        doc = self.preferences.find_one({"_id": account_id})
        return {"language": doc["language"], "channels": doc["channels"]} if doc else dict(DEFAULT_PREFERENCES)

    def set_preferences(self, account_id: str, language: str, channels: list[str]) -> dict:
        if language not in LANGUAGES:
            raise invalid("language must be id or en", "language")
        if not channels or any(c not in CHANNELS for c in channels) or len(set(channels)) != len(channels):
            raise invalid("channels must be a non-empty list of EMAIL and/or SMS", "channels")
        # Only the account itself writes its preferences, so a whole-document replace is safe.
        self.preferences.replace_one({"_id": account_id}, {"_id": account_id, "language": language,
                                                           "channels": list(channels)}, upsert=True)
        return self.preferences_of(account_id)

    def record(self, envelope, account_id: str, application_id: str, fields: dict[str, str],
               fact: dict | None = None, channels: list[str] | None = None, language: str = "") -> int:
        """Render and record one message per preferred channel; returns how many were new.
        Raises TemplateError when a template needs a field the event lacks (nothing recorded).
        `fact` (ordering.fact_of) goes with each message and into the application's log, where the
        send-time rules (ordering.py) read it."""
        prefs = self.preferences_of(account_id)
        language = language if language in LANGUAGES else prefs["language"]
        if channels is not None:  # an anonymous reporter's contact decides, not preferences
            prefs = {**prefs, "channels": [ch for ch in CHANNELS if ch in channels]}
        rendered = {ch: self.templates.render(envelope.event_type, language, ch, fields) for ch in prefs["channels"]}
        now = self.clock.now()
        event_at = envelope.occurred_at.ToDatetime(tzinfo=now.tzinfo) if envelope.HasField("occurred_at") else now
        created, logged = 0, []
        for channel in prefs["channels"]:
            doc = {"_id": f"{envelope.event_id}:{channel}", "event_id": envelope.event_id,
                   "event_type": envelope.event_type, "account_id": account_id,
                   "application_id": application_id, "channel": channel,
                   "template": template_name(envelope.event_type), "language": language,
                   "subject": rendered[channel].subject, "body": rendered[channel].body,
                   "created_at": now, "event_at": event_at,
                   # messages of one group (application, else complaint) go out in event order
                   "group": application_id or envelope.aggregate_id, "fact": fact or {}}
            created += self._record(doc)
            logged.append({k: doc[k] for k in LOG_FIELDS})
        if application_id:
            self._log(application_id, envelope.event_id, logged, fact)
        return created

    def note(self, envelope, application_id: str, fact: dict) -> None:
        """An application's event that tells nobody (e.g. BillingIssued) still counts for the rules."""
        if application_id:
            self._log(application_id, envelope.event_id, [], fact)

    def _record(self, doc: dict) -> int:
        """Queue entry first: a crash between the two inserts leaves a message that is still sent
        (the entry carries it whole) and whose record the redelivered event writes."""
        due_at = self.clock.now() + (self.hold if doc.get("application_id") else dt.timedelta())
        queue.enqueue(self.db, doc, due_at)
        return int(insert_unique(self.messages, doc))

    def _log(self, application_id: str, event_id: str, items: list[dict], fact: dict | None = None) -> int:
        """Append to the application's delivery log at the first free `<application_id>:<n>`. Only
        inserts (n = 1, 2, ... until one is new), so the entries stay contiguous: a slot is taken only
        after all lower ones. A re-handled event may append its messages twice; readers drop the copy."""
        return self._log_appender.append(application_id, _log_key(application_id), lambda n: {
            "application_id": application_id, "n": n, "event_id": event_id, "messages": items,
            "fact": fact or {}, "at": self.clock.now()}, first=1)["n"]

    def facts_of(self, application_id: str) -> list[dict]:
        """The facts of every event of the application seen so far (once each), in event order."""
        return application_facts(self.db, application_id)

    def service_type_of(self, application_id: str) -> str:
        """NEW | RENEWAL | REPLACEMENT_*, from the application's ApplicationCreated ("" when not seen)."""
        return next((f["service_type"] for f in self.facts_of(application_id) if f.get("service_type")), "")

    def account_of(self, application_id: str) -> str:
        """The applicant of an application, from its earlier events (for events that carry none)."""
        return next((f["account_id"] for f in reversed(self.facts_of(application_id)) if f.get("account_id")), "")

    def record_for_supervisors(self, envelope, supervisor_ids: list[str], fields: dict[str, str],
                               template: str) -> int:
        """One message per supervisor, keyed `<event_id>:<channel>:<account_id>` (each supervisor is told
        once). EMAIL only: staff accounts carry an email address but no phone number. Not tied to an
        application, so they never show in an applicant's delivery log."""
        now = self.clock.now()
        event_at = envelope.occurred_at.ToDatetime(tzinfo=now.tzinfo) if envelope.HasField("occurred_at") else now
        created = 0
        for account_id in supervisor_ids:
            language = self.preferences_of(account_id)["language"]
            rendered = self.templates.render(envelope.event_type, language, STAFF_CHANNEL, fields, template)
            created += self._record({
                "_id": f"{envelope.event_id}:{STAFF_CHANNEL}:{account_id}", "event_id": envelope.event_id,
                "event_type": envelope.event_type, "account_id": account_id, "application_id": "",
                "audience": "SUPERVISOR", "channel": STAFF_CHANNEL, "template": template, "language": language,
                "subject": rendered.subject, "body": rendered.body, "created_at": now, "event_at": event_at})
        return created

    def for_application(self, application_id: str) -> list[dict]:
        """The application's delivery log: its entries probed by `_id` until the first gap, then each
        message's outcome by its keyed `<mid>:sent` / `<mid>:dead` records. Cost: the application's
        own messages, not the number of messages recorded overall."""
        if not application_id:
            raise DomainError("invalid", "validation-error", "application_id is required")
        items: dict[str, dict] = {}
        for entry in read_numbered(self.log, _log_key(application_id), first=1):
            for item in entry["messages"]:
                items.setdefault(item["_id"], dict(item))
        for item in items.values():
            item["status"], item["sent_at"] = self.status_of(item["_id"])
        return sorted(items.values(), key=lambda d: d["created_at"])

    def status_of(self, mid: str) -> tuple[str, dt.datetime | None]:
        sent = self.deliveries.find_one({"_id": f"{mid}:sent"}, {"at": 1})
        if sent is not None:
            return "SENT", sent["at"]
        if self.deliveries.find_one({"_id": f"{mid}:skipped"}, {"_id": 1}) is not None:
            return "SKIPPED", None
        if self.deliveries.find_one({"_id": f"{mid}:dead"}, {"_id": 1}) is not None:
            return "FAILED", None
        return "RECORDED", None


def to_proto(doc: dict) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        notification_id=doc["_id"], event_id=doc["event_id"], event_type=doc["event_type"],
        channel=doc["channel"], template=doc["template"], language=doc["language"], status=doc["status"],
        created_at=rfc3339(doc["created_at"]), sent_at=rfc3339(doc["sent_at"]) if doc.get("sent_at") else "")


def application_facts(db, application_id: str) -> list[dict]:
    """The application's facts from its delivery log (by `_id` probes), once per event, in event order."""
    facts: dict[str, dict] = {}
    for entry in read_numbered(db["application_log"], _log_key(application_id), first=1,
                               projection={"fact": 1, "event_id": 1, "messages": 1}):
        fact = entry.get("fact")
        if not fact and entry.get("messages"):  # logged before facts existed: its type and time only
            first = entry["messages"][0]
            fact = {"event_type": first["event_type"], "event_id": entry["event_id"],
                    "event_at": first["created_at"], "legacy": True}
        if fact and fact.get("event_id"):
            facts.setdefault(fact["event_id"], fact)
    return sorted(facts.values(), key=order_key)


def _log_key(application_id: str):
    return lambda n: f"{application_id}:{n}"
