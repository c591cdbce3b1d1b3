"""Which events become messages, and the record of each message.

A message is keyed `<event_id>:<channel>`: recording it is an insert under that unique key, so a
redelivered event, a restarted consumer or a second replica never records (or sends) it twice.
"""
from __future__ import annotations

import re

from passport.v1 import notification_pb2
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import insert_unique

CHANNELS = ("EMAIL", "SMS")
LANGUAGES = ("id", "en")
DEFAULT_PREFERENCES = {"language": "id", "channels": ["SMS", "EMAIL"]}


def template_name(event_type: str) -> str:
    """AppointmentBooked -> appointment_booked."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_type).lower()


class Messages:
    def __init__(self, db, clock: Clock):
        self.messages, self.preferences, self.clock = db["messages"], db["preferences"], clock

    def ensure_indexes(self) -> None:
        self.messages.create_index("application_id")

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

    def record(self, envelope, account_id: str, application_id: str) -> int:
        """Record one message per preferred channel; returns how many were new."""
        prefs = self.preferences_of(account_id)
        created = 0
        for channel in prefs["channels"]:
            created += insert_unique(self.messages, {
                "_id": f"{envelope.event_id}:{channel}", "event_id": envelope.event_id,
                "event_type": envelope.event_type, "account_id": account_id,
                "application_id": application_id, "channel": channel,
                "template": template_name(envelope.event_type), "language": prefs["language"],
                "status": "RECORDED", "created_at": self.clock.now()})
        return created

    def for_application(self, application_id: str) -> list[dict]:
        if not application_id:
            raise DomainError("invalid", "validation-error", "application_id is required")
        return list(self.messages.find({"application_id": application_id}).sort("created_at", 1))


def to_proto(doc: dict) -> notification_pb2.Notification:
    return notification_pb2.Notification(
        notification_id=doc["_id"], event_id=doc["event_id"], event_type=doc["event_type"],
        channel=doc["channel"], template=doc["template"], language=doc["language"], status=doc["status"],
        created_at=rfc3339(doc["created_at"]), sent_at=rfc3339(doc["sent_at"]) if doc.get("sent_at") else "")
