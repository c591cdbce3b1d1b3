"""Repositories of booking: the only place with store calls for applications (and their status log),
seats, slots and queue numbers.

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
Most reads are `_id` lookups (equality, or `$in` lists): on FerretDB only those use an index
(deploy/local/ferretdb/*.patch); anything else scans.
"""
from __future__ import annotations

import datetime as dt

from pymongo.errors import DuplicateKeyError, OperationFailure

from servicekit import events, outbox
from servicekit.cache import Memo
from servicekit.clock import Clock
from servicekit.mongo import NumberedReader, append_numbered, find_by_ids, insert_unique, read_numbered

from services.booking.adapters.mapping import event_to_proto
from services.booking.domain.application import Application, Change
from services.booking.domain.seat_hints import SeatHints

TOPIC = events.TOPICS["booking"]


def _account_key(account_id: str):
    return lambda n: f"{account_id}:{n:04d}"


class ApplicationRepository:
    """Application headers, the per-account index, the open-application claims and the status log."""

    def __init__(self, db, clock: Clock):
        self.db, self.clock = db, clock
        self.applications, self.open_claims = db["applications"], db["open_applications"]
        self.by_account = db["account_applications"]
        self.late_payments = db["late_payments"]
        # Headers are never updated, so a replica remembers them (a rush retries the same applications).
        self._headers = Memo()
        # Transition records are immutable and numbered without gaps, so the log read last is a
        # valid prefix: a replica reads only what came after it (a DRAFT application: one lookup).
        self._history_read = NumberedReader(db["transitions"], projection={"_outbox": 0})

    @property
    def transitions(self):
        return self._history_read.collection

    @transitions.setter
    def transitions(self, collection) -> None:  # tests count its round trips
        self._history_read.collection = collection

    def ensure_indexes(self) -> None:
        self.applications.create_index("account_id")
        self.transitions.create_index("application_id")
        self.transitions.create_index([("office_id", 1), ("status", 1), ("appointment_date", 1)])

    # -- headers --------------------------------------------------------------------------------
    def header(self, application_id: str) -> dict | None:
        return self.applications.find_one({"_id": application_id})

    def remembered_header(self, application_id: str) -> dict | None:
        header = self._headers.get(application_id)
        if header is None:
            header = self.header(application_id)
            if header is not None:
                self._headers.put(application_id, header)
        return header

    def exists(self, application_id: str) -> bool:
        return self.applications.find_one({"_id": application_id}, {"_id": 1}) is not None

    def add(self, header: dict) -> None:
        """The account's index entry first, so an application is never unlisted."""
        append_numbered(self.by_account, _account_key(header["account_id"]),
                        lambda n: {"application_id": header["_id"]})
        self.applications.insert_one(header)

    def headers_of_account(self, account_id: str) -> list[dict]:
        """Through the index `<account>:<n>` (n = 0, 1, ... without gaps); an entry whose application
        was never written (a crash inside create) lists nothing."""
        headers = [self.header(entry["application_id"])
                   for entry in read_numbered(self.by_account, _account_key(account_id))]
        return [h for h in headers if h is not None]

    def ids_of_accounts_at(self, account_ids: list[str], office_id: str) -> list[str]:
        return [h["_id"] for h in self.applications.find(
            {"account_id": {"$in": account_ids}, "office_id": office_id}, {"_id": 1})]

    # -- the one open application per account ---------------------------------------------------
    def claim_open(self, account_id: str, application_id: str) -> bool:
        return insert_unique(self.open_claims, {"_id": account_id, "application_id": application_id,
                                                "at": self.clock.now()})

    def open_claim(self, account_id: str) -> dict | None:
        return self.open_claims.find_one({"_id": account_id})

    def release_claim(self, account_id: str, application_id: str) -> None:
        self.open_claims.delete_one({"_id": account_id, "application_id": application_id})

    # -- the status log -------------------------------------------------------------------------
    def history(self, application_id: str) -> list[dict]:
        """The transition log, read by `_id` point lookups `<application>:<seq>` (contiguous from 0);
        only the records after the prefix this replica read before are looked up."""
        return self._history_read.read(application_id, lambda n: f"{application_id}:{n:04d}")

    def load(self, header: dict) -> Application:
        return Application(header, self.history(header["_id"]))

    def get(self, application_id: str) -> Application | None:
        header = self.header(application_id)
        return None if header is None else self.load(header)

    def append(self, app: Application, change: Change) -> dict | None:
        """Insert `change` as the transition after the aggregate's latest, with its events in the
        outbox; None if another transition took that number first (else the record)."""
        envelopes = [events.new_event("booking", app.id, event_to_proto(e), self.clock) for e in change.events]
        record = app.record_of(change, self.clock.now())
        won = outbox.insert(self.transitions, record, envelopes, TOPIC, self.clock)
        return record if won else None

    def ids_with_appointment_on(self, office_id: str, date: str, statuses: list[str] | None = None) -> set[str]:
        query = {"office_id": office_id, "appointment_date": date}
        if statuses:
            query["status"] = {"$in": statuses}
        return {t["application_id"] for t in self.transitions.find(query, {"application_id": 1})}

    def ids_paid_for_before(self, office_id: str, day: str) -> set[str]:
        return {t["application_id"] for t in self.transitions.find(
            {"office_id": office_id, "status": "PAID", "appointment_date": {"$lt": day}}, {"application_id": 1})}

    def ids_with_billing_code(self, office_id: str, billing_code: str) -> list[str]:
        return [t["application_id"] for t in self.transitions.find(
            {"office_id": office_id, "state.billing.billing_code": billing_code}, {"application_id": 1})]

    def record_late_payment(self, billing_code: str, application_id: str, outcome: str, event) -> None:
        """The late payment's outcome once per billing, with its event (outbox)."""
        outbox.insert(self.late_payments, {"_id": billing_code, "application_id": application_id, "outcome": outcome},
                      [events.new_event("booking", application_id, event_to_proto(event), self.clock)],
                      TOPIC, self.clock)


