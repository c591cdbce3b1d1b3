"""Use case: book an appointment (hold a seat, issue its billing, record AWAITING_PAYMENT), and the
seat steps other use cases share: take a seat of a slot, give up a seat an attempt will not record."""
from __future__ import annotations

import datetime as dt

from servicekit.cache import Memo
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError
from servicekit.grpcserver import caller_gone
from servicekit.mongo import STORE_UNREACHABLE

from services.booking import metrics
from services.booking.adapters.payment import PaymentClient, PaymentUnavailable
from services.booking.adapters.repositories import SeatRepository, SlotRepository
from services.booking.domain import rules
from services.booking.domain.application import Application, changed_meanwhile, hold_of
from services.booking.domain.calendar import Calendar
from services.booking.domain.seat_hints import SeatHints
from services.booking.domain.seats import (appointment_of, holder_of, interrupted, new_seat, resumable,
                                           slot_full, slot_start)
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.gates import Gates


class Booking:
    def __init__(self, records: ApplicationRecords, slots: SlotRepository, seats: SeatRepository, hints: SeatHints,
                 payment: PaymentClient, calendar: Calendar, clock: Clock, gates: Gates,
                 hold: dt.timedelta, booking_lead: dt.timedelta):
        self.records, self.slots, self.seats, self.hints = records, slots, seats, hints
        self.payment, self.calendar, self.clock, self.gates = payment, calendar, clock, gates
        self.hold = hold
        self.booking_lead = booking_lead  # a slot closes this long before it starts
        # Documents only ever grow complete, so a replica remembers a complete application (a rush
        # retries the same applications).
        self.documents_complete = Memo()

    def book(self, caller, application_id: str, slot_id: str, via_ballot: bool = False,
             invitation_code: str = "") -> dict:
        """Hold a seat and issue its billing. `via_ballot`: the seat was assigned by the system (a
        ballot draw or a waitlist offer), so the release gate does not apply; nor does it to an
        outreach session's seats (`invitation_code`), which are given to a group, not released."""
        header = self.records.owned(caller, application_id)
        app = self.records.load(header)
        if app.is_booked_on(slot_id):
            return self.records.view(header, history=app.history)  # a retry of the booking that already succeeded
        app.check_may_book()
        slot, office = self.bookable_slot(app, slot_id, invitation_code)
        if self.gates.release_gate is not None and not via_ballot and slot["lane"] != "OUTREACH":
            self.gates.release_gate(office, slot, self.clock.now())
        if not via_ballot:
            self.refuse_if_seen_full(slot)  # before the document lookups
        self._check_documents(app, slot)
        seat = self.hold_seat(slot, application_id, generation=0)
        try:
            billing = self.payment.issue_billing(seat["hold_id"], header, seat["pay_before"])
        except PaymentUnavailable as exc:
            # The billing may exist all the same (issued, answer lost): giving up voids it too.
            self.give_up(header, seat)
            raise DomainError("unavailable", "payment-unavailable",
                              "billing could not be issued right now; the seat was released, please retry") from exc
        if billing.status != "UNPAID" or caller_gone():
            # A resumed seat whose attempt was abandoned meanwhile (its billing is void), or a caller
            # that stopped waiting: record nothing it would never hear about.
            self.give_up(header, seat)
            raise interrupted()
        appointment = dict(appointment_of(slot, seat), appointment_id=seat["hold_id"],
                           pay_before=rfc3339(seat["pay_before"], office.tz))
        billing_view = {"billing_code": billing.billing_code, "amount": billing.amount,
                        "currency": billing.currency, "expires_at": billing.expires_at}
        try:
            record = self.records.append(app, app.booked(appointment, billing_view, slot))
        except STORE_UNREACHABLE:
            self.give_up(header, seat)  # the insert may have landed all the same: abandon reads first
            raise
        if record is None:
            # Another transition took the number: this same booking by a parallel retry (same seat),
            # or anything else, after which this attempt's seat and billing are given up.
            now_latest = self.records.latest(application_id)
            if hold_of(now_latest) == seat["hold_id"]:
                return self.records.view(header)
            self.give_up(header, seat)
            if now_latest["status"] == "DRAFT":
                raise interrupted()
            raise changed_meanwhile()
        metrics.BOOKED.labels(header["office_id"], slot["lane"]).inc()
        return self.records.view(header, history=app.history + [record])  # no second read on the hot path

    def _check_documents(self, app: Application, slot: dict) -> None:
        if not self.documents_complete.get(app.id):
            missing = self.records.missing_documents(app)
            if missing:
                raise DomainError("invalid", "documents-missing", "upload these documents first: " + "; ".join(missing),
                                  [{"field": "documents", "message": m} for m in missing])
            self.documents_complete.put(app.id)  # documents are never deleted
        if slot["lane"] == "PRIORITY":
            group = app.header["priority_group"]
            missing = self.records.documents.missing(app.id, rules.priority_proof(group))
            if missing:
                raise DomainError("invalid", "priority-proof-missing",
                                  f"a {group} priority seat needs this document uploaded first: "
                                  + "; ".join(missing) + " (the officer checks it at the counter)",
                                  [{"field": "documents", "message": m} for m in missing])

    def bookable_slot(self, app: Application, slot_id: str, invitation_code: str = ""):
        slot = self.slots.get(slot_id)
        if slot is None:
            raise DomainError("not_found", "slot-not-found", f"no slot {slot_id!r}")
        office = self.calendar.office(slot["office_id"])
        if slot["office_id"] != app.office_id:
            raise DomainError("conflict", "slot-of-another-office",
                              f"the slot belongs to office {slot['office_id']}, the application to {app.office_id}")
        lanes = app.lanes()
        if slot["lane"] == "OUTREACH":
            if self.gates.outreach_gate is None or not self.gates.outreach_gate(invitation_code, slot):
                raise DomainError("conflict", "invitation-required",
                                  "outreach seats are booked with the invitation code of their collective session")
            lanes = lanes | {"OUTREACH"}
        rules.check_bookable(dt.date.fromisoformat(slot["date"]), office.today(self.clock.now()), slot["lane"], lanes)
        rules.check_not_started(slot_start(slot, office), self.clock.now(), self.booking_lead)
        return slot, office

    def hold_seat(self, slot: dict, application_id: str, generation: int) -> dict:
        """Take a free seat `<slot>#<n>`, n < capacity, by trying inserts in the order the seat hints
        give (random among the untried; no listing of the slot's seats: every step is an `_id`
        operation). The unique `holder` keeps it one seat per application and generation; a retry
        finds its own seat again. It always tries the seats: only public requests answer a slot this
        replica saw full at once (`refuse_if_seen_full`), the system's own seatings (waitlist,
        ballot, office moves, late payers) do not."""
        holder = holder_of(application_id, generation)
        if slot.get("shrunk"):  # capacity was lowered: seats above it may still be held, so count
            if self.seats.count_in_slot(slot["_id"]) >= slot["capacity"]:
                mine = self.seats.of_holder(holder)
                if mine is not None and mine["slot_id"] == slot["_id"]:
                    return mine
                raise slot_full()
        now, tried = self.clock.now(), set()
        while (n := self.hints.pick(slot["_id"], slot["capacity"], tried)) is not None:
            tried.add(n)
            seat = new_seat(slot, n, application_id, holder, now, self.hold)
            taken = None  # the seat's document after this attempt
            try:
                taken = self.seats.take(seat)
            finally:
                self.hints.tried_seat(slot["_id"], n, taken=taken is not None)
            if taken is not None:
                if taken is seat:
                    return seat
                if taken["holder"] == holder:
                    return resumable(taken, now)  # a retry, or a booking resumed after a crash
                continue  # someone else's seat
            # The seat is free, so the unique holder refused: this application holds another seat.
            mine = self.seats.of_holder(holder)
            if mine is not None and mine["slot_id"] == slot["_id"]:
                return resumable(mine, now)
            if mine is not None:
                # a booking of another slot: never taken from under a request still running (a
                # client that timed out and retried elsewhere); given up once that request died
                header = self.records.repository.header(application_id)
                if not self.abandon(header, resumable(mine, now)):
                    raise changed_meanwhile()
            return self.hold_seat(slot, application_id, generation)
        raise slot_full()

    def give_up(self, header: dict, seat: dict) -> None:
        """A booking attempt that will not complete gives its seat back now rather than by the reaper.
        The store may be what failed: then the reaper does it within seconds."""
        try:
            self.abandon(header, seat)
        except STORE_UNREACHABLE:
            metrics.ABANDON_DEFERRED.inc()

    def abandon(self, header: dict, seat: dict) -> bool:
        """Free a seat that is not its application's appointment: a booking or reschedule that failed,
        crashed or timed out, or a closed application's (the aggregate decides, and fences a hold never
        recorded). False when the seat is the appointment's after all, or the log moved meanwhile
        (decided again later)."""
        app = self.records.load(header)
        may_free, fence = app.abandonment_of(seat["hold_id"])
        if not may_free:
            return False
        if fence is not None:
            if self.records.append(app, fence) is None:
                return False
            metrics.ABANDONED.labels(header["office_id"]).inc()
        self.seats.release(seat["_id"], seat["hold_id"])
        return True

    def refuse_if_seen_full(self, slot: dict) -> None:
        """A public request for a slot this replica saw full in the last SEAT_HINT_SECONDS: `slot-full`
        at once, without store writes."""
        if self.hints.full(slot["_id"], slot["capacity"]):
            raise slot_full()
