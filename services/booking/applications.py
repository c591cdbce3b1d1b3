"""Applications, slots and seat holds.

How the store keeps its promises without transactions (FerretDB has none, and its conditional
updates are not atomic):
- A seat is a document `<slot_id>#<n>` with n < capacity; holding it is an insert, releasing it a
  delete. Two requests can never hold the same seat, so never more than `capacity` holds.
- `seats` has a unique index on `holder` = `<application_id>#<generation>`: one seat per application
  and generation (a reschedule is the next generation), also across replicas.
- One open application per account (= per NIK) is a claim document keyed by the account id.
- An application's status is an append-only log of transitions `<application_id>:<seq>`: a
  transition is inserted with the next sequence number, so two racing transitions cannot both
  win; the loser re-reads and decides again. Each transition carries its events (outbox).
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import replace

import grpc
from pymongo.errors import DuplicateKeyError

from passport.v1 import booking_pb2, payment_pb2
from servicekit import events, outbox
from servicekit.cache import Memo, TtlCache
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.grpcserver import caller_gone
from servicekit.mongo import STORE_UNREACHABLE, append_numbered, insert_unique, read_numbered

from services.booking import metrics, rules
from services.booking.calendar import Calendar, slot_documents, slot_id
from services.booking.documents import Documents
from services.booking.seat_hints import SeatHints

TOPIC = events.TOPICS["booking"]
PASSPORT_NUMBER = re.compile(r"^[A-Z]{1,2}[0-9]{6,7}$")
TRACKING_NUMBER = re.compile(r"^[A-Z0-9]{8,30}$")


def _not_found(what: str = "application") -> DomainError:
    return DomainError("not_found", f"{what}-not-found", f"no such {what}")


class Applications:
    def __init__(self, db, calendar: Calendar, clock: Clock, payment_stub, hold_minutes: int = 120,
                 slot_horizon_days: int = 30, release_gate=None, on_staff_action=None,
                 slot_list_cache_s: float = 0.0, seat_hint_s: float = 0.0, free_seat_hint_s: float = 0.0,
                 booking_lead_minutes: int = 30, outreach_gate=None):
        self.db, self.calendar, self.clock, self.payment = db, calendar, clock, payment_stub
        # release_gate(office, slot, now) raises DomainError while a slot's date is not open for
        # first-come-first-served booking (release schedule, ballot); None = always open.
        self.release_gate = release_gate
        # outreach_gate(invitation_code, slot) -> bool: the code invites to this OUTREACH slot.
        self.outreach_gate = outreach_gate
        # on_staff_action(caller, action, office_id, details) appends to the audit log.
        self.on_staff_action = on_staff_action
        self.hold = dt.timedelta(minutes=hold_minutes)
        self.booking_lead = dt.timedelta(minutes=booking_lead_minutes)  # a slot closes this long before it starts
        self.horizon = slot_horizon_days
        self.slots, self.seats = db["slots"], db["seats"]
        self.applications, self.open_claims = db["applications"], db["open_applications"]
        self.by_account = db["account_applications"]
        self.transitions = db["transitions"]
        self.documents = Documents(db, clock)
        self._slot_cache = TtlCache(slot_list_cache_s)
        self._slot_docs = TtlCache(seat_hint_s)  # the public listing's slot documents
        self.seat_hints = SeatHints(seat_hint_s, free_ttl_s=free_seat_hint_s)
        # A booking attempt reads the application's header and its documents; both only ever grow
        # true, so a replica remembers them (a rush retries the same applications).
        self._headers, self._documents_complete = Memo(), Memo()
        # Transition records are immutable and numbered without gaps, so the log read last is a
        # valid prefix: a replica reads only what came after it (a DRAFT application: one lookup).
        self._history_read = Memo(max_entries=20_000)
        self._current_seats = Memo()  # hold id -> when the reaper last found it its appointment's seat

    def ensure_indexes(self) -> None:
        self.slots.create_index([("office_id", 1), ("date", 1)])
        self.seats.create_index("slot_id")
        _replace_index(self.seats, "application_id", unique=False)
        self.seats.create_index("holder", unique=True)
        self.applications.create_index("account_id")
        self.transitions.create_index("application_id")
        self.transitions.create_index([("office_id", 1), ("status", 1), ("appointment_date", 1)])
        self.db["waitlist"].create_index([("office_id", 1), ("date", 1), ("lane", 1), ("at", 1)])
        self.db["waitlist"].create_index("application_id", unique=True)
        self.documents.ensure_indexes()
        self.seats.create_index("held_at")
        self.db["queue_numbers"].create_index([("office_id", 1), ("date", 1), ("letter", 1)])
        outbox.ensure_indexes(self.db)

    # -- offices and slots -------------------------------------------------------------------
    def ensure_slots(self) -> int:
        """Materialise the default slots of the coming working days (idempotent, keyed by slot id)."""
        created = 0
        for office in self.calendar.offices.values():
            today = office.today(self.clock.now())
            # one read per office (on FerretDB every such filter scans the collection), not one per day
            existing = {d["_id"] for d in self.slots.find(
                {"office_id": office.office_id, "date": {"$gte": today.isoformat()}}, {"_id": 1})}
            for day in self.calendar.working_days(office, today, self.horizon):
                for doc in slot_documents(office, day):
                    if doc["_id"] not in existing:
                        created += insert_unique(self.slots, doc)
        return created

    def office(self, office_id: str):
        office = self.calendar.offices.get(office_id)
        if office is None:
            raise DomainError("not_found", "office-not-found", f"no office {office_id!r}")
        return office

    def published_slots(self, office_id: str, date: str, lane: str = "") -> list[dict]:
        """The public availability view: list_slots, at most `slot_list_cache_s` old. During a release
        rush thousands of applicants list the same day; one listing per `slot_list_cache_s` per
        replica serves them all. Booking itself always decides on the
        seats, so a moment-old `remaining` can only cost a `slot-full` answer."""
        return self._slot_cache.get((office_id, date, lane), lambda: self.list_slots(office_id, date, lane, hinted=True))

    def list_slots(self, office_id: str, date: str, lane: str = "", hinted: bool = False) -> list[dict]:
        """Slots with their remaining seats, read now (for decisions; see published_slots). Only
        `_id` lookups (FerretDB scans for anything else): slot ids follow from the office's start
        times, and a slot's seats are `<slot>#0 .. #capacity-1`. `hinted`: count the seats this
        replica saw taken in the last SEAT_HINT_SECONDS, or free in the last FREE_SEAT_HINT_SECONDS,
        without reading them (the public view)."""
        office = self.office(office_id)
        day = rules.parse_date(date, "date")
        if lane and lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        ids = [slot_id(office_id, day, each, start) for start in office.slots for each in ([lane] if lane else rules.LANES)]

        def read():
            return [doc for doc in (self.slots.find_one({"_id": i}) for i in ids) if doc is not None]
        # The public view may show a capacity up to SEAT_HINT_SECONDS old (a quota change is rare).
        slots = [dict(doc) for doc in self._slot_docs.get((office_id, date, lane), read)] if hinted else read()
        for s in slots:
            s["remaining"] = max(0, s["capacity"] - self._held(s, hinted))
        return sorted(slots, key=lambda s: (s["start_time"], s["lane"]))

    def _held(self, slot: dict, hinted: bool) -> int:
        """Seats held: each seat looked up by `_id`, except (when `hinted`) those this replica saw
        taken in the last SEAT_HINT_SECONDS (a seat is freed rarely, and a free through this replica
        clears the hints), so in a rush a full slot is listed without store reads, and those it saw
        free in the last FREE_SEAT_HINT_SECONDS (a few seconds: seats taken through another replica
        show after that), so an open day is not read seat by seat at every listing."""
        if slot.get("shrunk"):  # capacity was lowered: seats above it may still be held, so count
            return self.seats.count_documents({"slot_id": slot["_id"]})
        taken, free = self.seat_hints.seen(slot["_id"]) if hinted else (set(), set())
        held = 0
        for n in range(slot["capacity"]):
            if n in taken:
                held += 1
            elif n in free:
                continue
            elif self.seats.find_one({"_id": f"{slot['_id']}#{n}"}, {"_id": 1}) is not None:
                held += 1
                self.seat_hints.saw_taken(slot["_id"], n)
            else:
                self.seat_hints.saw_free(slot["_id"], n)
        return held

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
                before = self.slots.find_one({"_id": doc["_id"]}, {"capacity": 1, "shrunk": 1}) or {}
                shrunk = bool(before.get("shrunk")) or capacity < before.get("capacity", capacity)
                self.slots.update_one({"_id": doc["_id"]}, {"$set": {"capacity": capacity, "shrunk": shrunk}})
        self._staff_action(caller, "QUOTA_SET", office_id, {
            "date": date, "lane": lane, "start_time": start_time or "ALL", "capacity": capacity, "reason": reason})
        for key_lane in (lane, ""):  # this replica shows the new quota at once; others within the cache age
            self._slot_cache.invalidate((office_id, date, key_lane))
            self._slot_docs.invalidate((office_id, date, key_lane))
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
        sex = rules.nik_birth_date(account["nik"])[3] if account.get("nik") else ""
        rules.validate_application(passport_type, validity_years, service_type, express, priority_group, age, sex)
        application_id = "app_" + uuid.uuid4().hex
        if not self._claim_open(account["_id"], application_id):
            raise DomainError("conflict", "active-application-exists",
                              "this NIK already has an open application; finish or cancel it first")
        header = {"_id": application_id, "account_id": account["_id"], "office_id": office_id,
                  "passport_type": passport_type, "validity_years": validity_years,
                  "service_type": service_type, "express": express, "priority_group": priority_group,
                  "birth_date": account["birth_date"], "created_at": self.clock.now()}
        append_numbered(self.by_account, _account_key(account["_id"]),  # first, so it is never unlisted
                        lambda n: {"application_id": application_id})
        self.applications.insert_one(header)
        created = booking_pb2.ApplicationCreated(application_id=application_id, account_id=account["_id"],
                                                 office_id=office_id, service_type=service_type)
        self._append(header, _NOTHING, "DRAFT", "application created", {}, [created])
        return self.view(header)

    def _claim_open(self, account_id: str, application_id: str) -> bool:
        claim = {"_id": account_id, "application_id": application_id, "at": self.clock.now()}
        if insert_unique(self.open_claims, claim):
            return True
        held = self.open_claims.find_one({"_id": account_id})
        if held is None:
            return insert_unique(self.open_claims, claim)
        if held["application_id"] == application_id:
            return True
        # The claim is stale if its application never got written (a crash in create) or closed.
        header = self.applications.find_one({"_id": held["application_id"]}, {"_id": 1})
        stale_orphan = header is None and self.clock.now() - held["at"] > dt.timedelta(minutes=2)
        closed = header is not None and self._latest(held["application_id"])["status"] in rules.CLOSED_STATUSES
        if stale_orphan or closed:
            self.open_claims.delete_one({"_id": account_id, "application_id": held["application_id"]})
            return insert_unique(self.open_claims, claim)
        return False

    def get(self, caller, application_id: str) -> dict:
        header = self._headers.get(application_id)
        if header is None:
            header = self.applications.find_one({"_id": application_id})
            if header is not None:
                self._headers.put(application_id, header)  # headers are never updated
        if header is None or not _may_see(caller, header):
            raise _not_found()  # another applicant's id answers 404, never 403
        return header

    def _owned(self, caller, application_id: str) -> dict:
        header = self.get(caller, application_id)
        if caller.role != "APPLICANT":
            raise _not_found()
        return header

    def _staff(self, caller, application_id: str, role: tuple = ("OFFICER", "SUPERVISOR")) -> dict:
        header = self.get(caller, application_id)
        if caller.role not in role:
            raise DomainError("forbidden", "forbidden", "only officers of this office do this")
        return header

    def list_for(self, account_id: str) -> list[dict]:
        """An account's applications, newest first, through its index `<account>:<n>` (n = 0, 1, ...
        without gaps; `_id` lookups only, as FerretDB scans for any other filter)."""
        headers = [self.applications.find_one({"_id": entry["application_id"]})
                   for entry in read_numbered(self.by_account, _account_key(account_id))]
        # an entry whose application was never written (a crash inside create) lists nothing
        return sorted((h for h in headers if h is not None), key=lambda h: h["created_at"], reverse=True)

    def _age(self, header: dict) -> int:
        born = header.get("birth_date")
        return rules.age_on(dt.date.fromisoformat(born), self.clock.now().date()) if born else 30

    # -- documents ---------------------------------------------------------------------------
    def upload_document(self, caller, application_id: str, kind: str, content: bytes) -> dict:
        header = self._owned(caller, application_id)
        status = self._latest(application_id)["status"]
        if status in rules.CLOSED_STATUSES or status in ("CHECKED_IN", "BIOMETRICS_CAPTURED", "APPROVED", "ISSUED"):
            raise DomainError("conflict", "application-closed", f"documents cannot be added to a {status} application")
        return self.documents.upload(header["_id"], kind, content)

    def list_documents(self, caller, application_id: str) -> list[dict]:
        self.get(caller, application_id)
        return self.documents.list(application_id)

    # -- the state log -----------------------------------------------------------------------
    def history(self, application_id: str) -> list[dict]:
        """The transition log, read by `_id` point lookups `<application>:<seq>` (contiguous from 0):
        FerretDB pushes only `_id` equality down to SQLite, any other filter scans the collection.
        Only the records after the prefix this replica read before are looked up."""
        known = self._history_read.get(application_id, ())
        later = read_numbered(self.transitions, lambda n: f"{application_id}:{n:04d}", first=len(known),
                              projection={"_outbox": 0})
        history = known + tuple(later)
        if later:
            self._history_read.put(application_id, history)
        return list(history)

    def _latest(self, application_id: str) -> dict:
        return _last(self.history(application_id))

    def _append(self, header: dict, latest: dict, status: str, note: str, data: dict, payloads: list,
                marks: dict | None = None) -> dict | None:
        """Insert the transition after `latest`; None if another transition took that number first
        (else the record). Each record keeps the whole state after it, so the latest is the truth.
        `marks`: fields of this record only, not carried into the state."""
        envs = [events.new_event("booking", header["_id"], p, self.clock) for p in payloads]
        state = dict(latest.get("state") or {})
        state.update(data)
        seq = latest["seq"] + 1
        record = {"_id": f"{header['_id']}:{seq:04d}", "application_id": header["_id"], "seq": seq,
                  "office_id": header["office_id"], "status": status, "at": self.clock.now(), "note": note,
                  "data": data, "state": state,
                  "appointment_date": (state.get("appointment") or {}).get("date"), **(marks or {})}
        won = outbox.insert(self.transitions, record, envs, TOPIC, self.clock)
        return record if won else None

    # -- booking -----------------------------------------------------------------------------
    def book(self, caller, application_id: str, slot_id: str, via_ballot: bool = False,
             invitation_code: str = "") -> dict:
        """Hold a seat and issue its billing. `via_ballot`: the seat was assigned by the system (a
        ballot draw or a waitlist offer), so the release gate does not apply; nor does it to an
        outreach session's seats (`invitation_code`), which are given to a group, not released."""
        header = self._owned(caller, application_id)
        history = self.history(application_id)
        latest = _last(history)
        appointment = latest["state"].get("appointment")
        if latest["status"] == "AWAITING_PAYMENT" and appointment and appointment["slot_id"] == slot_id:
            return self.view(header, history=history)  # a retry of the booking that already succeeded
        if latest["status"] != "DRAFT":
            raise DomainError("conflict", "appointment-exists",
                              f"the application is {latest['status']}; only a DRAFT application can book")
        slot, office = self._bookable_slot(header, slot_id, invitation_code)
        if self.release_gate is not None and not via_ballot and slot["lane"] != "OUTREACH":
            self.release_gate(office, slot, self.clock.now())
        if not via_ballot:
            self._refuse_if_seen_full(slot)  # before the document lookups
        if not self._documents_complete.get(application_id):
            missing = self.documents.missing(application_id, rules.required_documents(header["service_type"],
                                                                                      self._age(header)))
            if missing:
                raise DomainError("invalid", "documents-missing", "upload these documents first: " + "; ".join(missing),
                                  [{"field": "documents", "message": m} for m in missing])
            self._documents_complete.put(application_id)  # documents are never deleted
        if slot["lane"] == "PRIORITY":
            missing = self.documents.missing(application_id, rules.priority_proof(header["priority_group"]))
            if missing:
                raise DomainError("invalid", "priority-proof-missing",
                                  f"a {header['priority_group']} priority seat needs this document uploaded first: "
                                  + "; ".join(missing) + " (the officer checks it at the counter)",
                                  [{"field": "documents", "message": m} for m in missing])
        seat = self._hold_seat(slot, application_id, generation=0)
        try:
            billing = self.payment.IssueBilling(payment_pb2.IssueBillingRequest(
                appointment_id=seat["hold_id"], application_id=application_id,
                account_id=header["account_id"], office_id=header["office_id"],
                fee=payment_pb2.FeeParameters(passport_type=header["passport_type"],
                                              validity_years=header["validity_years"],
                                              service_type=header["service_type"], express=header["express"]),
                expires_at=rfc3339(seat["pay_before"])))
        except grpc.RpcError as exc:
            # The billing may exist all the same (issued, answer lost): giving up voids it too.
            self._give_up(header, seat)
            raise DomainError("unavailable", "payment-unavailable",
                              "billing could not be issued right now; the seat was released, please retry") from exc
        if billing.status != "UNPAID" or caller_gone():
            # A resumed seat whose attempt was abandoned meanwhile (its billing is void), or a caller
            # that stopped waiting: record nothing it would never hear about.
            self._give_up(header, seat)
            raise _interrupted()
        appointment = dict(_appointment_of(slot, seat, office), appointment_id=seat["hold_id"],
                           pay_before=rfc3339(seat["pay_before"], office.tz))
        billing_view = {"billing_code": billing.billing_code, "amount": billing.amount.amount,
                        "currency": billing.amount.currency, "expires_at": billing.expires_at}
        booked = booking_pb2.AppointmentBooked(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=seat["hold_id"], slot_id=slot["_id"], date=slot["date"],
            start_time=slot["start_time"], lane=slot["lane"], pay_before=appointment["pay_before"],
            billing_code=billing.billing_code, amount=billing.amount)
        try:
            record = self._append(header, latest, "AWAITING_PAYMENT",
                                  f"seat held for {slot['date']} {slot['start_time']} ({slot['lane']})",
                                  {"appointment": appointment, "billing": billing_view}, [booked])
        except STORE_UNREACHABLE:
            self._give_up(header, seat)  # the insert may have landed all the same: _abandon reads first
            raise
        if record is None:
            # Another transition took the number: this same booking by a parallel retry (same seat),
            # or anything else, after which this attempt's seat and billing are given up.
            now_latest = self._latest(application_id)
            if _hold_of(now_latest) == seat["hold_id"]:
                return self.view(header)
            self._give_up(header, seat)
            if now_latest["status"] == "DRAFT":
                raise _interrupted()
            raise DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")
        metrics.BOOKED.labels(header["office_id"], slot["lane"]).inc()
        return self.view(header, history=history + [record])  # no second read on the hot path

    def _bookable_slot(self, header: dict, slot_id: str, invitation_code: str = ""):
        slot = self.slots.find_one({"_id": slot_id})
        if slot is None:
            raise DomainError("not_found", "slot-not-found", f"no slot {slot_id!r}")
        office = self.office(slot["office_id"])
        if slot["office_id"] != header["office_id"]:
            raise DomainError("conflict", "slot-of-another-office",
                              f"the slot belongs to office {slot['office_id']}, the application to {header['office_id']}")
        lanes = rules.allowed_lanes(header["service_type"], header["express"], header["priority_group"])
        if slot["lane"] == "OUTREACH":
            if self.outreach_gate is None or not self.outreach_gate(invitation_code, slot):
                raise DomainError("conflict", "invitation-required",
                                  "outreach seats are booked with the invitation code of their collective session")
            lanes = lanes | {"OUTREACH"}
        rules.check_bookable(dt.date.fromisoformat(slot["date"]), office.today(self.clock.now()), slot["lane"], lanes)
        rules.check_not_started(slot_start(slot, office), self.clock.now(), self.booking_lead)
        return slot, office

    def _hold_seat(self, slot: dict, application_id: str, generation: int) -> dict:
        """Take a free seat `<slot>#<n>`, n < capacity, by trying inserts in the order the seat hints
        give (random among the untried; no listing of the slot's seats: every step is an `_id`
        operation). The unique `holder` keeps it one seat per application and generation; a retry
        finds its own seat again. It always tries the seats: only public requests answer a slot this
        replica saw full at once (`_refuse_if_seen_full`), the system's own seatings (waitlist,
        ballot, office moves, late payers) do not."""
        holder = f"{application_id}#{generation}"
        if slot.get("shrunk"):  # capacity was lowered: seats above it may still be held, so count
            if self.seats.count_documents({"slot_id": slot["_id"]}) >= slot["capacity"]:
                mine = self.seats.find_one({"holder": holder})
                if mine is not None and mine["slot_id"] == slot["_id"]:
                    return mine
                raise _slot_full()
        now, tried = self.clock.now(), set()
        while (n := self.seat_hints.pick(slot["_id"], slot["capacity"], tried)) is not None:
            tried.add(n)
            seat = {"_id": f"{slot['_id']}#{n}", "slot_id": slot["_id"], "n": n, "holder": holder,
                    "application_id": application_id, "hold_id": "apt_" + uuid.uuid4().hex,
                    "held_at": now, "pay_before": now + self.hold}
            taken = None  # the seat's document after this attempt
            try:
                self.seats.insert_one(seat)
                taken = seat
            except DuplicateKeyError:
                taken = self.seats.find_one({"_id": seat["_id"]})
            finally:
                self.seat_hints.tried_seat(slot["_id"], n, taken=taken is not None)
            if taken is not None:
                if taken is seat:
                    return seat
                if taken["holder"] == holder:
                    return _resumable(taken, now)  # a retry, or a booking resumed after a crash
                continue  # someone else's seat
            # The seat is free, so the unique holder refused: this application holds another seat.
            mine = self.seats.find_one({"holder": holder})
            if mine is not None and mine["slot_id"] == slot["_id"]:
                return _resumable(mine, now)
            if mine is not None:
                # a booking of another slot: never taken from under a request still running (a
                # client that timed out and retried elsewhere); given up once that request died
                header = self.applications.find_one({"_id": application_id})
                if not self._abandon(header, _resumable(mine, now)):
                    raise DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")
            return self._hold_seat(slot, application_id, generation)
        raise _slot_full()

    def _give_up(self, header: dict, seat: dict) -> None:
        """A booking attempt that will not complete gives its seat back now rather than by the reaper.
        The store may be what failed: then the reaper does it within seconds."""
        try:
            self._abandon(header, seat)
        except STORE_UNREACHABLE:
            metrics.ABANDON_DEFERRED.inc()

    def _abandon(self, header: dict, seat: dict) -> bool:
        """Free a seat that is not its application's appointment: a booking or reschedule that failed,
        crashed or timed out, or a closed application's. A hold never recorded as the appointment may
        have a billing nobody was told: payment voids it on BookingAbandoned. That event goes out with
        a fence, a transition taking the next place in the status log (status unchanged), so a request
        still about to record this hold loses its insert. False when the seat is the appointment's
        after all, or the log moved meanwhile (decided again later)."""
        hold = seat["hold_id"]
        history = self.history(header["_id"])
        latest = history[-1]
        recorded = any(_hold_of(t) == hold for t in history)
        if recorded and _hold_of(latest) == hold and latest["status"] not in rules.CLOSED_STATUSES:
            return False  # the appointment's own seat
        if not recorded and latest.get("abandoned_hold") != hold:
            abandoned = booking_pb2.BookingAbandoned(
                application_id=header["_id"], account_id=header["account_id"], office_id=header["office_id"],
                appointment_id=hold)
            if self._append(header, latest, latest["status"], "booking attempt abandoned", {}, [abandoned],
                            marks={"abandoned_hold": hold}) is None:
                return False
            metrics.ABANDONED.labels(header["office_id"]).inc()
        self._delete_seats({"_id": seat["_id"], "hold_id": hold})
        return True

    def _refuse_if_seen_full(self, slot: dict) -> None:
        """A public request for a slot this replica saw full in the last SEAT_HINT_SECONDS: `slot-full`
        at once, without store writes."""
        if self.seat_hints.full(slot["_id"], slot["capacity"]):
            raise _slot_full()

    def _delete_seats(self, query: dict) -> int:
        deleted = self.seats.delete_one(query).deleted_count
        self.seat_hints.saw_freed()
        return deleted

    def _delete_seats_of(self, query: dict) -> int:
        deleted = self.seats.delete_many(query).deleted_count
        self.seat_hints.saw_freed()
        return deleted

    # -- after booking -----------------------------------------------------------------------
    def cancel(self, caller, application_id: str) -> dict:
        """The applicant gives the seat back at once; the application closes (CANCELLED), so a
        held seat cannot be handed over to someone else by cancelling at an agreed moment."""
        header = self._owned(caller, application_id)
        latest = self._latest(application_id)
        if latest["status"] == "CANCELLED":
            return self.view(header)
        if latest["status"] not in ("AWAITING_PAYMENT", "PAID"):
            raise DomainError("conflict", "cancel-not-allowed",
                              f"the application is {latest['status']}; only a booked appointment can be cancelled")
        self._close(header, latest, "CANCELLED", "cancelled by the applicant", "APPLICANT")
        return self.view(header)

    def _close(self, header: dict, latest: dict, status: str, note: str, reason: str) -> bool:
        state = latest["state"]
        appointment = state.get("appointment") or {}
        cancelled = booking_pb2.AppointmentCancelled(
            application_id=header["_id"], account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=appointment.get("appointment_id", ""), slot_id=appointment.get("slot_id", ""),
            reason=reason, billing_code=(state.get("billing") or {}).get("billing_code", ""))
        appended = self._append(header, latest, status, note, {}, [cancelled]) is not None
        if appended:
            metrics.RELEASED.labels(header["office_id"], reason).inc()
        self._free(header)
        return appended

    def reschedule(self, caller, application_id: str, slot_id: str, by_office: bool = False, reason: str = "") -> dict:
        header = self.get(caller, application_id) if by_office else self._owned(caller, application_id)
        latest = self._latest(application_id)
        state = latest["state"]
        current = state.get("appointment") or {}
        if latest["status"] == "PAID" and current.get("slot_id") == slot_id:
            return self.view(header)  # a retry that already moved
        office = self.office(header["office_id"])
        rules.check_reschedule(latest["status"], dt.date.fromisoformat(current["date"]) if current else office.today(self.clock.now()),
                               office.today(self.clock.now()), bool(state.get("reschedule_used")), by_office)
        slot, office = self._bookable_slot(header, slot_id)
        if dt.date.fromisoformat(slot["date"]) <= office.today(self.clock.now()):
            raise DomainError("conflict", "reschedule-not-allowed", "choose a date after today")
        if not by_office:
            self._refuse_if_seen_full(slot)
        generation = int(state.get("generation", 0)) + 1
        seat = self._hold_seat(slot, application_id, generation)
        moved = dict(current, **_appointment_of(slot, seat, office), rescheduled=True)
        event = booking_pb2.AppointmentRescheduled(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=current.get("appointment_id", ""), date=slot["date"], start_time=slot["start_time"],
            lane=slot["lane"], previous_date=current.get("date", ""), previous_start_time=current.get("start_time", ""),
            by_office=by_office, reason=reason)
        data = {"appointment": moved, "generation": generation}
        if not by_office:
            data["reschedule_used"] = True
        note = f"rescheduled to {slot['date']} {slot['start_time']}" + (f" by the office: {reason}" if by_office else "")
        if not self._append(header, latest, "PAID", note, data, [event]):
            self._delete_seats({"_id": seat["_id"], "hold_id": seat["hold_id"]})
            raise DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")
        self._delete_seats_of({"application_id": application_id, "hold_id": {"$ne": seat["hold_id"]}})
        return self.view(header)

    def reschedule_office_day(self, caller, office_id: str, date: str, to_date: str, reason: str) -> tuple[int, int]:
        """Force majeure: move every booked appointment of `date` to the same lane on `to_date`
        (same start time if free, else the next free one); those that cannot be re-seated are
        cancelled by the office (their payment is refunded). Applicants keep their own reschedule."""
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office moves a day")
        if not (reason or "").strip():
            raise invalid("a reason is required", "reason")
        office = self.office(office_id)
        day, target = rules.parse_date(date, "date"), rules.parse_date(to_date, "to_date")
        if target <= office.today(self.clock.now()) or target == day:
            raise invalid("to_date must be a later day than today and differ from date", "to_date")
        if not self.calendar.is_working_day(office, target):
            raise invalid(f"{to_date} is not a working day of {office_id}", "to_date")
        moved = cancelled = 0
        affected = {t["application_id"] for t in self.transitions.find(
            {"office_id": office_id, "appointment_date": date, "status": {"$in": ["AWAITING_PAYMENT", "PAID"]}},
            {"application_id": 1})}
        for application_id in sorted(affected):
            header = self.applications.find_one({"_id": application_id})
            latest = self._latest(application_id)
            appointment = latest["state"].get("appointment") or {}
            if latest["status"] not in ("AWAITING_PAYMENT", "PAID") or appointment.get("date") != date:
                continue
            if latest["status"] == "AWAITING_PAYMENT":  # unpaid: release; the applicant books again
                self._close(header, latest, "CANCELLED", f"the office closed {date}: {reason}", "OFFICE")
                cancelled += 1
                continue
            candidates = sorted(self.list_slots(office_id, to_date, appointment["lane"]),
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
                self._close(header, self._latest(application_id), "CANCELLED",
                            f"the office closed {date} and had no seat on {to_date}: {reason}", "OFFICE")
                cancelled += 1
        self._staff_action(caller, "OFFICE_DAY_RESCHEDULED", office_id,
                           {"date": date, "to_date": to_date, "reason": reason, "moved": moved, "cancelled": cancelled})
        return moved, cancelled

    # -- what other services tell us ---------------------------------------------------------
    def confirm_payment(self, application_id: str, appointment_id: str, paid_at: str) -> bool:
        """PaymentSettled: AWAITING_PAYMENT -> PAID (once; a redelivery finds it PAID already)."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        appointment = latest["state"].get("appointment") or {}
        if latest["status"] != "AWAITING_PAYMENT" or appointment.get("appointment_id") != appointment_id:
            return False  # already confirmed, or a payment for a hold that is gone (payment flags it)
        confirmed = booking_pb2.AppointmentConfirmed(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            appointment_id=appointment_id, date=appointment["date"], start_time=appointment["start_time"],
            lane=appointment["lane"], paid_at=paid_at)
        return self._append(header, latest, "PAID", "payment received; appointment confirmed",
                            {"paid_at": paid_at}, [confirmed]) is not None

    def release_expired(self, application_id: str, appointment_id: str) -> bool:
        """BillingExpired: AWAITING_PAYMENT -> EXPIRED, the seat and the open-application claim freed."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        appointment = latest["state"].get("appointment") or {}
        if latest["status"] == "AWAITING_PAYMENT" and appointment.get("appointment_id") == appointment_id:
            self._close(header, latest, "EXPIRED", "not paid in time; the seat was released", "BILLING_EXPIRED")
        else:
            self._free(header)
        return True

    def resolve_late_payment(self, application_id: str, billing_code: str) -> str:
        """Money arrived after the billing expired: re-seat the applicant if the same slot still has
        room and the NIK has no other open application; otherwise the payment is refunded."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return "REFUND"
        latest = self._latest(application_id)
        state = latest["state"]
        own_billing = (state.get("billing") or {}).get("billing_code") == billing_code
        if latest["status"] == "PAID" and own_billing:
            return "RESEATED"  # already handled (a redelivery)
        outcome = "REFUND"
        appointment = state.get("appointment") or {}
        if latest["status"] == "EXPIRED" and appointment and self._claim_open(header["account_id"], application_id):
            slot = self.slots.find_one({"_id": appointment["slot_id"]})
            office = self.office(header["office_id"])
            if slot and dt.date.fromisoformat(slot["date"]) >= office.today(self.clock.now()) \
                    and (state.get("billing") or {}).get("billing_code") == billing_code:
                generation = int(state.get("generation", 0)) + 1
                try:
                    seat = self._hold_seat(slot, application_id, generation)
                    resolved = booking_pb2.LatePaymentResolved(
                        application_id=application_id, account_id=header["account_id"],
                        office_id=header["office_id"], billing_code=billing_code, outcome="RESEATED")
                    if self._append(header, latest, "PAID", "late payment accepted: the seat was free again",
                                    {"appointment": dict(appointment, hold_id=seat["hold_id"]),
                                     "generation": generation}, [resolved]):
                        return "RESEATED"
                    self._delete_seats({"_id": seat["_id"], "hold_id": seat["hold_id"]})
                except DomainError:
                    pass
            self.open_claims.delete_one({"_id": header["account_id"], "application_id": application_id})
        refund = booking_pb2.LatePaymentResolved(
            application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
            billing_code=billing_code, outcome=outcome)
        key = {"_id": billing_code, "application_id": application_id, "outcome": outcome}
        outbox.insert(self.db["late_payments"],
            key, [events.new_event("booking", application_id, refund, self.clock)], TOPIC, self.clock)
        return outcome

    def _free(self, header: dict) -> None:
        """Release what a closed application held. Idempotent; the reaper repeats it after a crash."""
        if self._latest(header["_id"])["status"] not in rules.CLOSED_STATUSES:
            return
        self._delete_seats_of({"application_id": header["_id"]})
        self.open_claims.delete_one({"_id": header["account_id"], "application_id": header["_id"]})

    def reap_seats(self, orphan_after: dt.timedelta | None = None) -> int:
        """Seats left behind by a crash, a store outage or a timed-out request: held by a closed
        application, or by a booking or reschedule that was never recorded (not the appointment's
        current seat), once no request can still be recording them (ABANDON_AFTER). A seat found to
        be its open application's current one is looked at again only after REAP_RECHECK: it can be
        left behind only by a crash while its application closes, which is rare."""
        freed = 0
        now = self.clock.now()
        cutoff = now - (orphan_after or ABANDON_AFTER)
        for seat in self.seats.find({"held_at": {"$lt": cutoff}}, {"application_id": 1, "hold_id": 1}):
            checked = self._current_seats.get(seat["hold_id"])
            if checked is not None and now - checked < REAP_RECHECK:
                continue
            header = self.applications.find_one({"_id": seat["application_id"]})
            if self._abandon(header, seat):
                freed += 1
            elif _hold_of(self._latest(header["_id"])) == seat["hold_id"]:
                self._current_seats.put(seat["hold_id"], now)
        return freed

    def mark_no_shows(self, office_id: str | None = None) -> int:
        """After an appointment's day ends (office time), a PAID application not checked in is NO_SHOW."""
        marked = 0
        for office in self.calendar.offices.values():
            if office_id and office.office_id != office_id:
                continue
            today = office.today(self.clock.now()).isoformat()
            candidates = {t["application_id"] for t in self.transitions.find(
                {"office_id": office.office_id, "status": "PAID", "appointment_date": {"$lt": today}},
                {"application_id": 1})}
            for application_id in candidates:
                latest = self._latest(application_id)
                appointment = latest["state"].get("appointment") or {}
                if latest["status"] != "PAID" or appointment.get("date", today) >= today:
                    continue
                header = self.applications.find_one({"_id": application_id})
                event = booking_pb2.AppointmentNoShow(
                    application_id=application_id, account_id=header["account_id"], office_id=header["office_id"],
                    appointment_id=appointment.get("appointment_id", ""), date=appointment["date"])
                if self._append(header, latest, "NO_SHOW", f"no check-in on {appointment['date']}", {}, [event]):
                    marked += 1
                    metrics.RELEASED.labels(header["office_id"], "NO_SHOW").inc()
                self._free(header)
        return marked

    def advance(self, application_id: str, from_statuses: set[str], to_status: str, note: str) -> bool:
        """A counter fact from another service (biometrics captured, interview outcome): append
        the next status once; a redelivery finds it appended already."""
        header = self.applications.find_one({"_id": application_id})
        if header is None:
            return False
        latest = self._latest(application_id)
        if latest["status"] not in from_statuses:
            return False
        data = {"approved_on": self.clock.now().astimezone(self.office(header["office_id"]).tz).date().isoformat()} \
            if to_status == "APPROVED" else {}
        appended = self._append(header, latest, to_status, note, data, []) is not None
        if appended and to_status in rules.CLOSED_STATUSES:
            self._free(header)
        return appended

    # -- at the office -----------------------------------------------------------------------
    def check_in(self, caller, office_id: str, application_id: str, priority_decision: str = "") -> str:
        """Give the queue number. A PRIORITY appointment needs the officer's decision on its proof
        (CONFIRMED, or REFUSED: the applicant queues in their regular lane), kept in the audit log."""
        if caller.role not in ("OFFICER", "SUPERVISOR") or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only staff of this office check applicants in")
        header = self.get(caller, application_id)
        latest = self._latest(application_id)
        if latest["status"] == "CHECKED_IN":
            return latest["state"]["queue_number"]
        if latest["status"] != "PAID":
            raise DomainError("conflict", "not-paid", f"the application is {latest['status']}; only PAID applications check in")
        appointment = latest["state"].get("appointment") or {}
        office = self.office(office_id)
        today = office.today(self.clock.now()).isoformat()
        if appointment.get("date") != today:
            raise DomainError("conflict", "not-today", f"the appointment is on {appointment.get('date')}, not today")
        lane = appointment["lane"]
        if lane == "PRIORITY":
            if priority_decision not in rules.PRIORITY_DECISIONS:
                raise DomainError("invalid", "priority-decision-required",
                                  f"a PRIORITY appointment ({header['priority_group']}): confirm or refuse the proof",
                                  [{"field": "priority_decision", "message": "CONFIRMED or REFUSED"}])
            self._staff_action(caller, f"priority-{priority_decision.lower()}", office_id, {
                "application_id": application_id, "priority_group": header["priority_group"]})
            if priority_decision == "REFUSED":
                lane = rules.allowed_lanes(header["service_type"], header["express"], "").pop()
        letter = QUEUE_LETTERS[lane]
        taken = self.db["queue_numbers"].count_documents({"office_id": office_id, "date": today, "letter": letter})
        for n in range(taken + 1, taken + 1000):
            number = f"{letter}{n:03d}"
            if insert_unique(self.db["queue_numbers"], {"_id": f"{office_id}:{today}:{number}", "office_id": office_id,
                                                        "date": today, "letter": letter, "n": n,
                                                        "application_id": application_id}):
                break
        checked = booking_pb2.CheckedIn(application_id=application_id, account_id=header["account_id"],
                                        office_id=office_id, queue_number=number, date=today)
        note = f"queue number {number}" + (" (priority proof refused: regular queue)"
                                           if priority_decision == "REFUSED" else "")
        if not self._append(header, latest, "CHECKED_IN", note,
                            {"queue_number": number, "priority_decision": priority_decision}, [checked]):
            return self._latest(application_id)["state"].get("queue_number", number)
        return number

    def issue(self, caller, application_id: str, passport_number: str, delivery: str, address: str) -> dict:
        header = self._staff(caller, application_id)
        passport_number = (passport_number or "").strip().upper()
        if not PASSPORT_NUMBER.match(passport_number):
            raise invalid("passport_number is one or two letters and 6-7 digits, e.g. X1234567", "passport_number")
        if delivery not in ("PICKUP", "POS"):
            raise invalid("delivery must be PICKUP or POS", "delivery")
        if delivery == "POS" and len((address or "").strip()) < 10:
            raise invalid("delivery by Pos Indonesia needs the full address", "address")
        latest = self._latest(application_id)
        if latest["status"] == "ISSUED" and latest["state"].get("passport_number") == passport_number:
            return self.view(header, caller)
        if latest["status"] != "APPROVED":
            raise DomainError("conflict", "not-approved", f"the application is {latest['status']}; only APPROVED ones are issued")
        event = booking_pb2.PassportIssued(application_id=application_id, account_id=header["account_id"],
                                           office_id=header["office_id"], passport_number_masked=mask_passport(passport_number),
                                           delivery=delivery)
        data = {"passport_number": passport_number, "delivery": delivery}
        if delivery == "POS":
            data["address"] = address.strip()
        if not self._append(header, latest, "ISSUED", f"passport issued ({delivery.lower()})", data, [event]):
            raise DomainError("conflict", "application-changed", "the application changed meanwhile; reload it")
        self._staff_action(caller, "PASSPORT_ISSUED", header["office_id"],
                           {"application_id": application_id, "delivery": delivery})
        return self.view(header, caller)

    def hand_over(self, caller, application_id: str, tracking_number: str) -> dict:
        header = self._staff(caller, application_id)
        latest = self._latest(application_id)
        if latest["status"] in ("COLLECTED", "SHIPPED"):
            return self.view(header, caller)
        if latest["status"] != "ISSUED":
            raise DomainError("conflict", "not-issued", f"the application is {latest['status']}; only ISSUED passports are handed over")
        if latest["state"].get("delivery") == "POS":
            tracking_number = (tracking_number or "").strip().upper()
            if not TRACKING_NUMBER.match(tracking_number):
                raise invalid("a Pos Indonesia tracking number (8-30 letters and digits) is required", "tracking_number")
            event = booking_pb2.PassportShipped(application_id=application_id, account_id=header["account_id"],
                                                office_id=header["office_id"], tracking_number=tracking_number)
            status, data, note = "SHIPPED", {"tracking_number": tracking_number}, f"shipped by Pos Indonesia, {tracking_number}"
        else:
            if tracking_number:
                raise invalid("a passport for pickup has no tracking number", "tracking_number")
            event = booking_pb2.PassportCollected(application_id=application_id, account_id=header["account_id"],
                                                  office_id=header["office_id"])
            status, data, note = "COLLECTED", {}, "collected at the office"
        if self._append(header, latest, status, note, data, [event]):
            self._free(header)
        return self.view(header, caller)

    # -- views -------------------------------------------------------------------------------
    def view(self, header: dict, caller=None, history: list[dict] | None = None) -> dict:
        history = self.history(header["_id"]) if history is None else history
        office = self.office(header["office_id"])
        latest = history[-1] if history else dict(_NOTHING)
        state = latest.get("state")
        if state is None:
            state = {}
            for t in history:
                state.update(t.get("data") or {})
        appointment = state.get("appointment")
        if appointment:
            appointment = {k: v for k, v in appointment.items() if k != "hold_id"}
            appointment["status"] = _appointment_status(latest["status"])
            if state.get("queue_number"):
                appointment["queue_number"] = state["queue_number"]
        staff = caller is not None and caller.role in ("OFFICER", "SUPERVISOR")
        number = state.get("passport_number", "")
        return {
            "application_id": header["_id"], "account_id": header["account_id"],
            "office_id": header["office_id"], "status": latest["status"],
            "passport_type": header["passport_type"], "validity_years": header["validity_years"],
            "service_type": header["service_type"], "express": header["express"],
            "priority_group": header["priority_group"] or None,
            "created_at": rfc3339(header["created_at"], office.tz),
            "appointment": appointment, "billing": state.get("billing"),
            "passport_number": number if staff else mask_passport(number) if number else "",
            "delivery": state.get("delivery", ""), "tracking_number": state.get("tracking_number", ""),
            "ready_by": self._ready_by(header, state),
            "timeline": [{"status": t["status"], "at": rfc3339(t["at"], office.tz), "note": t.get("note", "")}
                         for t in history if "abandoned_hold" not in t],
        }

    def _ready_by(self, header: dict, state: dict) -> str:
        """Issued within 4 working days of the interview, the same day for express service."""
        approved = state.get("approved_on")
        if not approved:
            return ""
        office = self.office(header["office_id"])
        day = dt.date.fromisoformat(approved)
        if header["express"]:
            return day.isoformat()
        return self.calendar.working_days(office, day + dt.timedelta(days=1), 4)[-1].isoformat()


_NOTHING = {"seq": -1, "status": "DRAFT", "state": {}, "data": {}}
# A seat whose booking has not been recorded after this long was left by a crash.
# A booking request ends within its caller's deadline (1.3 s in a rush, 5 s at most) plus one store
# timeout, so a seat this old that is not its application's appointment is given up by the reaper.
ABANDON_AFTER = dt.timedelta(seconds=10)
# A booking request ends well within this (billing deadline 3 s): its seat is then resumable.
BOOKING_IN_FLIGHT = ABANDON_AFTER
REAP_RECHECK = dt.timedelta(minutes=10)  # how often the reaper looks again at a seat it found current


def _last(history: list[dict]) -> dict:
    """The latest transition, with the whole state after it."""
    if not history:
        return dict(_NOTHING)
    latest = history[-1]
    if "state" not in latest:  # records written before states were kept: fold the data
        latest["state"] = {}
        for t in history:
            latest["state"].update(t.get("data") or {})
    return latest

# Lane letters of queue numbers; the counter calls P (priority) first, then E, R, A, O.
QUEUE_LETTERS = {"PRIORITY": "P", "EXPRESS": "E", "REPLACEMENT": "R", "REGULAR": "A", "OUTREACH": "O"}


def mask_passport(number: str) -> str:
    return number[:1] + "*" * (len(number) - 3) + number[-2:] if len(number) > 3 else "***"


def _account_key(account_id: str):
    return lambda n: f"{account_id}:{n:04d}"


def _resumable(seat: dict, now: dt.datetime) -> dict:
    """A seat this application's booking took earlier: used (resumed, or freed) by this request only
    once the request that took it can no longer be running. Two requests sharing a seat could
    otherwise end with one recording the booking while the other, failing to get its billing, frees
    the seat."""
    if now - seat["held_at"] < BOOKING_IN_FLIGHT:
        raise DomainError("conflict", "booking-in-progress",
                          "a booking of this application is still in progress (an earlier request); "
                          "look at the application, or retry in a few seconds")
    return seat


def slot_start(slot: dict, office) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(slot["date"]), dt.time.fromisoformat(slot["start_time"]), office.tz)


