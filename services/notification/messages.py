"""Which events become messages, and the record of each message.

A message is keyed `<event_id>:<channel>`: recording it is an insert under that unique key, so a
redelivered event, a restarted consumer or a second replica never records (or sends) it twice.
The message is rendered when it is recorded (subject and body from the event's fields; no contact
details: those are looked up at send time). Its delivery state lives in `deliveries` records
(see policy.py); `open` and `due_at` on the message are only scheduling hints for the worker.
"""
from __future__ import annotations

from passport.v1 import notification_pb2
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import insert_unique

from services.notification.policy import status_of
from services.notification.templates import Templates, template_name

CHANNELS = ("EMAIL", "SMS")
LANGUAGES = ("id", "en")
DEFAULT_PREFERENCES = {"language": "id", "channels": ["SMS", "EMAIL"]}
STAFF_CHANNEL = "EMAIL"


class Messages:
    def __init__(self, db, clock: Clock, templates: Templates | None = None):
        self.messages, self.preferences, self.clock = db["messages"], db["preferences"], clock
        self.deliveries = db["deliveries"]
        self.templates = templates or Templates()

    def ensure_indexes(self) -> None:
        self.messages.create_index("application_id")
        self.messages.create_index([("open", 1), ("channel", 1), ("due_at", 1)])
        self.deliveries.create_index("message_id")

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

    def record(self, envelope, account_id: str, application_id: str, fields: dict[str, str]) -> int:
        """Render and record one message per preferred channel; returns how many were new.
        Raises TemplateError when a template needs a field the event lacks (nothing recorded)."""
        prefs = self.preferences_of(account_id)
        language = prefs["language"]
        rendered = {ch: self.templates.render(envelope.event_type, language, ch, fields) for ch in prefs["channels"]}
        now = self.clock.now()
        event_at = envelope.occurred_at.ToDatetime(tzinfo=now.tzinfo) if envelope.HasField("occurred_at") else now
        created = 0
        for channel in prefs["channels"]:
            created += insert_unique(self.messages, {
                "_id": f"{envelope.event_id}:{channel}", "event_id": envelope.event_id,
                "event_type": envelope.event_type, "account_id": account_id,
                "application_id": application_id, "channel": channel,
                "template": template_name(envelope.event_type), "language": language,
                "subject": rendered[channel].subject, "body": rendered[channel].body,
                "status": "RECORDED", "created_at": now, "event_at": event_at,
                "open": True, "due_at": now})
        return created

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
            created += insert_unique(self.messages, {
                "_id": f"{envelope.event_id}:{STAFF_CHANNEL}:{account_id}", "event_id": envelope.event_id,
                "event_type": envelope.event_type, "account_id": account_id, "application_id": "",
                "audience": "SUPERVISOR", "channel": STAFF_CHANNEL, "template": template, "language": language,
                "subject": rendered.subject, "body": rendered.body, "status": "RECORDED", "created_at": now,
                "event_at": event_at, "open": True, "due_at": now})
        return created

    def for_application(self, application_id: str) -> list[dict]:
        if not application_id:
            raise DomainError("invalid", "validation-error", "application_id is required")
        docs = list(self.messages.find({"application_id": application_id, "audience": {"$ne": "SUPERVISOR"}},
                                       {"body": 0, "subject": 0})
                    .sort("created_at", 1))
        records: dict[str, list[dict]] = {d["_id"]: [] for d in docs}
        if docs:
            for r in self.deliveries.find({"message_id": {"$in": list(records)}, "kind": {"$in": ["sent", "dead"]}},
                                          {"_outbox": 0}):
                records[r["message_id"]].append(r)
        for d in docs:
            d["status"], d["sent_at"] = status_of(records[d["_id"]])
        return docs


def to_proto(doc: dict) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        notification_id=doc["_id"], event_id=doc["event_id"], event_type=doc["event_type"],
        channel=doc["channel"], template=doc["template"], language=doc["language"], status=doc["status"],
        created_at=rfc3339(doc["created_at"]), sent_at=rfc3339(doc["sent_at"]) if doc.get("sent_at") else "")
