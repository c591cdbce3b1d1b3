"""The reminder the day before a paid appointment: when it is due and whether it is still right. Pure.

Scheduled on AppointmentConfirmed / AppointmentRescheduled for the day before the appointment at
`NOTIFY_REMINDER_HOUR` in the office's zone (at once when that moment has passed and the appointment
has not started yet, never after it started); when due, it is told only if the application's facts
still name that date and nothing cancelled it since.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.notification.domain.message import Event
from services.notification.domain.ordering import CLOSING

EVENT_TYPE = "AppointmentReminder"
SCHEDULES = ("AppointmentConfirmed", "AppointmentRescheduled")  # a paid appointment, or its new date
DATED = ("AppointmentBooked", "AppointmentConfirmed", "AppointmentRescheduled")
DEFAULT_ZONE = ZoneInfo("Asia/Jakarta")


def due_at(date: str, start_time: str, tz: dt.tzinfo, hour: int, now: dt.datetime) -> dt.datetime | None:
    """When to remind of an appointment on `date` at `start_time` (office zone `tz`), or None once it
    has started."""
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


@dataclass(frozen=True)
class Reminder:
    """A pending reminder, keyed `<application_id>:<date>` (a redelivered event schedules nothing new)."""
    application_id: str
    account_id: str
    office_id: str
    date: str
    start_time: str
    zone: str  # the office's zone key ("" when unknown: Asia/Jakarta)
    due_at: dt.datetime

    @property
    def id(self) -> str:
        return f"{self.application_id}:{self.date}"

    @classmethod
    def scheduled(cls, data: dict, tz: dt.tzinfo | None, hour: int, now: dt.datetime) -> "Reminder | None":
        """The reminder an appointment's event asks for, or None (no date, or already started)."""
        app, date = data.get("application_id") or "", data.get("date") or ""
        if not app or not date:
            return None
        tz = tz or DEFAULT_ZONE
        when = due_at(date, data.get("start_time") or "", tz, hour, now)
        if when is None:
            return None
        return cls(app, data.get("account_id") or "", data.get("office_id") or "", date,
                   data.get("start_time") or "", getattr(tz, "key", ""), when)

    def still_right(self, facts: list[dict], hour: int, now: dt.datetime) -> bool:
        """The facts still name this date and the appointment has not started."""
        current = current_appointment(facts)
        return current is not None and current.get("date") == self.date and \
            due_at(self.date, self.start_time, ZoneInfo(self.zone) if self.zone else DEFAULT_ZONE,
                   hour, now) is not None

    def event(self, facts: list[dict], now: dt.datetime) -> Event:
        """The reminder as an event of its own (keyed `reminder:<application_id>:<date>`, so twice is once)."""
        service_type = next((f["service_type"] for f in facts if f.get("service_type")), "")
        return Event(event_id=f"reminder:{self.application_id}:{self.date}", event_type=EVENT_TYPE,
                     occurred_at=now, aggregate_id=self.application_id,
                     data={"application_id": self.application_id, "office_id": self.office_id, "date": self.date,
                           "start_time": self.start_time, "service_type": service_type})

    def fact(self, event: Event) -> dict:
        return {"event_type": EVENT_TYPE, "event_id": event.event_id, "event_at": event.occurred_at,
                "date": self.date}
