"""The Application aggregate: an application's header (what was applied for, by whom, where) and its
status log, with the rules of what each status allows. Its methods decide and return a `Change`
(the next status, what it records, the domain events it causes); the repository appends it.

The status log is append-only: transition n+1 is keyed `<application>:<n+1>`, so two racing
changes cannot both be recorded (docs/architecture-booking.md)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from servicekit.errors import DomainError, invalid

from services.booking.domain import events, rules

PASSPORT_NUMBER = re.compile(r"^[A-Z]{1,2}[0-9]{6,7}$")
TRACKING_NUMBER = re.compile(r"^[A-Z0-9]{8,30}$")
# Lane letters of queue numbers; the counter calls P (priority) first, then E, R, A, O.
QUEUE_LETTERS = {"PRIORITY": "P", "EXPRESS": "E", "REPLACEMENT": "R", "REGULAR": "A", "OUTREACH": "O"}
# Statuses after which the applicant's documents are final (closed ones, and those past the counter).
DOCUMENTS_FINAL = rules.CLOSED_STATUSES | {"CHECKED_IN", "BIOMETRICS_CAPTURED", "APPROVED", "ISSUED"}
NOTHING = {"seq": -1, "status": "DRAFT", "state": {}, "data": {}}


def not_found(what: str = "application") -> DomainError:
    return DomainError("not_found", f"{what}-not-found", f"no such {what}")


def changed_meanwhile() -> DomainError:
    return DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")


def mask_passport(number: str) -> str:
    return number[:1] + "*" * (len(number) - 3) + number[-2:] if len(number) > 3 else "***"


def last(history: list[dict]) -> dict:
    """The latest transition, with the whole state after it."""
    if not history:
        return dict(NOTHING)
    latest = history[-1]
    if "state" not in latest:  # records written before states were kept: fold the data
        latest["state"] = {}
        for t in history:
            latest["state"].update(t.get("data") or {})
    return latest


def hold_of(transition: dict) -> str | None:
    """The seat hold of the appointment a transition's state names, if any."""
    appointment = (transition.get("state") or {}).get("appointment") or {}
    return appointment.get("hold_id", appointment.get("appointment_id"))


def appointment_status(app_status: str) -> str:
    return {"AWAITING_PAYMENT": "AWAITING_PAYMENT", "EXPIRED": "EXPIRED", "CANCELLED": "CANCELLED",
            "NO_SHOW": "NO_SHOW"}.get(app_status, "CONFIRMED")


def is_staff_of(caller, office_id: str) -> bool:
    return caller.role in ("OFFICER", "SUPERVISOR") and caller.office_id == office_id


def may_see(caller, header: dict) -> bool:
    """Applicants see their own applications, staff those of their office."""
    if caller.role == "APPLICANT":
        return header["account_id"] == caller.account_id
    return is_staff_of(caller, header["office_id"])


@dataclass
class Change:
    """One transition to append: `marks` are fields of this record only, not carried into the state."""
    status: str
    note: str
    data: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    marks: dict | None = None


