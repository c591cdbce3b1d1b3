"""Use cases that react to facts other services published: payment settled or expired, money that
arrived late, counter facts of biometrics (captured, interview outcome). Each is idempotent: a
redelivered fact finds its change recorded already."""
from __future__ import annotations

import datetime as dt

from servicekit.clock import Clock
from servicekit.errors import DomainError

from services.booking.adapters.repositories import SeatRepository, SlotRepository
from services.booking.domain import rules
from services.booking.domain.calendar import Calendar
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.booking import Booking


class PeerFacts:
    def __init__(self, records: ApplicationRecords, booking: Booking, slots: SlotRepository, seats: SeatRepository,
                 calendar: Calendar, clock: Clock):
        self.records, self.booking, self.slots, self.seats = records, booking, slots, seats
        self.calendar, self.clock = calendar, clock

    def confirm_payment(self, application_id: str, appointment_id: str, paid_at: str) -> bool:
        """PaymentSettled: AWAITING_PAYMENT -> PAID (once; a redelivery finds it PAID already)."""
        app = self.records.repository.get(application_id)
        if app is None:
            return False
        change = app.payment_confirmed(appointment_id, paid_at)
        if change is None:
            return False  # already confirmed, or a payment for a hold that is gone (payment flags it)
        return self.records.append(app, change) is not None

    def release_expired(self, application_id: str, appointment_id: str) -> bool:
        """BillingExpired: AWAITING_PAYMENT -> EXPIRED, the seat and the open-application claim freed."""
        app = self.records.repository.get(application_id)
        if app is None:
            return False
        if app.expires(appointment_id):
            self.records.close(app, "EXPIRED", "not paid in time; the seat was released", "BILLING_EXPIRED")
        else:
            self.records.free(app.header)
        return True

    def resolve_late_payment(self, application_id: str, billing_code: str) -> str:
        """Money arrived after the billing expired: re-seat the applicant if the same slot still has
        room and the NIK has no other open application; otherwise the payment is refunded."""
        app = self.records.repository.get(application_id)
        if app is None:
            return "REFUND"
        if app.status == "PAID" and app.owns_billing(billing_code):
            return "RESEATED"  # already handled (a redelivery)
        outcome = "REFUND"
        appointment = app.appointment
        if app.status == "EXPIRED" and appointment and self.records.claim_open(app.account_id, application_id):
            slot = self.slots.get(appointment["slot_id"])
            office = self.calendar.office(app.office_id)
            if slot and dt.date.fromisoformat(slot["date"]) >= office.today(self.clock.now()) \
                    and app.owns_billing(billing_code):
                try:
                    seat = self.booking.hold_seat(slot, application_id, app.generation + 1)
                    if self.records.append(app, app.late_payment_reseated(billing_code, seat["hold_id"])):
                        return "RESEATED"
                    self.seats.release(seat["_id"], seat["hold_id"])
                except DomainError:
                    pass
            self.records.repository.release_claim(app.account_id, application_id)
        self.records.repository.record_late_payment(billing_code, application_id, outcome,
                                                    app.late_payment_outcome(billing_code, outcome))
        return outcome

    def advance(self, application_id: str, from_statuses: set[str], to_status: str, note: str) -> bool:
        """A counter fact from another service (biometrics captured, interview outcome): append
        the next status once; a redelivery finds it appended already."""
        app = self.records.repository.get(application_id)
        if app is None:
            return False
        today = self.clock.now().astimezone(self.calendar.office(app.office_id).tz).date()
        change = app.advanced(from_statuses, to_status, note, today)
        if change is None:
            return False
        appended = self.records.append(app, change) is not None
        if appended and to_status in rules.CLOSED_STATUSES:
            self.records.free(app.header)
        return appended
