"""Use cases of the office's staff on one application: check-in (the queue number), issuing the
passport, handing it over (collected at the office, or shipped by Pos Indonesia)."""
from __future__ import annotations

from servicekit.clock import Clock
from servicekit.errors import DomainError

from services.booking.adapters.repositories import QueueNumberRepository
from services.booking.domain.application import QUEUE_LETTERS, Application, changed_meanwhile
from services.booking.domain.calendar import Calendar
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.gates import Gates


class OfficeDesk:
    def __init__(self, records: ApplicationRecords, queue_numbers: QueueNumberRepository, calendar: Calendar,
                 clock: Clock, gates: Gates):
        self.records, self.queue_numbers, self.calendar, self.clock, self.gates = (
            records, queue_numbers, calendar, clock, gates)

    def check_in(self, caller, office_id: str, application_id: str, priority_decision: str = "") -> str:
        """Give the queue number. A PRIORITY appointment needs the officer's decision on its proof
        (CONFIRMED, or REFUSED: the applicant queues in their regular lane), kept in the audit log."""
        if caller.role not in ("OFFICER", "SUPERVISOR") or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only staff of this office check applicants in")
        header = self.records.get(caller, application_id)
        app = self.records.load(header)
        if app.status == "CHECKED_IN":
            return app.state["queue_number"]
        today = self.calendar.office(office_id).today(self.clock.now()).isoformat()
        lane = app.check_in_lane(today, priority_decision)
        if app.appointment["lane"] == "PRIORITY":
            self.gates.staff_action(caller, f"priority-{priority_decision.lower()}", office_id, {
                "application_id": application_id, "priority_group": header["priority_group"]})
        number = self._take_number(office_id, today, QUEUE_LETTERS[lane], application_id)
        if not self.records.append(app, app.checked_in(number, today, priority_decision)):
            return self.records.latest(application_id)["state"].get("queue_number", number)
        return number

    def _take_number(self, office_id: str, today: str, letter: str, application_id: str) -> str:
        """The next free number of the lane's letter today: a keyed insert, so two check-ins at once
        get two numbers."""
        taken = self.queue_numbers.count(office_id, today, letter)
        for n in range(taken + 1, taken + 1000):
            number = f"{letter}{n:03d}"
            if self.queue_numbers.take(office_id, today, letter, n, application_id):
                break
        return number

    def issue(self, caller, application_id: str, passport_number: str, delivery: str, address: str) -> dict:
        header = self.records.staff(caller, application_id)
        passport_number = Application.clean_issue_request(passport_number, delivery, address)
        app = self.records.load(header)
        if app.is_issued_as(passport_number):
            return self.records.view(header, caller)
        if not self.records.append(app, app.issued(passport_number, delivery, address)):
            raise changed_meanwhile()
        self.gates.staff_action(caller, "PASSPORT_ISSUED", header["office_id"],
                                {"application_id": application_id, "delivery": delivery})
        return self.records.view(header, caller)

    def hand_over(self, caller, application_id: str, tracking_number: str) -> dict:
        header = self.records.staff(caller, application_id)
        app = self.records.load(header)
        if app.is_handed_over():
            return self.records.view(header, caller)
        if self.records.append(app, app.handed_over(tracking_number)):
            self.records.free(header)
        return self.records.view(header, caller)
