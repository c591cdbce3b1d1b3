"""Recording messages, and what the applicant and the rules read back.

Recording one event's messages is three kinds of insert, in this order, each idempotent, so a crash
anywhere is repaired by the redelivered event (the consumer marks it processed only afterwards):
1. the due-queue entry of each message (adapters/queue.py): from then on it will be sent;
2. the message record (the archive, read only by the safety sweep);
3. one entry in the application's delivery log listing the event's messages and its fact;
   `GET /v1/applications/{id}/notifications` reads it by `_id` probes and the status of each message
   by its `<mid>:sent` / `<mid>:skipped` / `<mid>:dead` records, never by a scan.
"""
from __future__ import annotations

import datetime as dt

from servicekit.clock import Clock

from services.notification.adapters.queue import DueQueues
from services.notification.adapters.repositories import (ApplicationLog, DeliveryRecords, MessageArchive,
                                                         PreferencesStore, message_doc)
from services.notification.adapters.template_files import Templates
from services.notification.domain.errors import InvalidInput
from services.notification.domain.message import CHANNELS, STAFF_CHANNEL, Event, Message, Preferences


class Messages:
    def __init__(self, db, clock: Clock, templates: Templates | None = None, hold_s: float = 0.0):
        """`hold_s`: how long an application's message waits before it is due (domain/ordering.py: an
        earlier event still on its way through another topic is recorded, and sent, first)."""
        self.clock, self.hold = clock, dt.timedelta(seconds=hold_s)
        self.templates = templates or Templates()
        self.archive, self.preferences = MessageArchive(db), PreferencesStore(db)
        self.log, self.deliveries = ApplicationLog(db, clock), DeliveryRecords(db, clock)
        self.queues = DueQueues(db, CHANNELS)

    def ensure_indexes(self) -> None:
        # For MongoDB; FerretDB answers only `_id` lookups without scanning (see docs/notification.md).
        self.deliveries.ensure_indexes()
        self.queues.ensure_indexes()

    # -- preferences ---------------------------------------------------------------------------
    def preferences_of(self, account_id: str) -> Preferences:
        return self.preferences.of(account_id)

    def set_preferences(self, account_id: str, language: str, channels: list[str]) -> Preferences:
        """Raises InvalidInput when the rules do not allow them."""
        self.preferences.save(account_id, Preferences.chosen(language, channels))
        return self.preferences_of(account_id)

    # -- recording -----------------------------------------------------------------------------
    def record(self, event: Event, account_id: str, application_id: str, fields: dict[str, str],
               fact: dict | None = None, channels: list[str] | None = None, language: str = "") -> int:
        """Render and record one message per preferred channel; returns how many were new.
        Raises TemplateError when a template needs a field the event lacks (nothing recorded).
        `fact` (ordering.fact_of) goes with each message and into the application's log, where the
        send-time rules (domain/ordering.py) read it. `channels`/`language`: an anonymous reporter's
        contact decides them, not preferences."""
        prefs = self.preferences_of(account_id).for_contact(channels, language)
        rendered = {ch: self.templates.render(event.event_type, prefs.language, ch, fields) for ch in prefs.channels}
        now = self.clock.now()
        messages = [Message.to_applicant(event, account_id, application_id, ch, prefs.language, rendered[ch],
                                         fact, now) for ch in prefs.channels]
        created = sum(self._record(m) for m in messages)
        if application_id:
            self.log.append(application_id, event.event_id, [m.log_item() for m in messages], fact)
        return created

    def note(self, event: Event, application_id: str, fact: dict) -> None:
        """An application's event that tells nobody (e.g. BillingIssued) still counts for the rules."""
        if application_id:
            self.log.append(application_id, event.event_id, [], fact)

    def record_for_supervisors(self, event: Event, supervisor_ids: list[str], fields: dict[str, str],
                               template: str) -> int:
        """One message per supervisor, each in their own language, by the staff channel."""
        now, created = self.clock.now(), 0
        for account_id in supervisor_ids:
            language = self.preferences_of(account_id).language
            message = Message.to_supervisor(event, account_id, template, language, self.templates.render(
                event.event_type, language, STAFF_CHANNEL, fields, template), now)
            created += self._record(message)
        return created

    def _record(self, message: Message) -> int:
        """Queue entry first: a crash between the two inserts leaves a message that is still sent
        (the entry carries it whole) and whose record the redelivered event writes."""
        doc = message_doc(message)
        self.queues.enqueue(doc, message.held_until(self.clock.now(), self.hold))
        return int(self.archive.add(doc))

    # -- reading back --------------------------------------------------------------------------
    def facts_of(self, application_id: str) -> list[dict]:
        """The facts of every event of the application seen so far (once each), in event order."""
        return self.log.facts(application_id)

    def service_type_of(self, application_id: str) -> str:
        """NEW | RENEWAL | REPLACEMENT_*, from the application's ApplicationCreated ("" when not seen)."""
        return next((f["service_type"] for f in self.facts_of(application_id) if f.get("service_type")), "")

    def account_of(self, application_id: str) -> str:
        """The applicant of an application, from its earlier events (for events that carry none)."""
        return next((f["account_id"] for f in reversed(self.facts_of(application_id)) if f.get("account_id")), "")

    def for_application(self, application_id: str) -> list[dict]:
        """The application's delivery log with each message's status, oldest first. Cost: the
        application's own messages, not the number of messages recorded overall."""
        if not application_id:
            raise InvalidInput("application_id is required")  # (no field: the answer names none, as before)
        items = self.log.items(application_id)
        statuses = self.deliveries.statuses_of([item["_id"] for item in items])
        for item in items:
            item["status"], item["sent_at"] = statuses[item["_id"]]
        return sorted(items, key=lambda d: d["created_at"])

    def status_of(self, mid: str) -> tuple[str, dt.datetime | None]:
        return self.deliveries.statuses_of([mid])[mid]

