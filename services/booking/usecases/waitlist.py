"""Waitlist per office, date and lane: a freed seat is offered to the next in line.

Joining is an insert keyed by the application (one entry each). Offering is done by a worker
that books a free seat on the applicant's behalf (hold + billing + AppointmentBooked) and then
records the offer under the entry's key with a WaitlistOffered event; an unpaid offer expires like
any hold, the seat is freed again, and the worker offers it to the next entry.
"""
from __future__ import annotations

import datetime as dt

from passport.v1 import common_pb2
from servicekit.clock import Clock
from servicekit.errors import DomainError, invalid
from servicekit.lease import SWEEPER_WINDOW_S, WindowLease

from services.booking.adapters.office_records import WaitlistRepository
from services.booking.domain import rules
from services.booking.domain.events import WaitlistOffered
from services.booking.usecases.facade import Applications


class Waitlist:
    def __init__(self, apps: Applications, clock: Clock):
        self.apps, self.clock = apps, clock
        self.line = WaitlistRepository(apps.db, clock)
        self.lease = WindowLease(apps.db, "waitlist-offers", window_s=SWEEPER_WINDOW_S, clock=clock)

    def ensure_indexes(self) -> None:
        self.line.ensure_indexes()

    def join(self, caller, application_id: str, date: str, lane: str) -> int:
        header = self.apps.owned(caller, application_id)
        if self.apps.latest(application_id)["status"] != "DRAFT":
            raise DomainError("conflict", "waitlist-not-allowed", "only a DRAFT application (no seat yet) can wait")
        day = rules.parse_date(date, "date")
        office = self.apps.office(header["office_id"])
        if lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        rules.check_bookable(day, office.today(self.clock.now()), lane,
                             rules.allowed_lanes(header["service_type"], header["express"], header["priority_group"]))
        slots = self.apps.list_slots(header["office_id"], date, lane)
        if not slots:
            raise invalid(f"{header['office_id']} has no {lane} seats on {date}", "date")
        if any(s["remaining"] > 0 for s in slots):
            raise DomainError("conflict", "seats-available", f"{date} still has {lane} seats: book one instead")
        missing = self.apps.documents.missing(application_id, rules.required_documents(header["service_type"],
                                                                                      self.apps.age(header)))
        if missing:
            raise DomainError("invalid", "documents-missing", "upload these documents first: " + "; ".join(missing))
        return self.position(self.enqueue(application_id, header["account_id"], header["office_id"], date, lane))

    def enqueue(self, application_id: str, account_id: str, office_id: str, date: str, lane: str) -> dict:
        """Put an application in line for a date and lane (after `join`'s checks, or as a ballot's
        loser); the same line again is a no-op."""
        entry = {"_id": f"{office_id}|{date}|{lane}|{application_id}", "application_id": application_id,
                 "account_id": account_id, "office_id": office_id, "date": date, "lane": lane,
                 "at": self.clock.now()}
        if not self.line.add(entry):
            existing = self.line.entry_of(application_id)
            if existing is None or existing["_id"] != entry["_id"]:
                raise DomainError("conflict", "already-waitlisted", "this application already waits for another date")
            entry = existing
        return entry

    def position_of(self, caller, application_id: str) -> dict:
        """The caller's own application's place in line now (it moves as those ahead are offered seats)."""
        self.apps.owned(caller, application_id)
        entry = self.line.entry_of(application_id)
        position = self.position(entry) if entry is not None else 0
        if not position:
            return {"date": "", "lane": "", "position": 0}
        return {"date": entry["date"], "lane": entry["lane"], "position": position}

    def position(self, entry: dict) -> int:
        waiting = [e["_id"] for e in self.line.waiting(entry["office_id"], entry["date"], entry["lane"])]
        return waiting.index(entry["_id"]) + 1 if entry["_id"] in waiting else 0

    def offer_freed_seats(self) -> int:
        """Worker cycle: offer free seats of waited-for dates to the next entries, in order."""
        if not self.lease.held():
            return 0
        offered = 0
        for key in self.line.lines():
            office = self.apps.office(key["office_id"])
            if dt.date.fromisoformat(key["date"]) < office.today(self.clock.now()):
                continue
            for entry in self.line.waiting(key["office_id"], key["date"], key["lane"]):
                free = [s for s in self.apps.list_slots(key["office_id"], key["date"], key["lane"]) if s["remaining"] > 0]
                if not free:
                    break
                offered += self._offer(entry, free[0])
        return offered

    def _offer(self, entry: dict, slot: dict) -> int:
        latest = self.apps.latest(entry["application_id"])
        if latest["status"] == "DRAFT":
            caller = common_pb2.Caller(account_id=entry["account_id"], role="APPLICANT")
            try:
                self.apps.book(caller, entry["application_id"], slot["_id"], via_ballot=True)
            except DomainError as err:
                if err.problem == "slot-full":
                    return 0  # taken meanwhile; the next cycle looks again
                self.line.skip(entry["_id"], err.problem)
                return 0
            latest = self.apps.latest(entry["application_id"])
        appointment = latest["state"].get("appointment") or {}
        if latest["status"] != "AWAITING_PAYMENT" or appointment.get("date") != entry["date"]:
            self.line.skip(entry["_id"], latest["status"])
            return 0
        offer = WaitlistOffered(
            application_id=entry["application_id"], account_id=entry["account_id"], office_id=entry["office_id"],
            date=entry["date"], lane=entry["lane"], start_time=appointment["start_time"],
            pay_before=appointment["pay_before"])
        return int(self.line.offered(entry, offer))
