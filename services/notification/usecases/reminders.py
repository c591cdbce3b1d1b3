"""Reminding the day before a paid appointment (the rules: domain/reminders.py).

When an appointment is confirmed (paid) or moved, a pending reminder `<application_id>:<date>` is
added with the moment it is due. A pass (entrypoints/workers.py, every `NOTIFY_REMINDER_POLL_S`)
reads the due ones (the store holds only pending reminders) and, if the reminder is still right,
records the reminder message (keyed `reminder:<application_id>:<date>`, so twice is still once);
then removes the pending one. A reminder made stale after it was recorded (a later cancellation or
move) is skipped at send time like any message (domain/ordering.py).
"""
from __future__ import annotations

import datetime as dt
import logging

from servicekit import log
from servicekit.clock import Clock

from services.notification.adapters.repositories import PendingReminders
from services.notification.domain.reminders import Reminder
from services.notification.domain.templates import fields_of
from services.notification.usecases.messages import Messages

logger = logging.getLogger("notification.reminders")


class Reminders:
    def __init__(self, db, clock: Clock, messages: Messages, hour: int = 9):
        self.pending, self.clock, self.messages, self.hour = PendingReminders(db), clock, messages, hour

    def ensure_indexes(self) -> None:
        self.pending.ensure_indexes()

    def schedule(self, data: dict, tz: dt.tzinfo | None) -> bool:
        """On AppointmentConfirmed / AppointmentRescheduled; returns whether a reminder was added."""
        reminder = Reminder.scheduled(data, tz, self.hour, self.clock.now())
        return reminder is not None and self.pending.add(reminder)

    def run_due(self) -> int:
        """Record the reminders that are due and still right; returns how many were recorded."""
        recorded = 0
        for reminder in self.pending.due(self.clock.now()):
            facts = self.messages.facts_of(reminder.application_id)
            now = self.clock.now()
            if reminder.still_right(facts, self.hour, now):
                event = reminder.event(facts, now)
                self.messages.record(event, reminder.account_id, reminder.application_id, fields_of(event.data),
                                     reminder.fact(event))
                recorded += 1
            else:
                log.event(logger, "reminder no longer right, dropped", application_id=reminder.application_id)
            self.pending.remove(reminder)
        return recorded
