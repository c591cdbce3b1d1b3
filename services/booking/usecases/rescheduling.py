"""Use cases after booking: the applicant cancels or reschedules; the office moves a whole day."""
from __future__ import annotations

import datetime as dt

from servicekit.clock import Clock
from servicekit.errors import DomainError, invalid

from services.booking.adapters.repositories import SeatRepository
from services.booking.domain import rules
from services.booking.domain.application import changed_meanwhile
from services.booking.domain.calendar import Calendar
from services.booking.domain.seats import appointment_of
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.booking import Booking
from services.booking.usecases.gates import Gates
from services.booking.usecases.slots import SlotCatalogue


class Rescheduling:
    def __init__(self, records: ApplicationRecords, booking: Booking, catalogue: SlotCatalogue, seats: SeatRepository,
                 calendar: Calendar, clock: Clock, gates: Gates):
        self.records, self.booking, self.catalogue, self.seats = records, booking, catalogue, seats
        self.calendar, self.clock, self.gates = calendar, clock, gates

    def cancel(self, caller, application_id: str) -> dict:
        """The applicant gives the seat back at once; the application closes (CANCELLED), so a
        held seat cannot be handed over to someone else by cancelling at an agreed moment."""
        header = self.records.owned(caller, application_id)
        app = self.records.load(header)
        if app.check_may_cancel():
            return self.records.view(header)
        self.records.close(app, "CANCELLED", "cancelled by the applicant", "APPLICANT")
        return self.records.view(header)

    def reschedule(self, caller, application_id: str, slot_id: str, by_office: bool = False, reason: str = "") -> dict:
        header = self.records.get(caller, application_id) if by_office else self.records.owned(caller, application_id)
        app = self.records.load(header)
        if app.is_rescheduled_to(slot_id):
            return self.records.view(header)  # a retry that already moved
        office = self.calendar.office(header["office_id"])
        app.check_may_reschedule(office.today(self.clock.now()), by_office)
        slot, office = self.booking.bookable_slot(app, slot_id)
        if dt.date.fromisoformat(slot["date"]) <= office.today(self.clock.now()):
            raise DomainError("conflict", "reschedule-not-allowed", "choose a date after today")
        if not by_office:
            self.booking.refuse_if_seen_full(slot)
        seat = self.booking.hold_seat(slot, application_id, app.generation + 1)
        moved = dict(app.appointment, **appointment_of(slot, seat), rescheduled=True)
        if not self.records.append(app, app.rescheduled(moved, slot, by_office, reason)):
            self.seats.release(seat["_id"], seat["hold_id"])
            raise changed_meanwhile()
        self.seats.release_all_of(application_id, except_hold=seat["hold_id"])
        return self.records.view(header)

    def reschedule_office_day(self, caller, office_id: str, date: str, to_date: str, reason: str) -> tuple[int, int]:
        """Force majeure: move every booked appointment of `date` to the same lane on `to_date`
        (same start time if free, else the next free one); those that cannot be re-seated are
        cancelled by the office (their payment is refunded). Applicants keep their own reschedule."""
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office moves a day")
        if not (reason or "").strip():
            raise invalid("a reason is required", "reason")
        office = self.calendar.office(office_id)
        day, target = rules.parse_date(date, "date"), rules.parse_date(to_date, "to_date")
        if target <= office.today(self.clock.now()) or target == day:
            raise invalid("to_date must be a later day than today and differ from date", "to_date")
        if not self.calendar.is_working_day(office, target):
            raise invalid(f"{to_date} is not a working day of {office_id}", "to_date")
        moved = cancelled = 0
        affected = self.records.repository.ids_with_appointment_on(office_id, date, ["AWAITING_PAYMENT", "PAID"])
        for application_id in sorted(affected):
            app = self.records.repository.get(application_id)
            appointment = app.appointment
            if app.status not in ("AWAITING_PAYMENT", "PAID") or appointment.get("date") != date:
                continue
            if app.status == "AWAITING_PAYMENT":  # unpaid: release; the applicant books again
                self.records.close(app, "CANCELLED", f"the office closed {date}: {reason}", "OFFICE")
                cancelled += 1
                continue
            candidates = sorted(self.catalogue.list_slots(office_id, to_date, appointment["lane"]),
                                key=lambda s: (s["start_time"] != appointment["start_time"], s["start_time"]))
            for slot in candidates:
                if slot["remaining"] <= 0:
                    continue
                try:
                    self.reschedule(caller, application_id, slot["_id"], by_office=True, reason=reason)
                    moved += 1
                    break
                except DomainError as err:
                    if err.problem != "slot-full":
                        raise
            else:
                self.records.close(self.records.load(app.header), "CANCELLED",
                                   f"the office closed {date} and had no seat on {to_date}: {reason}", "OFFICE")
                cancelled += 1
        self.gates.staff_action(caller, "OFFICE_DAY_RESCHEDULED", office_id,
                                {"date": date, "to_date": to_date, "reason": reason, "moved": moved, "cancelled": cancelled})
        return moved, cancelled
