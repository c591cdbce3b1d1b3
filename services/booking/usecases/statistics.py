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
from services.booking.domain.statistics import METRICS, STATUS_METRIC, parse_range, tabulate


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

