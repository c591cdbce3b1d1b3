"""Kafka event handlers: each envelope and payload becomes a domain Event for the telling use case."""
from __future__ import annotations

from servicekit.consumer import PermanentError

from services.notification.adapters.proto import occurred_at, payload_dict
from services.notification.domain.message import Event
from services.notification.domain.templates import (DEFAULT_WEB_BASE_URL, EVENT_TYPES, FACT_ONLY, INTERNAL_TYPES,
                                                    TemplateError)
from services.notification.usecases.messages import Messages
from services.notification.usecases.telling import TellAboutEvent


def event_of(envelope, payload) -> Event:
    return Event(event_id=envelope.event_id, event_type=envelope.event_type, occurred_at=occurred_at(envelope),
                 aggregate_id=envelope.aggregate_id, data=payload_dict(payload))


def handlers(messages: Messages, zones=None, supervisors=None, reminders=None,
             web_base_url: str = DEFAULT_WEB_BASE_URL) -> dict:
    """Event type -> handler, for every event type that has templates, and for the silent ones whose
    facts the send-time rules need (FACT_ONLY). Other types (and types whose payload message this build
    does not know) are logged, counted and skipped by the consumer. Types in SUPERVISOR_TEMPLATES are
    also told to the office's supervisors."""
    telling = TellAboutEvent(messages, zones, supervisors, reminders, web_base_url)

    def note(envelope, payload):
        telling.note(event_of(envelope, payload))

    def handle(envelope, payload):
        try:
            telling.tell(event_of(envelope, payload))
        except TemplateError as exc:  # the event breaks the contract its templates rely on: never retried
            raise PermanentError(str(exc)) from None

    return {**{t: note for t in FACT_ONLY},
            **{t: handle for t in EVENT_TYPES if t not in INTERNAL_TYPES and messages.templates.has(t)}}
