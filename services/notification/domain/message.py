"""The Message aggregate: what is sent, to whom, in which language, and what its delivery log shows.

A message is keyed `<event_id>:<channel>` (a supervisor's `<event_id>:<channel>:<account_id>`), so
recording one twice is recording it once. Its contents are rendered when it is recorded; contact
details are not part of it (they are looked up at send time).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from services.notification.domain.errors import InvalidInput
from services.notification.domain.templates import LANGUAGES, Rendered, template_name

CHANNELS = ("EMAIL", "SMS")
STAFF_CHANNEL = "EMAIL"  # staff accounts carry an email address but no phone number
REPORTER_PREFIX = "complaint:"  # "account" of an anonymous reporter who left a contact: complaint:<id>
# What the delivery log shows of a message (no contents: the applicant sees type, channel, status).
LOG_FIELDS = ("_id", "event_id", "event_type", "channel", "template", "language", "created_at")


@dataclass(frozen=True)
class Event:
    """An event as this service sees it: a peer's fact from Kafka, or a reminder it makes itself."""
    event_id: str
    event_type: str
    occurred_at: dt.datetime | None  # None when the producer did not say: then "when it was handled"
    aggregate_id: str = ""
    data: dict = field(default_factory=dict)

    def at(self, now: dt.datetime) -> dt.datetime:
        return self.occurred_at if self.occurred_at is not None else now

    @property
    def application_id(self) -> str:
        return self.data.get("application_id") or ""

    @property
    def office_id(self) -> str:
        return self.data.get("office_id") or ""


@dataclass(frozen=True)
class Preferences:
    language: str = "id"
    channels: tuple[str, ...] = ("SMS", "EMAIL")

    @classmethod
    def chosen(cls, language: str, channels: list[str]) -> "Preferences":
        """What an account asks for, if the rules allow it."""
        if language not in LANGUAGES:
            raise InvalidInput("language must be id or en", "language")
        if not channels or any(c not in CHANNELS for c in channels) or len(set(channels)) != len(channels):
            raise InvalidInput("channels must be a non-empty list of EMAIL and/or SMS", "channels")
        return cls(language, tuple(channels))

    def for_contact(self, channels: list[str] | None, language: str) -> "Preferences":
        """An anonymous reporter's contact decides the channels (in the usual order) and the language it
        gave, when valid; an account's own preferences otherwise."""
        chosen_language = language if language in LANGUAGES else self.language
        if channels is None:
            return Preferences(chosen_language, self.channels)
        return Preferences(chosen_language, tuple(ch for ch in CHANNELS if ch in channels))


DEFAULT_PREFERENCES = Preferences()


@dataclass(frozen=True)
class Message:
    id: str
    event_id: str
    event_type: str
    account_id: str
    application_id: str
    channel: str
    template: str
    language: str
    subject: str
    body: str
    created_at: dt.datetime
    event_at: dt.datetime
    group: str | None = None      # messages of one group (application, else complaint) go out in event order
    fact: dict | None = None      # the event's fact (ordering.fact_of), read by the send-time rules
    audience: str = ""            # "SUPERVISOR" for office staff; "" for the applicant

    @classmethod
    def to_applicant(cls, event: Event, account_id: str, application_id: str, channel: str, language: str,
                     rendered: Rendered, fact: dict | None, now: dt.datetime) -> "Message":
        return cls(id=f"{event.event_id}:{channel}", event_id=event.event_id, event_type=event.event_type,
                   account_id=account_id, application_id=application_id, channel=channel,
                   template=template_name(event.event_type), language=language, subject=rendered.subject,
                   body=rendered.body, created_at=now, event_at=event.at(now),
                   group=application_id or event.aggregate_id, fact=fact or {})

    @classmethod
    def to_supervisor(cls, event: Event, account_id: str, template: str, language: str, rendered: Rendered,
                      now: dt.datetime) -> "Message":
        """Each supervisor is told once; not tied to an application, so never in an applicant's log."""
        return cls(id=f"{event.event_id}:{STAFF_CHANNEL}:{account_id}", event_id=event.event_id,
                   event_type=event.event_type, account_id=account_id, application_id="", channel=STAFF_CHANNEL,
                   template=template, language=language, subject=rendered.subject, body=rendered.body,
                   created_at=now, event_at=event.at(now), audience="SUPERVISOR")

    def held_until(self, now: dt.datetime, hold: dt.timedelta) -> dt.datetime:
        """When it becomes due: an application's message waits `hold` so that an earlier event still on
        its way through another topic is recorded (and sent) first (ordering.py)."""
        return now + (hold if self.application_id else dt.timedelta())

    def log_item(self) -> dict:
        """What the application's delivery log keeps of it."""
        return {"_id": self.id, "event_id": self.event_id, "event_type": self.event_type, "channel": self.channel,
                "template": self.template, "language": self.language, "created_at": self.created_at}
