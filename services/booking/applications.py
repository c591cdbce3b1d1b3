"""Applications, slots and seat holds.

How the store keeps its promises without transactions (FerretDB has none, and its conditional
updates are not atomic):
- A seat is a document `<slot_id>#<n>` with n < capacity; holding it is an insert, releasing it a
  delete. Two requests can never hold the same seat, so never more than `capacity` holds.
- `seats` has a unique index on application_id: one seat per application, also across replicas.
- One open application per account (= per NIK) is a claim document keyed by the account id.
- An application's status is an append-only log of transitions `<application_id>:<seq>`: a
  transition is inserted with the next sequence number, so two racing transitions cannot both
  win; the loser re-reads and decides again. Each transition carries its events (outbox).
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import replace

import grpc
from pymongo.errors import DuplicateKeyError

from passport.v1 import booking_pb2, payment_pb2
from servicekit import events, outbox
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import insert_unique

from services.booking import rules
from services.booking.calendar import Calendar, slot_documents, slot_id

TOPIC = events.TOPICS["booking"]
OUTBOX_COLLECTIONS = ["transitions"]


def _not_found(what: str = "application") -> DomainError:
    return DomainError("not_found", f"{what}-not-found", f"no such {what}")


class Applications:
    def __init__(self, db, calendar: Calendar, clock: Clock, payment_stub, hold_minutes: int = 120,
                 slot_horizon_days: int = 30, release_gate=None, on_staff_action=None):
        self.db, self.calendar, self.clock, self.payment = db, calendar, clock, payment_stub
        # release_gate(office, slot, now) raises DomainError while a slot's date is not open for
        # first-come-first-served booking (release schedule, ballot); None = always open.
        self.release_gate = release_gate
        # on_staff_action(caller, action, office_id, details) appends to the audit log.
        self.on_staff_action = on_staff_action
        self.hold = dt.timedelta(minutes=hold_minutes)
        self.horizon = slot_horizon_days
        self.slots, self.seats = db["slots"], db["seats"]
        self.applications, self.open_claims = db["applications"], db["open_applications"]
        self.transitions = db["transitions"]

    def ensure_indexes(self) -> None:
        self.slots.create_index([("office_id", 1), ("date", 1)])
        self.seats.create_index("slot_id")
        self.seats.create_index("application_id", unique=True)
        self.applications.create_index("account_id")
        self.transitions.create_index("application_id")
        self.seats.create_index("held_at")
        self.db["queue_numbers"].create_index([("office_id", 1), ("date", 1), ("letter", 1)])
        outbox.ensure_indexes(self.db, OUTBOX_COLLECTIONS)

    # -- offices and slots -------------------------------------------------------------------
    def ensure_slots(self) -> int:
        """Materialise the default slots of the coming working days (idempotent, keyed by slot id)."""
        created = 0
        for office in self.calendar.offices.values():
            today = office.today(self.clock.now())
            for day in self.calendar.working_days(office, today, self.horizon):
                docs = slot_documents(office, day)
                existing = {d["_id"] for d in self.slots.find({"office_id": office.office_id, "date": day.isoformat()}, {"_id": 1})}
                fresh = [d for d in docs if d["_id"] not in existing]
                for doc in fresh:
                    created += insert_unique(self.slots, doc)
        return created

    def office(self, office_id: str):
        office = self.calendar.offices.get(office_id)
        if office is None:
            raise DomainError("not_found", "office-not-found", f"no office {office_id!r}")
        return office

    def list_slots(self, office_id: str, date: str, lane: str = "") -> list[dict]:
        self.office(office_id)
        rules.parse_date(date, "date")
        if lane and lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        query = {"office_id": office_id, "date": date}
        if lane:
            query["lane"] = lane
        slots = list(self.slots.find(query).sort([("start_time", 1), ("lane", 1)]))
        held = self._held_counts([s["_id"] for s in slots])
        for s in slots:
            s["remaining"] = max(0, s["capacity"] - held.get(s["_id"], 0))
        return slots

    def _held_counts(self, slot_ids: list[str]) -> dict[str, int]:
        if not slot_ids:
            return {}
        rows = self.seats.aggregate([{"$match": {"slot_id": {"$in": slot_ids}}},
                                     {"$group": {"_id": "$slot_id", "n": {"$sum": 1}}}])
        return {r["_id"]: r["n"] for r in rows}

    def set_capacity(self, caller, office_id: str, date: str, lane: str, start_time: str, capacity: int,
                     reason: str) -> int:
        """Supervisor quota change for one date and lane (one start time, or all of them); audited."""
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office sets its quota")
        if not (reason or "").strip():
            raise invalid("a reason is required for a quota change", "reason")
        office = self.office(office_id)
        day = rules.parse_date(date, "date")
        if lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        if not isinstance(capacity, int) or capacity < 0 or capacity > 1000:
            raise invalid("capacity must be an integer from 0 to 1000", "capacity")
        if not self.calendar.is_working_day(office, day):
            raise invalid(f"{date} is not a working day of {office_id}", "date")
        starts = [start_time] if start_time else list(office.slots)
        if start_time and start_time not in office.slots:
            raise invalid(f"{office_id} has no slot starting at {start_time}", "start_time")
        wanted = {slot_id(office_id, day, lane, start) for start in starts}
        for doc in slot_documents(replace(office, quota={lane: 1}), day):
            doc["capacity"] = capacity
            if doc["_id"] in wanted and not insert_unique(self.slots, doc):
                self.slots.update_one({"_id": doc["_id"]}, {"$set": {"capacity": capacity}})
        self._staff_action(caller, "QUOTA_SET", office_id, {
            "date": date, "lane": lane, "start_time": start_time or "ALL", "capacity": capacity, "reason": reason})
        return len(wanted)

    def _staff_action(self, caller, action: str, office_id: str, details: dict) -> None:
        if self.on_staff_action is not None:
            self.on_staff_action(caller, action, office_id, details)

    # -- applications ------------------------------------------------------------------------
    def create(self, account: dict, office_id: str, passport_type: str, validity_years: int,
               service_type: str, express: bool, priority_group: str) -> dict:
        self.office(office_id)
        today = self.clock.now().date()
        age = rules.age_on(dt.date.fromisoformat(account["birth_date"]), today)
        rules.validate_application(passport_type, validity_years, service_type, express, priority_group, age)
        application_id = "app_" + uuid.uuid4().hex
        if not self._claim_open(account["_id"], application_id):
            raise DomainError("conflict", "active-application-exists",
                              "this NIK already has an open application; finish or cancel it first")
        now = self.clock.now()
        header = {"_id": application_id, "account_id": account["_id"], "office_id": office_id,
                  "passport_type": passport_type, "validity_years": validity_years,
                  "service_type": service_type, "express": express, "priority_group": priority_group,
                  "created_at": now}
        self.applications.insert_one(header)
        created = booking_pb2.ApplicationCreated(application_id=application_id, account_id=account["_id"],
                                                 office_id=office_id, service_type=service_type)
        self._append(header, 0, "DRAFT", "application created", {}, [created])
        return self.view(header)

    def _claim_open(self, account_id: str, application_id: str) -> bool:
        claim = {"_id": account_id, "application_id": application_id, "at": self.clock.now()}
        if insert_unique(self.open_claims, claim):
            return True
        held = self.open_claims.find_one({"_id": account_id})
        if held is None:
            return insert_unique(self.open_claims, claim)
        # The claim is stale if its application never got written (a crash in create) or closed.
        header = self.applications.find_one({"_id": held["application_id"]}, {"_id": 1})
        stale_orphan = header is None and self.clock.now() - held["at"] > dt.timedelta(minutes=2)
        closed = header is not None and self._latest(held["application_id"])["status"] in rules.CLOSED_STATUSES
        if stale_orphan or closed:
            self.open_claims.delete_one({"_id": account_id, "application_id": held["application_id"]})
            return insert_unique(self.open_claims, claim)
        return False

    def get(self, caller, application_id: str) -> dict:
        header = self.applications.find_one({"_id": application_id})
        if header is None or not _may_see(caller, header):
            raise _not_found()  # another applicant's id answers 404, never 403
        return header

    def list_for(self, account_id: str) -> list[dict]:
        return list(self.applications.find({"account_id": account_id}).sort("created_at", -1))

    # -- the state log -----------------------------------------------------------------------
    def history(self, application_id: str) -> list[dict]:
        return list(self.transitions.find({"application_id": application_id},
                                          {"_outbox": 0}).sort("seq", 1))

    def _latest(self, application_id: str) -> dict:
        history = self.history(application_id)
        return history[-1] if history else {"seq": -1, "status": "DRAFT", "data": {}}

    def _append(self, header: dict, seq: int, status: str, note: str, data: dict, payloads: list) -> bool:
        """Insert transition `seq`; False if another transition took that number first."""
        envs = [events.new_event("booking", header["_id"], p, self.clock) for p in payloads]
        record = {"_id": f"{header['_id']}:{seq:04d}", "application_id": header["_id"], "seq": seq,
                  "status": status, "at": self.clock.now(), "note": note, "data": data}
        return insert_unique(self.transitions, outbox.with_events(record, envs, TOPIC, self.clock))

    # -- booking -----------------------------------------------------------------------------
    def book(self, caller, application_id: str, slot_id: str, via_ballot: bool = False) -> dict:
        """Hold a seat and issue its billing. `via_ballot`: the seat was drawn in a ballot, so the
        release gate (closed for ballot dates) does not apply."""
        header = self.get(caller, application_id)
        if caller.role != "APPLICANT":
            raise _not_found()
        latest = self._latest(application_id)
        appointment = latest.get("data", {}).get("appointment")
        if latest["status"] == "AWAITING_PAYMENT" and appointment and appointment["slot_id"] == slot_id:
            return self.view(header)  # a retry of the booking that already succeeded
        if latest["status"] != "DRAFT":
            raise DomainError("conflict", "appointment-exists",
                              f"the application is {latest['status']}; only a DRAFT application can book")
        slot = self.slots.find_one({"_id": slot_id})
        if slot is None:
            raise DomainError("not_found", "slot-not-found", f"no slot {slot_id!r}")
        office = self.office(slot["office_id"])
        if slot["office_id"] != header["office_id"]:
            raise DomainError("conflict", "slot-of-another-office",
                              f"the slot belongs to office {slot['office_id']}, the application to {header['office_id']}")
        rules.check_bookable(dt.date.fromisoformat(slot["date"]), office.today(self.clock.now()), slot["lane"],
                             rules.allowed_lanes(header["service_type"], header["express"], header["priority_group"]))
        if self.release_gate is not None and not via_ballot:
            self.release_gate(office, slot, self.clock.now())
        seat = self._hold_seat(slot, application_id)
        try:
            billing = self.payment.IssueBilling(payment_pb2.IssueBillingRequest(
                appointment_id=seat["hold_id"], application_id=application_id,
                account_id=header["account_id"], office_id=header["office_id"],
                fee=payment_pb2.FeeParameters(passport_type=header["passport_type"],
                                              validity_years=header["validity_years"],
                                              service_type=header["service_type"], express=header["express"]),
                expires_at=rfc3339(seat["pay_before"])))
        except grpc.RpcError as exc:
            self.seats.delete_one({"_id": seat["_id"], "hold_id": seat["hold_id"]})
            raise DomainError("unavailable", "payment-unavailable",
                              "billing could not be issued right now; the seat was released, please retry") from exc
        appointment = {"appointment_id": seat["hold_id"], "slot_id": slot["_id"], "date": slot["date"],
                       "start_time": slot["start_time"], "end_time": slot["end_time"], "lane": slot["lane"],
                       "pay_before": rfc3339(seat["pay_before"], office.tz)}
        billing_view = {"billing_code": billing.billing_code, "amount": billing.amount.amount,
                        "currency": billing.amount.currency, "expires_at": billing.expires_at}
        booked = booking_pb2.AppointmentBooked(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=seat["hold_id"], slot_id=slot["_id"], date=slot["date"],
            start_time=slot["start_time"], lane=slot["lane"], pay_before=appointment["pay_before"],
            billing_code=billing.billing_code, amount=billing.amount)
        if not self._append(header, latest["seq"] + 1, "AWAITING_PAYMENT",
                            f"seat held for {slot['date']} {slot['start_time']} ({slot['lane']})",
                            {"appointment": appointment, "billing": billing_view}, [booked]):
            # A concurrent transition won; if it is this same booking (a parallel retry), fine.
            now_latest = self._latest(application_id)
            if now_latest["status"] != "AWAITING_PAYMENT":
                raise DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")
        return self.view(header)

    def _hold_seat(self, slot: dict, application_id: str) -> dict:
        existing = self.seats.find_one({"application_id": application_id})
        if existing is not None:
            if existing["slot_id"] == slot["_id"]:
                return existing  # resume a booking interrupted after its seat was taken
            self.seats.delete_one({"_id": existing["_id"], "hold_id": existing["hold_id"]})
        taken = {s["n"] for s in self.seats.find({"slot_id": slot["_id"]}, {"n": 1})}
        free = [n for n in range(slot["capacity"]) if n not in taken]
        if len(taken) >= slot["capacity"]:
            free = []
        random.shuffle(free)  # spread racing requests over different seats
        now = self.clock.now()
        for n in free:
            seat = {"_id": f"{slot['_id']}#{n}", "slot_id": slot["_id"], "n": n,
                    "application_id": application_id, "hold_id": "apt_" + uuid.uuid4().hex,
                    "held_at": now, "pay_before": now + self.hold}
            try:
                self.seats.insert_one(seat)
                return seat
            except DuplicateKeyError:
                mine = self.seats.find_one({"application_id": application_id})
                if mine is not None:  # a parallel request of the same application won a seat
                    return mine
        raise DomainError("conflict", "slot-full", "this slot has no seats left; choose another time or join the waitlist")

    # -- what other services tell us ---------------------------------------------------------
    def confirm_payment(self, application_id: str, appointment_id: str, paid_at: str) -> bool:
        """PaymentSettled: AWAITING_PAYMENT -> PAID (once; a redelivery finds it PAID already)."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        appointment = (latest.get("data") or {}).get("appointment") or {}
        if latest["status"] != "AWAITING_PAYMENT" or appointment.get("appointment_id") != appointment_id:
            return False  # already confirmed, or a payment for a hold that is gone (payment flags it)
        confirmed = booking_pb2.AppointmentConfirmed(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=appointment_id, date=appointment["date"], start_time=appointment["start_time"],
            lane=appointment["lane"], paid_at=paid_at)
        return self._append(header, latest["seq"] + 1, "PAID", "payment received; appointment confirmed",
                            {"paid_at": paid_at}, [confirmed])

    def release_expired(self, application_id: str, appointment_id: str) -> bool:
        """BillingExpired: AWAITING_PAYMENT -> EXPIRED, the seat and the open-application claim freed."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        appointment = (latest.get("data") or {}).get("appointment") or {}
        if latest["status"] == "AWAITING_PAYMENT" and appointment.get("appointment_id") == appointment_id:
            cancelled = booking_pb2.AppointmentCancelled(
                application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
                appointment_id=appointment_id, slot_id=appointment["slot_id"], reason="BILLING_EXPIRED")
            self._append(header, latest["seq"] + 1, "EXPIRED", "not paid in time; the seat was released",
                         {}, [cancelled])
        self._free(header["_id"], appointment_id, header["account_id"])
        return True

    def _free(self, application_id: str, appointment_id: str, account_id: str) -> None:
        """Release what a closed application held. Idempotent; the reaper repeats it after a crash."""
        if self._latest(application_id)["status"] not in rules.CLOSED_STATUSES:
            return
        self.seats.delete_one({"application_id": application_id, "hold_id": appointment_id})
        self.open_claims.delete_one({"_id": account_id, "application_id": application_id})

    def reap_seats(self, orphan_after: dt.timedelta = dt.timedelta(minutes=5)) -> int:
        """Seats left behind by a crash: held by a closed application, or by one that never got
        past DRAFT (the booking died between taking the seat and recording it)."""
        freed = 0
        cutoff = self.clock.now() - orphan_after
        for seat in self.seats.find({"held_at": {"$lt": cutoff}}, {"application_id": 1, "hold_id": 1}):
            status = self._latest(seat["application_id"])["status"]
            if status in rules.CLOSED_STATUSES or status == "DRAFT":
                freed += self.seats.delete_one({"_id": seat["_id"], "hold_id": seat["hold_id"]}).deleted_count
        return freed

    def advance(self, application_id: str, from_statuses: set[str], to_status: str, note: str) -> bool:
        """A counter fact from another service (biometrics captured, interview outcome): append
        the next status once; a redelivery finds it appended already."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        if latest["status"] not in from_statuses:
            return False
        return self._append(header, latest["seq"] + 1, to_status, note, {}, [])

    # -- at the office -----------------------------------------------------------------------
    def check_in(self, caller, office_id: str, application_id: str) -> str:
        if caller.role not in ("OFFICER", "SUPERVISOR") or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only staff of this office check applicants in")
        header = self.get(caller, application_id)
        latest = self._latest(application_id)
        if latest["status"] == "CHECKED_IN":
            return latest["data"]["queue_number"]
        if latest["status"] != "PAID":
            raise DomainError("conflict", "not-paid", f"the application is {latest['status']}; only PAID applications check in")
        appointment = self._appointment(application_id)
        office = self.office(office_id)
        today = office.today(self.clock.now()).isoformat()
        if appointment["date"] != today:
            raise DomainError("conflict", "not-today", f"the appointment is on {appointment['date']}, not today")
        letter = QUEUE_LETTERS[appointment["lane"]]
        taken = self.db["queue_numbers"].count_documents({"office_id": office_id, "date": today, "letter": letter})
        for n in range(taken + 1, taken + 1000):
            number = f"{letter}{n:03d}"
            if insert_unique(self.db["queue_numbers"], {"_id": f"{office_id}:{today}:{number}", "office_id": office_id,
                                                        "date": today, "letter": letter, "n": n,
                                                        "application_id": application_id}):
                break
        checked = booking_pb2.CheckedIn(application_id=application_id, account_id=header["account_id"],
                                        office_id=office_id, queue_number=number, date=today)
        if not self._append(header, latest["seq"] + 1, "CHECKED_IN", f"queue number {number}",
                            {"queue_number": number}, [checked]):
            return self._latest(application_id)["data"].get("queue_number", number)
        return number

    def _appointment(self, application_id: str) -> dict:
        data = {}
        for t in self.history(application_id):
            data.update(t.get("data") or {})
        return data.get("appointment") or {}

    # -- views -------------------------------------------------------------------------------
    def view(self, header: dict) -> dict:
        history = self.history(header["_id"])
        office = self.office(header["office_id"])
        latest = history[-1] if history else {"status": "DRAFT", "data": {}}
        data = {}
        for t in history:
            data.update(t.get("data") or {})
        appointment = data.get("appointment")
        if appointment:
            appointment = dict(appointment, status=_appointment_status(latest["status"]))
        return {
            "application_id": header["_id"], "account_id": header["account_id"],
            "office_id": header["office_id"], "status": latest["status"],
            "passport_type": header["passport_type"], "validity_years": header["validity_years"],
            "service_type": header["service_type"], "express": header["express"],
            "priority_group": header["priority_group"] or None,
            "created_at": rfc3339(header["created_at"], office.tz),
            "appointment": appointment, "billing": data.get("billing"),
            "timeline": [{"status": t["status"], "at": rfc3339(t["at"], office.tz), "note": t.get("note", "")}
                         for t in history],
        }


# Lane letters of queue numbers; the counter calls P (priority) first, then E, R, A, O.
QUEUE_LETTERS = {"PRIORITY": "P", "EXPRESS": "E", "REPLACEMENT": "R", "REGULAR": "A", "OUTREACH": "O"}


def _appointment_status(app_status: str) -> str:
    return {"AWAITING_PAYMENT": "AWAITING_PAYMENT", "EXPIRED": "EXPIRED", "CANCELLED": "CANCELLED",
            "NO_SHOW": "NO_SHOW"}.get(app_status, "CONFIRMED")


def _may_see(caller, header: dict) -> bool:
    if caller.role == "APPLICANT":
        return header["account_id"] == caller.account_id
    return caller.role in ("OFFICER", "SUPERVISOR") and header["office_id"] == caller.office_id