@dataclass
class Application:
    header: dict   # written once at creation, never updated
    history: list  # the status log, oldest first

    @classmethod
    def new_header(cls, application_id: str, account: dict, office_id: str, passport_type: str, validity_years: int,
                   service_type: str, express: bool, priority_group: str, now: dt.datetime) -> dict:
        """Validate what is applied for against the applicant's NIK (age, sex), and the header to store."""
        age = rules.age_on(dt.date.fromisoformat(account["birth_date"]), now.date())
        sex = rules.nik_birth_date(account["nik"])[3] if account.get("nik") else ""
        rules.validate_application(passport_type, validity_years, service_type, express, priority_group, age, sex)
        return {"_id": application_id, "account_id": account["_id"], "office_id": office_id,
                "passport_type": passport_type, "validity_years": validity_years,
                "service_type": service_type, "express": express, "priority_group": priority_group,
                "birth_date": account["birth_date"], "created_at": now}

    # -- what it is --------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.header["_id"]

    @property
    def account_id(self) -> str:
        return self.header["account_id"]

    @property
    def office_id(self) -> str:
        return self.header["office_id"]

    @property
    def latest(self) -> dict:
        return last(self.history)

    @property
    def status(self) -> str:
        return self.latest["status"]

    @property
    def state(self) -> dict:
        return self.latest["state"]

    @property
    def appointment(self) -> dict:
        return self.state.get("appointment") or {}

    @property
    def is_closed(self) -> bool:
        return self.status in rules.CLOSED_STATUSES

    def age(self, today: dt.date) -> int:
        born = self.header.get("birth_date")
        return rules.age_on(dt.date.fromisoformat(born), today) if born else 30

    def lanes(self) -> set[str]:
        return rules.allowed_lanes(self.header["service_type"], self.header["express"], self.header["priority_group"])

    def required_documents(self, today: dt.date) -> list[tuple[str, ...]]:
        return rules.required_documents(self.header["service_type"], self.age(today))

    def record_of(self, change: Change, now: dt.datetime) -> dict:
        """The transition record after the latest: each keeps the whole state after it."""
        latest = self.latest
        state = dict(latest.get("state") or {})
        state.update(change.data)
        seq = latest["seq"] + 1
        return {"_id": f"{self.id}:{seq:04d}", "application_id": self.id, "seq": seq,
                "office_id": self.office_id, "status": change.status, "at": now, "note": change.note,
                "data": change.data, "state": state,
                "appointment_date": (state.get("appointment") or {}).get("date"), **(change.marks or {})}

    def _ids(self) -> dict:
        return {"application_id": self.id, "account_id": self.account_id, "office_id": self.office_id}

    # -- creation and documents ----------------------------------------------------------------
    def created(self) -> Change:
        return Change("DRAFT", "application created", {}, [events.ApplicationCreated(
            service_type=self.header["service_type"], **self._ids())])

    def check_documents_may_change(self) -> None:
        if self.status in DOCUMENTS_FINAL:
            raise DomainError("conflict", "application-closed", f"documents cannot be added to a {self.status} application")

    # -- booking --------------------------------------------------------------------------------
    def is_booked_on(self, slot_id: str) -> bool:
        """A retry of the booking that already succeeded."""
        return self.status == "AWAITING_PAYMENT" and bool(self.appointment) and self.appointment["slot_id"] == slot_id

    def check_may_book(self) -> None:
        if self.status != "DRAFT":
            raise DomainError("conflict", "appointment-exists",
                              f"the application is {self.status}; only a DRAFT application can book")

    def booked(self, appointment: dict, billing: dict, slot: dict) -> Change:
        booked = events.AppointmentBooked(
            appointment_id=appointment["appointment_id"], slot_id=slot["_id"], date=slot["date"],
            start_time=slot["start_time"], lane=slot["lane"], pay_before=appointment["pay_before"],
            billing_code=billing["billing_code"], amount=events.Money(billing["amount"], billing["currency"]),
            **self._ids())
        return Change("AWAITING_PAYMENT", f"seat held for {slot['date']} {slot['start_time']} ({slot['lane']})",
                      {"appointment": appointment, "billing": billing}, [booked])

    def abandonment_of(self, hold: str) -> tuple[bool, Change | None]:
        """May the seat of `hold` be freed, and the fence to append first (None: none needed)? A hold
        never recorded as the appointment may have a billing nobody was told: BookingAbandoned (payment
        voids it) goes out with a transition taking the next place in the log (status unchanged), so a
        request still about to record this hold loses its insert. The appointment's own seat of an
        open application is never freed."""
        latest = self.latest
        recorded = any(hold_of(t) == hold for t in self.history)
        if recorded and hold_of(latest) == hold and latest["status"] not in rules.CLOSED_STATUSES:
            return False, None
        if not recorded and latest.get("abandoned_hold") != hold:
            return True, Change(latest["status"], "booking attempt abandoned", {},
                                [events.BookingAbandoned(appointment_id=hold, **self._ids())],
                                marks={"abandoned_hold": hold})
        return True, None

    # -- after booking ----------------------------------------------------------------------------
    def check_may_cancel(self) -> bool:
        """True when it is cancelled already (a retry)."""
        if self.status == "CANCELLED":
            return True
        if self.status not in ("AWAITING_PAYMENT", "PAID"):
            raise DomainError("conflict", "cancel-not-allowed",
                              f"the application is {self.status}; only a booked appointment can be cancelled")
        return False

    def closed(self, status: str, note: str, reason: str) -> Change:
        """CANCELLED or EXPIRED: the appointment given back (`reason`: APPLICANT, OFFICE, BILLING_EXPIRED)."""
        appointment = self.appointment
        cancelled = events.AppointmentCancelled(
            appointment_id=appointment.get("appointment_id", ""), slot_id=appointment.get("slot_id", ""),
            reason=reason, billing_code=(self.state.get("billing") or {}).get("billing_code", ""), **self._ids())
        return Change(status, note, {}, [cancelled])

    def is_rescheduled_to(self, slot_id: str) -> bool:
        return self.status == "PAID" and self.appointment.get("slot_id") == slot_id

    def check_may_reschedule(self, today: dt.date, by_office: bool) -> None:
        current = self.appointment
        rules.check_reschedule(self.status, dt.date.fromisoformat(current["date"]) if current else today,
                               today, bool(self.state.get("reschedule_used")), by_office)

    @property
    def generation(self) -> int:
        """The seat generation: a reschedule or a re-seating holds the next one."""
        return int(self.state.get("generation", 0))

    def rescheduled(self, moved: dict, slot: dict, by_office: bool, reason: str) -> Change:
        current = self.appointment
        event = events.AppointmentRescheduled(
            appointment_id=current.get("appointment_id", ""), date=slot["date"], start_time=slot["start_time"],
            lane=slot["lane"], previous_date=current.get("date", ""), previous_start_time=current.get("start_time", ""),
            by_office=by_office, reason=reason, **self._ids())
        data = {"appointment": moved, "generation": self.generation + 1}
        if not by_office:
            data["reschedule_used"] = True
        note = f"rescheduled to {slot['date']} {slot['start_time']}" + (f" by the office: {reason}" if by_office else "")
        return Change("PAID", note, data, [event])

    # -- facts from other services ----------------------------------------------------------------
    def payment_confirmed(self, appointment_id: str, paid_at: str) -> Change | None:
        """AWAITING_PAYMENT -> PAID for the current hold; None when confirmed already or the hold is gone."""
        appointment = self.appointment
        if self.status != "AWAITING_PAYMENT" or appointment.get("appointment_id") != appointment_id:
            return None
        confirmed = events.AppointmentConfirmed(
            appointment_id=appointment_id, date=appointment["date"], start_time=appointment["start_time"],
            lane=appointment["lane"], paid_at=paid_at, **self._ids())
        return Change("PAID", "payment received; appointment confirmed", {"paid_at": paid_at}, [confirmed])

    def expires(self, appointment_id: str) -> bool:
        return self.status == "AWAITING_PAYMENT" and self.appointment.get("appointment_id") == appointment_id

    def owns_billing(self, billing_code: str) -> bool:
        return (self.state.get("billing") or {}).get("billing_code") == billing_code

    def late_payment_reseated(self, billing_code: str, hold_id: str) -> Change:
        resolved = events.LatePaymentResolved(billing_code=billing_code, outcome="RESEATED", **self._ids())
        return Change("PAID", "late payment accepted: the seat was free again",
                      {"appointment": dict(self.appointment, hold_id=hold_id), "generation": self.generation + 1},
                      [resolved])

    def late_payment_outcome(self, billing_code: str, outcome: str) -> events.LatePaymentResolved:
        return events.LatePaymentResolved(billing_code=billing_code, outcome=outcome, **self._ids())

    def advanced(self, from_statuses: set[str], to_status: str, note: str, today: dt.date) -> Change | None:
        """A counter fact (biometrics captured, interview outcome): the next status, once."""
        if self.status not in from_statuses:
            return None
        return Change(to_status, note, {"approved_on": today.isoformat()} if to_status == "APPROVED" else {})

    def no_show(self, today: str) -> Change | None:
        """After the appointment's day ends, a PAID application not checked in is NO_SHOW."""
        appointment = self.appointment
        if self.status != "PAID" or appointment.get("date", today) >= today:
            return None
        event = events.AppointmentNoShow(appointment_id=appointment.get("appointment_id", ""),
                                         date=appointment["date"], **self._ids())
        return Change("NO_SHOW", f"no check-in on {appointment['date']}", {}, [event])

    # -- at the office ------------------------------------------------------------------------------
    def check_in_lane(self, today: str, priority_decision: str) -> str:
        """The queue lane of a PAID appointment of today. A PRIORITY appointment needs the officer's
        decision on its proof (REFUSED: the applicant queues in their regular lane)."""
        if self.status != "PAID":
            raise DomainError("conflict", "not-paid", f"the application is {self.status}; only PAID applications check in")
        appointment = self.appointment
        if appointment.get("date") != today:
            raise DomainError("conflict", "not-today", f"the appointment is on {appointment.get('date')}, not today")
        lane = appointment["lane"]
        if lane == "PRIORITY":
            if priority_decision not in rules.PRIORITY_DECISIONS:
                raise DomainError("invalid", "priority-decision-required",
                                  f"a PRIORITY appointment ({self.header['priority_group']}): confirm or refuse the proof",
                                  [{"field": "priority_decision", "message": "CONFIRMED or REFUSED"}])
            if priority_decision == "REFUSED":
                lane = rules.allowed_lanes(self.header["service_type"], self.header["express"], "").pop()
        return lane

    def checked_in(self, number: str, today: str, priority_decision: str) -> Change:
        checked = events.CheckedIn(queue_number=number, date=today, **self._ids())
        note = f"queue number {number}" + (" (priority proof refused: regular queue)"
                                           if priority_decision == "REFUSED" else "")
        return Change("CHECKED_IN", note, {"queue_number": number, "priority_decision": priority_decision}, [checked])

    @staticmethod
    def clean_issue_request(passport_number: str, delivery: str, address: str) -> str:
        passport_number = (passport_number or "").strip().upper()
        if not PASSPORT_NUMBER.match(passport_number):
            raise invalid("passport_number is one or two letters and 6-7 digits, e.g. X1234567", "passport_number")
        if delivery not in ("PICKUP", "POS"):
            raise invalid("delivery must be PICKUP or POS", "delivery")
        if delivery == "POS" and len((address or "").strip()) < 10:
            raise invalid("delivery by Pos Indonesia needs the full address", "address")
        return passport_number

    def is_issued_as(self, passport_number: str) -> bool:
        return self.status == "ISSUED" and self.state.get("passport_number") == passport_number

    def issued(self, passport_number: str, delivery: str, address: str) -> Change:
        if self.status != "APPROVED":
            raise DomainError("conflict", "not-approved", f"the application is {self.status}; only APPROVED ones are issued")
        event = events.PassportIssued(passport_number_masked=mask_passport(passport_number), delivery=delivery,
                                      **self._ids())
        data = {"passport_number": passport_number, "delivery": delivery}
        if delivery == "POS":
            data["address"] = address.strip()
        return Change("ISSUED", f"passport issued ({delivery.lower()})", data, [event])

    def is_handed_over(self) -> bool:
        return self.status in ("COLLECTED", "SHIPPED")

    def handed_over(self, tracking_number: str) -> Change:
        if self.status != "ISSUED":
            raise DomainError("conflict", "not-issued", f"the application is {self.status}; only ISSUED passports are handed over")
        if self.state.get("delivery") == "POS":
            tracking_number = (tracking_number or "").strip().upper()
            if not TRACKING_NUMBER.match(tracking_number):
                raise invalid("a Pos Indonesia tracking number (8-30 letters and digits) is required", "tracking_number")
            event = events.PassportShipped(tracking_number=tracking_number, **self._ids())
            return Change("SHIPPED", f"shipped by Pos Indonesia, {tracking_number}", {"tracking_number": tracking_number},
                          [event])
        if tracking_number:
            raise invalid("a passport for pickup has no tracking number", "tracking_number")
        return Change("COLLECTED", "collected at the office", {}, [events.PassportCollected(**self._ids())])
