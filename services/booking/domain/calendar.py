"""Offices, their working days and time slots: reference data and pure date arithmetic."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from servicekit.errors import DomainError

DATA = Path(__file__).parent.parent / "offices.json"  # reference data at the service root (the images copy it)


@dataclass(frozen=True)
class Office:
    office_id: str
    name: str
    timezone: str
    address: str
    working_days: tuple[int, ...]  # Monday = 0
    slots: tuple[str, ...]         # local start times HH:MM
    slot_minutes: int
    quota: dict

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.tz).date()


@dataclass(frozen=True)
class Calendar:
    offices: dict[str, Office]
    holidays: frozenset[dt.date]

    def office(self, office_id: str) -> Office:
        office = self.offices.get(office_id)
        if office is None:
            raise DomainError("not_found", "office-not-found", f"no office {office_id!r}")
        return office

    def is_working_day(self, office: Office, day: dt.date) -> bool:
        return day.weekday() in office.working_days and day not in self.holidays

    def working_days(self, office: Office, start: dt.date, count: int) -> list[dt.date]:
        days, day = [], start
        while len(days) < count:
            if self.is_working_day(office, day):
                days.append(day)
            day += dt.timedelta(days=1)
        return days


def load(path: Path = DATA) -> Calendar:
    raw = json.loads(path.read_text())
    offices = {o["office_id"]: Office(
        office_id=o["office_id"], name=o["name"], timezone=o["timezone"], address=o["address"],
        working_days=tuple(o["working_days"]), slots=tuple(o["slots"]), slot_minutes=o["slot_minutes"],
        quota=dict(o["quota"])) for o in raw["offices"]}
    return Calendar(offices, frozenset(dt.date.fromisoformat(d) for d in raw["national_holidays"]))


def slot_id(office_id: str, day: dt.date, lane: str, start: str) -> str:
    return f"{office_id}-{day:%Y%m%d}-{lane}-{start.replace(':', '')}"


def end_time(start: str, minutes: int) -> str:
    h, m = map(int, start.split(":"))
    total = h * 60 + m + minutes
    return f"{total // 60:02d}:{total % 60:02d}"


def slot_documents(office: Office, day: dt.date) -> list[dict]:
    """The default slots of one working day: one per start time and lane with a quota."""
    return [{
        "_id": slot_id(office.office_id, day, lane, start), "office_id": office.office_id,
        "date": day.isoformat(), "lane": lane, "start_time": start,
        "end_time": end_time(start, office.slot_minutes), "capacity": capacity,
    } for start in office.slots for lane, capacity in office.quota.items() if capacity > 0]


def slot_start(office: Office, day: str, start: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(start), office.tz)
