"""`Applications`: the booking use cases behind one object, built over one store.

The entrypoints, the waitlist, ballots, outreach and counter hold this object; each method
delegates to the use-case module that owns it (usecases/*.py). Tests build it on the in-memory
store and swap a collection to count its round trips (the `seats`/`transitions` setters)."""
from __future__ import annotations

import datetime as dt

from servicekit import outbox
from servicekit.clock import Clock

from services.booking.adapters.documents import Documents
from services.booking.adapters.payment import PaymentClient
from services.booking.adapters.repositories import (ApplicationRepository, QueueNumberRepository, SeatRepository,
                                                     SlotRepository)
from services.booking.domain.calendar import Calendar
from services.booking.domain.seat_hints import SeatHints
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.booking import Booking
from services.booking.usecases.desk import OfficeDesk
from services.booking.usecases.gates import Gates
from services.booking.usecases.reactions import PeerFacts
from services.booking.usecases.rescheduling import Rescheduling
from services.booking.usecases.slots import SlotCatalogue
from services.booking.usecases.sweepers import Sweepers


class Applications:
    def __init__(self, db, calendar: Calendar, clock: Clock, payment_stub, hold_minutes: int = 120,
                 slot_horizon_days: int = 30, release_gate=None, on_staff_action=None,
                 slot_list_cache_s: float = 0.0, seat_hint_s: float = 0.0, free_seat_hint_s: float = 0.0,
                 booking_lead_minutes: int = 30, outreach_gate=None, document_keys=None):
        self.db, self.calendar, self.clock = db, calendar, clock
        self.horizon = slot_horizon_days
        self.gates = Gates(release_gate=release_gate, outreach_gate=outreach_gate, on_staff_action=on_staff_action)
        self.seat_hints = SeatHints(seat_hint_s, free_ttl_s=free_seat_hint_s)
        self.application_repository = ApplicationRepository(db, clock)
        self.seat_repository = SeatRepository(db, self.seat_hints, clock)
        self.slot_repository = SlotRepository(db)
        self.queue_numbers = QueueNumberRepository(db)
        self.documents = Documents(db, clock, document_keys)
        self.payment_client = PaymentClient(payment_stub)
        self.records = ApplicationRecords(self.application_repository, self.seat_repository, self.documents,
                                          calendar, clock)
        self.catalogue = SlotCatalogue(self.slot_repository, self.seat_repository, self.seat_hints, calendar, clock,
                                       self.gates, slot_horizon_days, slot_list_cache_s, seat_hint_s)
        self.booking = Booking(self.records, self.slot_repository, self.seat_repository, self.seat_hints,
                               self.payment_client, calendar, clock, self.gates,
                               hold=dt.timedelta(minutes=hold_minutes),
                               booking_lead=dt.timedelta(minutes=booking_lead_minutes))
        self.rescheduling = Rescheduling(self.records, self.booking, self.catalogue, self.seat_repository,
                                         calendar, clock, self.gates)
        self.peer_facts = PeerFacts(self.records, self.booking, self.slot_repository, self.seat_repository,
                                    calendar, clock)
        self.sweepers = Sweepers(self.records, self.booking, self.seat_repository, calendar, clock)
        self.desk = OfficeDesk(self.records, self.queue_numbers, calendar, clock, self.gates)

    def ensure_indexes(self) -> None:
        self.slot_repository.ensure_indexes()
        self.seat_repository.ensure_indexes()
        self.application_repository.ensure_indexes()
        self.documents.ensure_indexes()
        self.queue_numbers.ensure_indexes()
        outbox.ensure_indexes(self.db)

    # -- hooks and store collections (set after construction by the composition root and tests) ------
    @property
    def payment(self):
        return self.payment_client.stub

    @payment.setter
    def payment(self, stub) -> None:
        self.payment_client.stub = stub

    @property
    def release_gate(self):
        return self.gates.release_gate

    @release_gate.setter
    def release_gate(self, gate) -> None:
        self.gates.release_gate = gate

    @property
    def outreach_gate(self):
        return self.gates.outreach_gate

    @outreach_gate.setter
    def outreach_gate(self, gate) -> None:
        self.gates.outreach_gate = gate

    @property
    def on_staff_action(self):
        return self.gates.on_staff_action

    @on_staff_action.setter
    def on_staff_action(self, hook) -> None:
        self.gates.on_staff_action = hook

    @property
    def seats(self):
        return self.seat_repository.seats

    @seats.setter
    def seats(self, collection) -> None:
        self.seat_repository.seats = collection

    @property
    def transitions(self):
        return self.application_repository.transitions

    @transitions.setter
    def transitions(self, collection) -> None:
        self.application_repository.transitions = collection

    @property
    def slots(self):
        return self.slot_repository.slots

    @property
    def applications(self):
        return self.application_repository.applications

    # -- slots and quota (usecases/slots.py) ---------------------------------------------------------
    def office(self, office_id: str):
        return self.calendar.office(office_id)

    def ensure_slots(self) -> int:
        return self.catalogue.ensure_slots()

    def published_slots(self, office_id: str, date: str, lane: str = "") -> list[dict]:
        return self.catalogue.published_slots(office_id, date, lane)

    def list_slots(self, office_id: str, date: str, lane: str = "", hinted: bool = False) -> list[dict]:
        return self.catalogue.list_slots(office_id, date, lane, hinted)

    def set_capacity(self, caller, office_id: str, date: str, lane: str, start_time: str, capacity: int,
                     reason: str) -> int:
        return self.catalogue.set_capacity(caller, office_id, date, lane, start_time, capacity, reason)

    def staff_action(self, caller, action: str, office_id: str, details: dict) -> None:
        self.gates.staff_action(caller, action, office_id, details)

    # -- applications (usecases/applications.py) --------------------------------------------------------
    def create(self, account: dict, office_id: str, passport_type: str, validity_years: int,
               service_type: str, express: bool, priority_group: str) -> dict:
        return self.records.create(account, office_id, passport_type, validity_years, service_type, express,
                                   priority_group)

    def get(self, caller, application_id: str) -> dict:
        return self.records.get(caller, application_id)

    def owned(self, caller, application_id: str) -> dict:
        return self.records.owned(caller, application_id)

    def list_for(self, account_id: str) -> list[dict]:
        return self.records.list_for(account_id)

    def age(self, header: dict) -> int:
        return self.records.age(header)

    def upload_document(self, caller, application_id: str, kind: str, content: bytes) -> dict:
        return self.records.upload_document(caller, application_id, kind, content)

    def list_documents(self, caller, application_id: str) -> list[dict]:
        return self.records.list_documents(caller, application_id)

    def history(self, application_id: str) -> list[dict]:
        return self.records.history(application_id)

    def latest(self, application_id: str) -> dict:
        return self.records.latest(application_id)

    def view(self, header: dict, caller=None, history: list[dict] | None = None) -> dict:
        return self.records.view(header, caller, history)

    # -- booking, rescheduling, cancelling (usecases/booking.py, rescheduling.py) ------------------------
    def book(self, caller, application_id: str, slot_id: str, via_ballot: bool = False,
             invitation_code: str = "") -> dict:
        return self.booking.book(caller, application_id, slot_id, via_ballot, invitation_code)

    def cancel(self, caller, application_id: str) -> dict:
        return self.rescheduling.cancel(caller, application_id)

    def reschedule(self, caller, application_id: str, slot_id: str, by_office: bool = False, reason: str = "") -> dict:
        return self.rescheduling.reschedule(caller, application_id, slot_id, by_office, reason)

    def reschedule_office_day(self, caller, office_id: str, date: str, to_date: str, reason: str) -> tuple[int, int]:
        return self.rescheduling.reschedule_office_day(caller, office_id, date, to_date, reason)

    # -- facts from other services (usecases/reactions.py) ------------------------------------------------
    def confirm_payment(self, application_id: str, appointment_id: str, paid_at: str) -> bool:
        return self.peer_facts.confirm_payment(application_id, appointment_id, paid_at)

    def release_expired(self, application_id: str, appointment_id: str) -> bool:
        return self.peer_facts.release_expired(application_id, appointment_id)

    def resolve_late_payment(self, application_id: str, billing_code: str) -> str:
        return self.peer_facts.resolve_late_payment(application_id, billing_code)

    def advance(self, application_id: str, from_statuses: set[str], to_status: str, note: str) -> bool:
        return self.peer_facts.advance(application_id, from_statuses, to_status, note)

    # -- workers (usecases/sweepers.py) ---------------------------------------------------------------
    def reap_seats(self, orphan_after: dt.timedelta | None = None) -> int:
        return self.sweepers.reap_seats(orphan_after)

    def mark_no_shows(self, office_id: str | None = None) -> int:
        return self.sweepers.mark_no_shows(office_id)

    # -- at the office (usecases/desk.py) ---------------------------------------------------------------
    def check_in(self, caller, office_id: str, application_id: str, priority_decision: str = "") -> str:
        return self.desk.check_in(caller, office_id, application_id, priority_decision)

    def issue(self, caller, application_id: str, passport_number: str, delivery: str, address: str) -> dict:
        return self.desk.issue(caller, application_id, passport_number, delivery, address)

    def hand_over(self, caller, application_id: str, tracking_number: str) -> dict:
        return self.desk.hand_over(caller, application_id, tracking_number)