class SeatChanges:
    """The 10-second spans in which a seat was held or freed, one small document each (`_id` = the
    span's UTC start), so readers of many seats (the reaper's window, the quota gauges) skip quiet
    spans: on FerretDB 1.24 a range read of seats scans them all, and idle it did so every 5 s. A
    replica writes a span once (an insert it remembers); the mark goes in before the seat does."""

    SPAN = dt.timedelta(seconds=10)

    def __init__(self, db):
        self.spans = db["seat_change_spans"]
        self._marked: str | None = None  # the latest span this process marked

    def mark(self, at: dt.datetime) -> None:
        span = _span_key(at)
        if span != self._marked:
            insert_unique(self.spans, {"_id": span})
            self._marked = span

    def any_between(self, since: dt.datetime, until: dt.datetime) -> bool:
        """A seat changed in a span from `since`'s to `until`'s (both included)? `_id` lookups only."""
        at = since.replace(second=since.second // 10 * 10, microsecond=0)
        while at <= until:
            if self.spans.find_one({"_id": _span_key(at)}, {"_id": 1}) is not None:
                return True
            at += self.SPAN
        return False

    def forget_before(self, before: dt.datetime) -> None:
        self.spans.delete_many({"_id": {"$lt": _span_key(before)}})


def _span_key(at: dt.datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:") + str(at.second // 10)


class SeatRepository:
    """Seat holds. Every release tells the replica's seat hints (a freed seat may be offered again),
    and every change marks its span (SeatChanges)."""

    def __init__(self, db, hints: SeatHints, clock: Clock):
        self.seats, self.hints, self.clock = db["seats"], hints, clock
        self.changes = SeatChanges(db)

    def ensure_indexes(self) -> None:
        self.seats.create_index("slot_id")
        _replace_index(self.seats, "application_id", unique=False)
        self.seats.create_index("holder", unique=True)
        self.seats.create_index("held_at")

    def take(self, seat: dict) -> dict | None:
        """Insert the hold; the seat's document after the attempt (this one, someone else's, or
        None when the seat is free but this holder already holds another one)."""
        self.changes.mark(seat["held_at"])
        try:
            self.seats.insert_one(seat)
            return seat
        except DuplicateKeyError:
            return self.seats.find_one({"_id": seat["_id"]})

    def taken_among(self, seat_ids: list[str]) -> set[str]:
        """Which of these seats are held (one read per IDS_PER_READ seats)."""
        return {d["_id"] for d in find_by_ids(self.seats, seat_ids, {"_id": 1})}

    def of_holder(self, holder: str) -> dict | None:
        return self.seats.find_one({"holder": holder})

    def count_in_slot(self, slot_id: str) -> int:
        return self.seats.count_documents({"slot_id": slot_id})

    def held_counts(self, slot_ids: list[str]) -> dict[str, int]:
        if not slot_ids:
            return {}
        rows = self.seats.aggregate([{"$match": {"slot_id": {"$in": slot_ids}}},
                                     {"$group": {"_id": "$slot_id", "n": {"$sum": 1}}}])
        return {r["_id"]: r["n"] for r in rows}

    def held_before(self, cutoff: dt.datetime, since: dt.datetime | None = None):
        """Seats held before `cutoff` (and from `since`, when given)."""
        held = {"$lt": cutoff} if since is None else {"$lt": cutoff, "$gte": since}
        return self.seats.find({"held_at": held}, {"application_id": 1, "hold_id": 1})

    def release(self, seat_id: str, hold_id: str | None = None) -> int:
        """Free one seat (only while it is still this hold's, when `hold_id` is given)."""
        query = {"_id": seat_id} if hold_id is None else {"_id": seat_id, "hold_id": hold_id}
        return self._freed(self.seats.delete_one(query).deleted_count)

    def release_all_of(self, application_id: str, except_hold: str | None = None) -> int:
        query = {"application_id": application_id}
        if except_hold is not None:
            query["hold_id"] = {"$ne": except_hold}
        return self._freed(self.seats.delete_many(query).deleted_count)

    def _freed(self, deleted: int) -> int:
        self.hints.saw_freed()
        if deleted:
            self.changes.mark(self.clock.now())
        return deleted


class SlotRepository:
    def __init__(self, db):
        self.slots = db["slots"]

    def ensure_indexes(self) -> None:
        self.slots.create_index([("office_id", 1), ("date", 1)])

    def get(self, slot_id: str) -> dict | None:
        return self.slots.find_one({"_id": slot_id})

    def get_many(self, slot_ids: list[str]) -> dict[str, dict]:
        """The slots of these ids that exist, by id (one read per IDS_PER_READ ids)."""
        return {d["_id"]: d for d in find_by_ids(self.slots, slot_ids)}

    def ids_from(self, office_id: str, first_day: str) -> set[str]:
        return {d["_id"] for d in self.slots.find({"office_id": office_id, "date": {"$gte": first_day}}, {"_id": 1})}

    def add(self, doc: dict) -> bool:
        return insert_unique(self.slots, doc)

    def set_capacity(self, slot_id: str, capacity: int) -> None:
        """A lowered capacity marks the slot `shrunk`: seats above it may still be held, so its seats
        are counted rather than probed from then on."""
        before = self.slots.find_one({"_id": slot_id}, {"capacity": 1, "shrunk": 1}) or {}
        shrunk = bool(before.get("shrunk")) or capacity < before.get("capacity", capacity)
        self.slots.update_one({"_id": slot_id}, {"$set": {"capacity": capacity, "shrunk": shrunk}})

    def lanes_and_capacities_from(self, office_id: str, first_day: str) -> dict[str, dict]:
        return {s["_id"]: s for s in self.slots.find({"office_id": office_id, "date": {"$gte": first_day}},
                                                     {"lane": 1, "capacity": 1})}

    def of_day(self, office_id: str, date: str, lane: str) -> list[dict]:
        return list(self.slots.find({"office_id": office_id, "date": date, "lane": lane}))

    def seats_offered(self, office_id: str, date: str, lane: str) -> int:
        return sum(s["capacity"] for s in self.slots.find({"office_id": office_id, "date": date, "lane": lane},
                                                          {"capacity": 1}))


class QueueNumberRepository:
    """The day's queue numbers `<office>:<date>:<number>`: taking one is a keyed insert."""

    def __init__(self, db):
        self.numbers = db["queue_numbers"]

    def ensure_indexes(self) -> None:
        self.numbers.create_index([("office_id", 1), ("date", 1), ("letter", 1)])

    def count(self, office_id: str, date: str, letter: str) -> int:
        return self.numbers.count_documents({"office_id": office_id, "date": date, "letter": letter})

    def take(self, office_id: str, date: str, letter: str, n: int, application_id: str) -> bool:
        return insert_unique(self.numbers, {"_id": f"{office_id}:{date}:{letter}{n:03d}", "office_id": office_id,
                                            "date": date, "letter": letter, "n": n, "application_id": application_id})

    def of_day(self, office_id: str, date: str) -> list[dict]:
        return list(self.numbers.find({"office_id": office_id, "date": date}, {"letter": 1, "n": 1, "application_id": 1}))


class AccountLookup:
    """Read-only lookups of accounts for the counter's search by name (accounts.py keeps the writes
    and the search by NIK, which goes through the NIK's keyed hash)."""

    def __init__(self, db):
        self.accounts = db["accounts"]

    def applicant_ids_named_like(self, pattern: str, limit: int) -> list[str]:
        # a plain pattern string with the i option (a compiled Python pattern carries the u flag,
        # which FerretDB refuses)
        return [a["_id"] for a in self.accounts.find(
            {"role": "APPLICANT", "full_name": {"$regex": pattern, "$options": "i"}}, {"_id": 1}).limit(limit)]


def _replace_index(collection, field: str, unique: bool) -> None:
    """Create an index, replacing one of the same key with other options (schema evolution)."""
    try:
        collection.create_index(field, unique=unique)
    except OperationFailure:
        collection.drop_index(f"{field}_1")
        collection.create_index(field, unique=unique)
