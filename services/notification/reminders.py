"""The reminder the day before a paid appointment, at a configurable hour of the office's day.

When an appointment is confirmed (paid) or moved, a pending reminder `<application_id>:<date>` is
inserted (unique key: a redelivered event inserts nothing new) with the moment it is due: the day
before the appointment at `NOTIFY_REMINDER_HOUR` (09:00) in the office's zone, or at once when that
moment has passed and the appointment has not started yet (booked late), never after it started.
A worker (`NOTIFY_REMINDER_POLL_S`, 30 s) reads the due ones (the collection holds only pending
reminders) and, if the application's facts still name that date and nothing cancelled it since,
records the reminder message (keyed `reminder:<application_id>:<date>`, so twice is still once);
then removes the pending entry. A reminder made stale after it was recorded (a later cancellation
or move) is skipped at send time like any message (ordering.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import envelope_pb2
from servicekit import log, metrics
from servicekit.clock import Clock
from servicekit.mongo import insert_unique

from services.notification.messages import Messages
from services.notification.ordering import CLOSING
from services.notification.templates import fields_of

logger = logging.getLogger("notification.reminders")
EVENT_TYPE = "AppointmentReminder"
SCHEDULES = ("AppointmentConfirmed", "AppointmentRescheduled")  # a paid appointment, or its new date
DATED = ("AppointmentBooked", "AppointmentConfirmed", "AppointmentRescheduled")
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")


def due_at(date: str, start_time: str, tz: dt.tzinfo, hour: int, now: dt.datetime) -> dt.datetime | None:
    """When to remind of an appointment on `date` at `start_time` (office zone `tz`), or None once it
    has started. Pure."""
    day = dt.date.fromisoformat(date)
    hh, mm = (int(x) for x in (start_time or "00:00").split(":")[:2])
    starts = dt.datetime.combine(day, dt.time(hh, mm), tz)
    if now >= starts:
        return None
    remind = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(hour), tz)
    return max(remind, now).astimezone(dt.timezone.utc)


def current_appointment(facts: list[dict]) -> dict | None:
    """The application's appointment as its facts tell it now (None once cancelled or missed)."""
    current = None
    for f in facts:  # in event order
        if f["event_type"] in DATED and f.get("date"):
            current = f
        elif f["event_type"] in CLOSING:
            current = None
    return current


class Reminders:
    def __init__(self, db, clock: Clock, messages: Messages, hour: int = 9):
        self.pending, self.clock, self.messages, self.hour = db["reminders"], clock, messages, hour

    def ensure_indexes(self) -> None:
        self.pending.create_index("due_at")

    def schedule(self, data: dict, tz: dt.tzinfo | None) -> bool:
        """On AppointmentConfirmed / AppointmentRescheduled; returns whether a reminder was added."""
        app, date = data.get("application_id") or "", data.get("date") or ""
        if not app or not date:
            return False
        tz = tz or DEFAULT_ZONE
        when = due_at(date, data.get("start_time") or "", tz, self.hour, self.clock.now())
        if when is None:
            return False
        return insert_unique(self.pending, {
            "_id": f"{app}:{date}", "application_id": app, "account_id": data.get("account_id") or "",
            "office_id": data.get("office_id") or "", "date": date, "start_time": data.get("start_time") or "",
            "zone": getattr(tz, "key", ""), "due_at": when})

    def run_due(self) -> int:
        """Record the reminders that are due and still right; returns how many were recorded."""
        recorded = 0
        for r in list(self.pending.find({"due_at": {"$lte": self.clock.now()}}).sort("due_at", 1).limit(200)):
            facts = self.messages.facts_of(r["application_id"])
            now = self.clock.now()
            current = current_appointment(facts)
            if current is not None and current.get("date") == r["date"] and \
                    due_at(r["date"], r["start_time"], ZoneInfo(r["zone"]) if r.get("zone") else DEFAULT_ZONE,
                           self.hour, now) is not None:
                self._record(r, facts, now)
                recorded += 1
            else:
                log.event(logger, "reminder no longer right, dropped", application_id=r["application_id"])
            self.pending.delete_one({"_id": r["_id"]})
        return recorded

    def _record(self, r: dict, facts: list[dict], now: dt.datetime) -> None:
        occurred = Timestamp()
        occurred.FromDatetime(now)
        envelope = envelope_pb2.EventEnvelope(event_id=f"reminder:{r['application_id']}:{r['date']}",
                                              event_type=EVENT_TYPE, occurred_at=occurred,
                                              aggregate_id=r["application_id"], producer="notification")
        service_type = next((f["service_type"] for f in facts if f.get("service_type")), "")
        data = {"application_id": r["application_id"], "office_id": r["office_id"], "date": r["date"],
                "start_time": r["start_time"], "service_type": service_type}
        self.messages.record(envelope, r["account_id"], r["application_id"], fields_of(data),
                             {"event_type": EVENT_TYPE, "event_id": envelope.event_id, "event_at": now,
                              "date": r["date"]})

    def worker(self, interval_s: float = 30.0):
        def run(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    self.run_due()
                    metrics.WORKER_LAST_RUN.labels("reminders").set_to_current_time()
                except Exception:
                    logger.exception("reminder pass failed")
                stop.wait(interval_s)
        return run
