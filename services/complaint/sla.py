"""Service levels of complaints in WORKING days of the office calendar: pure date arithmetic.

A due date of N working days is the end (local midnight) of the N-th working day after the day
the complaint was filed, in the office's time zone; weekends and national holidays do not count.
The office calendar (time zone, working days, national holidays) is the booking service's; it is
asked for over gRPC (BookingCalendars), so the complaint service deploys on its own.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from servicekit.errors import DomainError


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


def load(path: str | Path) -> dict[str, OfficeCalendar]:
    """Calendars from a file in the booking service's offices.json format (tests, tools)."""
    raw = json.loads(Path(path).read_text())
    holidays = frozenset(dt.date.fromisoformat(d) for d in raw["national_holidays"])
    return {o["office_id"]: OfficeCalendar(o["office_id"], o["timezone"], tuple(o["working_days"]), holidays)
            for o in raw["offices"]}


def from_offices(offices) -> dict[str, OfficeCalendar]:
    """Calendars from booking's ListOffices answer (the office calendar's owner)."""
    return {o.office_id: OfficeCalendar(o.office_id, o.timezone, tuple(o.working_days),
                                        frozenset(dt.date.fromisoformat(d) for d in o.holidays)) for o in offices}


class BookingCalendars(Mapping):
    """The office calendars, asked of booking over gRPC and refreshed hourly; while booking cannot
    be reached the last answer is used, and before the first one filing answers 503."""

    def __init__(self, fetch, clock, refresh_s: float = 3600):
        self.fetch, self.clock, self.refresh_s = fetch, clock, refresh_s
        self._calendars: dict[str, OfficeCalendar] | None = None
        self._fetched_at = None

    def prime(self, timeout_s: float) -> bool:
        """Wait (bounded) for booking's first answer, so the service starts with its calendars."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._current()
                return True
            except DomainError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)

    def _current(self) -> dict[str, OfficeCalendar]:
        now = self.clock.now()
        if self._calendars is None or (now - self._fetched_at).total_seconds() > self.refresh_s:
            try:
                self._calendars, self._fetched_at = from_offices(self.fetch()), now
            except DomainError:
                if self._calendars is None:
                    raise
        return self._calendars

    def __getitem__(self, office_id):
        return self._current()[office_id]

    def __iter__(self):
        return iter(self._current())

    def __len__(self):
        return len(self._current())


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
