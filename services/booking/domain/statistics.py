"""The supervisor statistics' arithmetic, pure: the range asked for, its periods (day, month,
year), and the table of offered/booked/paid/checked-in/no-show/issued per period."""
from __future__ import annotations

import datetime as dt

from servicekit.errors import DomainError

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
