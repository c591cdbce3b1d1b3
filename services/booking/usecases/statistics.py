"""Supervisor statistics per day, month or year, like the office's own tables.

offered    = the capacity of the office's slots on the day
booked     = applications that reached AWAITING_PAYMENT for an appointment on the day
paid, checked_in, no_show, issued = of those, the ones that reached that status

Every figure is counted on the appointment's date. Derived from `slots` and `transitions`: the
office's applications come from `applications` (office_id index), their transitions are read in
chunks by application id, and the appointment date (carried by the AWAITING_PAYMENT transition)
is joined in Python.
"""
from __future__ import annotations

import datetime as dt

from servicekit.errors import DomainError

from services.booking.adapters.office_records import StatisticsReader

METRICS = ("offered", "booked", "paid", "checked_in", "no_show", "issued")
STATUS_METRIC = {"PAID": "paid", "CHECKED_IN": "checked_in", "NO_SHOW": "no_show", "ISSUED": "issued"}
GROUPS = ("day", "month", "year")
MAX_DAYS = 366


def parse_range(start: str, end: str, group: str) -> tuple[dt.date, dt.date, str]:
    group = group or "day"
    errors = []
    if group not in GROUPS:
        errors.append({"field": "group", "message": "group must be day, month or year"})
    dates = {}
    for field, text in (("from", start), ("to", end)):
        try:
            dates[field] = dt.date.fromisoformat(text or "")
        except ValueError:
            errors.append({"field": field, "message": f"{field} must be a date YYYY-MM-DD"})
    if not errors:
        if dates["from"] > dates["to"]:
            errors.append({"field": "from", "message": "from must not be after to"})
        elif (dates["to"] - dates["from"]).days + 1 > MAX_DAYS:
            errors.append({"field": "to", "message": f"the range may span at most {MAX_DAYS} days"})
    if errors:
        raise DomainError("invalid", "validation-error", "; ".join(e["message"] for e in errors), errors)
    return dates["from"], dates["to"], group


def period_of(day: str, group: str) -> str:
    return {"day": day, "month": day[:7], "year": day[:4]}[group]


def periods(start: dt.date, end: dt.date, group: str) -> list[str]:
    out, day = [], start
    while day <= end:
        p = period_of(day.isoformat(), group)
        if not out or out[-1] != p:
            out.append(p)
        day += dt.timedelta(days=1)
    return out


def tabulate(start: dt.date, end: dt.date, group: str, offered_by_day: dict[str, int],
             reached: dict[str, set[str]], appointment_day: dict[str, str]) -> list[dict]:
    """Pure: rows per period. reached: application id -> statuses it reached;
    appointment_day: application id -> the date of its (latest) appointment."""
    rows = {p: dict.fromkeys(METRICS, 0) for p in periods(start, end, group)}
    lo, hi = start.isoformat(), end.isoformat()
    for day, capacity in offered_by_day.items():
        if lo <= day <= hi:
            rows[period_of(day, group)]["offered"] += capacity
    for app_id, day in appointment_day.items():
        if not lo <= day <= hi:
            continue
        row, statuses = rows[period_of(day, group)], reached.get(app_id, set())
        row["booked"] += 1
        for status, metric in STATUS_METRIC.items():
            if status in statuses:
                row[metric] += 1
    return [dict(period=p, **counts) for p, counts in rows.items()]


class Statistics:
    def __init__(self, db, calendar):
        self.reader, self.calendar = StatisticsReader(db), calendar

    def ensure_indexes(self) -> None:
        self.reader.ensure_indexes()

    def report(self, caller, office_id: str, start: str, end: str, group: str = "day") -> dict:
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office sees its statistics")
        if office_id not in self.calendar.offices:
            raise DomainError("not_found", "office-not-found", f"no office {office_id!r}")
        first, last, group = parse_range(start, end, group)
        lo, hi = first.isoformat(), last.isoformat()
        offered = self.reader.capacity_by_day(office_id, lo, hi)
        # An appointment is booked on or after its application's creation: later applications
        # cannot have an appointment in the range.
        office = self.calendar.offices[office_id]
        created_before = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), office.tz)
        app_ids = self.reader.application_ids(office_id, created_before)
        reached: dict[str, set[str]] = {}
        appointment_day: dict[str, str] = {}
        wanted = ["AWAITING_PAYMENT", *STATUS_METRIC]
        for t in self.reader.transitions_reaching(app_ids, wanted):
            reached.setdefault(t["application_id"], set()).add(t["status"])
            day = ((t.get("data") or {}).get("appointment") or {}).get("date")
            if t["status"] == "AWAITING_PAYMENT" and day:
                appointment_day[t["application_id"]] = day  # the latest appointment wins
        rows = tabulate(first, last, group, offered, reached, appointment_day)
        total = dict(period="total", **{m: sum(r[m] for r in rows) for m in METRICS})
        return {"office_id": office_id, "from": lo, "to": hi, "group": group, "rows": rows, "total": total}

