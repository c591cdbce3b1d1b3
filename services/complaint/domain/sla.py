"""Service levels of complaints in WORKING days of the office calendar: pure date arithmetic.

A due date of N working days is the end (local midnight) of the N-th working day after the day
the complaint was filed, in the office's time zone; weekends and national holidays do not count.
The office calendar (time zone, working days, national holidays) is the booking service's; the
adapters ask for it (adapters/calendars.py), so the complaint service deploys on its own.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo


CATEGORIES = ("SERVICE", "BROKER_OR_EXTORTION", "LOST_PASSPORT", "DAMAGED_PASSPORT", "PAYMENT",
              "APP_ERROR", "OTHER")
FIRST_RESPONSE_DAYS = 3
RESOLUTION_DAYS = 5
DISPUTE_DAYS = 14
# Disputes (about money already paid) get the longer resolution level.
DISPUTE_CATEGORIES = frozenset({"PAYMENT"})
DUE_SOON = dt.timedelta(days=1)
MONTH_RE = re.compile(r"[0-9]{4}-[0-9]{2}")

ON_TIME, DUE_SOON_STATE, BREACHED = "on_time", "due_soon", "breached"
CLOSED_STATUSES = ("RESOLVED", "REJECTED")


@dataclass(frozen=True)
class OfficeCalendar:
    office_id: str
    timezone: str
    working_days: tuple[int, ...]  # Monday = 0
    holidays: frozenset[dt.date]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def add_working_days(self, moment: dt.datetime, count: int) -> dt.datetime:
        """End of the `count`-th working day after the local date of `moment` (as UTC-aware)."""
        day = moment.astimezone(self.tz).date()
        found = 0
        while found < count:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                found += 1
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), self.tz)
        return end.astimezone(dt.timezone.utc)

    def month_bounds(self, month: str) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of a YYYY-MM month in the office's local time, as UTC; ValueError if bad."""
        if not MONTH_RE.fullmatch(month):
            raise ValueError("month must be YYYY-MM")
        year, mon = int(month[:4]), int(month[5:])
        if not 1970 <= year <= 9998:  # year 1 or 9999 would overflow when shifted to UTC
            raise ValueError("month must be YYYY-MM between 1970 and 9998")
        start = dt.datetime(year, mon, 1, tzinfo=self.tz)
        end = dt.datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=self.tz)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def resolution_days(category: str) -> int:
    return DISPUTE_DAYS if category in DISPUTE_CATEGORIES else RESOLUTION_DAYS


def due_dates(cal: OfficeCalendar, filed_at: dt.datetime, category: str) -> tuple[dt.datetime, dt.datetime]:
    """(first response due, resolution due)."""
    return (cal.add_working_days(filed_at, FIRST_RESPONSE_DAYS),
            cal.add_working_days(filed_at, resolution_days(category)))


def state(now: dt.datetime, first_due: dt.datetime, resolution_due: dt.datetime,
          first_response_at: dt.datetime | None, closed_at: dt.datetime | None) -> str:
    """on_time, due_soon or breached, for an open or a closed complaint."""
    if closed_at is not None:
        return ON_TIME if closed_on_time(closed_at, resolution_due) else BREACHED
    if now > resolution_due:
        return BREACHED
    if first_response_at is None and now > first_due:
        return BREACHED
    if first_response_at is not None and first_response_at > first_due:
        return BREACHED
    next_due = resolution_due if first_response_at is not None else first_due
    return DUE_SOON_STATE if next_due - now <= DUE_SOON else ON_TIME


def breaches(now: dt.datetime, first_due: dt.datetime, resolution_due: dt.datetime,
             first_response_at: dt.datetime | None, closed_at: dt.datetime | None) -> list[str]:
    """Kinds of escalation due now: FIRST_RESPONSE and/or RESOLUTION."""
    kinds = []
    if first_response_at is None and closed_at is None and now > first_due:
        kinds.append("FIRST_RESPONSE")
    if closed_at is None and now > resolution_due:
        kinds.append("RESOLUTION")
    return kinds


def closed_on_time(closed_at: dt.datetime, resolution_due: dt.datetime) -> bool:
    return closed_at <= resolution_due