def _hold_of(transition: dict) -> str | None:
    """The seat hold of the appointment a transition's state names, if any."""
    appointment = (transition.get("state") or {}).get("appointment") or {}
    return appointment.get("hold_id", appointment.get("appointment_id"))


def _interrupted() -> DomainError:
    return DomainError("unavailable", "booking-interrupted",
                       "the booking was interrupted before it completed and nothing was booked; please retry")


def _slot_full() -> DomainError:
    return DomainError("conflict", "slot-full", "this slot has no seats left; choose another time or join the waitlist")


def _appointment_of(slot: dict, seat: dict, office) -> dict:
    return {"slot_id": slot["_id"], "date": slot["date"], "start_time": slot["start_time"],
            "end_time": slot["end_time"], "lane": slot["lane"], "hold_id": seat["hold_id"]}


def _appointment_status(app_status: str) -> str:
    return {"AWAITING_PAYMENT": "AWAITING_PAYMENT", "EXPIRED": "EXPIRED", "CANCELLED": "CANCELLED",
            "NO_SHOW": "NO_SHOW"}.get(app_status, "CONFIRMED")


def _may_see(caller, header: dict) -> bool:
    if caller.role == "APPLICANT":
        return header["account_id"] == caller.account_id
    return caller.role in ("OFFICER", "SUPERVISOR") and header["office_id"] == caller.office_id


def _replace_index(collection, field: str, unique: bool) -> None:
    """Create an index, replacing one of the same key with other options (schema evolution)."""
    from pymongo.errors import OperationFailure
    try:
        collection.create_index(field, unique=unique)
    except OperationFailure:
        collection.drop_index(f"{field}_1")
        collection.create_index(field, unique=unique)
