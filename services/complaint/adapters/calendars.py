"""The office calendars, owned by booking: asked for over gRPC (BookingCalendars) and refreshed
hourly, or read from a file in booking's offices.json format (tests, tools)."""
from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from pathlib import Path

from servicekit.errors import DomainError

from services.complaint.domain.sla import OfficeCalendar


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
