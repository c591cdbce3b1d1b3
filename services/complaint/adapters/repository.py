"""The complaint service's store: the only module that reads or writes its collections.

Storage rules (FerretDB: no transactions, non-atomic updates):
- `complaints`: one immutable record per complaint, carrying ComplaintFiled in its outbox.
- `responses`: one record per response (history); the closing response (RESOLVED/REJECTED) has
  the key `<complaint_id>:closed`, so a complaint is closed at most once.
- `escalations`: key `<complaint_id>:<kind>`, so each breach escalates exactly once.
- `sla_due`: each complaint's two deadlines (FIRST_RESPONSE, RESOLUTION) by the 10-second window they
  fall in, written before the complaint (servicekit/due_windows.py): the escalation sweeper reads the
  windows that passed by `_id`, not every complaint past its first deadline.
- `pin_failures`: one inserted record per wrong PIN (counted in a window), never a counter.
- `attachments`: key `<complaint_id>:attachment:<n>` (n = 1..MAX_ATTACHMENTS, gap-free, read by
  `_id`), the bytes as binary with their sha256; never updated.
- `attachment_reads`: key `<complaint_id>:read:<n>` (gap-free, read by `_id`): who read which file
  when, shown to staff in the history.
- `assignments`: key `<complaint_id>:assignment:<n>`; the current assignee is the highest n.
- `links`: key `<complaint_id>:link` (a report links once), unique `application_id` (an
  application is the replacement of one report), carrying ComplaintLinked.
An anonymous reporter's contact (email, phone) is sealed in the complaint record with the key ring
COMPLAINT_ENCRYPTION_KEYS (`key_id`, `nonce`, `ciphertext`; the complaint id as associated data);
a record from before that keeps `contact` in clear until `rotate-keys` seals it.
Records with events go in with them (servicekit.outbox), so no event is lost or sent for a
record that was not stored. The collections are public attributes for the tests' inspection.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from bson import Binary

from servicekit import events as envelopes
from servicekit import outbox
from servicekit.clock import Clock
from servicekit.crypto import KeyRing, RotationReport, rotate
from servicekit.due_windows import WindowQueue
from servicekit.mongo import append_numbered, insert_unique, read_numbered

from services.complaint.adapters.protos import event_proto
from services.complaint.domain.complaint import Complaint, attachment_key, link_key, read_key
from services.complaint.domain.events import Event

TOPIC = envelopes.TOPICS["complaint"]
# What lists and sweeps never need: the description is long, the PIN hash is secret.
SUMMARY = {"_outbox": 0, "description": 0, "pin_hash": 0, "pin_salt": 0}
SLA_WINDOW_S = 10  # deadlines are days apart; a breach is escalated within ~15 s of its deadline


def complaint_to_doc(c: Complaint) -> dict:
    doc = {"_id": c.complaint_id, "tracking_code": c.tracking_code, "office_id": c.office_id,
           "category": c.category, "description": c.description, "anonymous": c.anonymous,
           "created_at": c.created_at, "first_response_due": c.first_response_due,
           "resolution_due": c.resolution_due, "pin_salt": c.pin_salt, "pin_hash": c.pin_hash}
    if not c.anonymous:
        doc["account_id"] = c.account_id
    if c.contact:
        doc["contact"] = dict(c.contact)
        doc["contact_language"] = c.contact_language
    if c.application_id:
        doc["application_id"] = c.application_id
    return doc


def complaint_from_doc(doc: dict) -> Complaint:
    """The aggregate from its record (lists and sweeps read it without description and PIN)."""
    return Complaint(
        complaint_id=doc["_id"], tracking_code=doc.get("tracking_code", ""), office_id=doc["office_id"],
        category=doc["category"], description=doc.get("description", ""), anonymous=doc.get("anonymous", False),
        created_at=doc["created_at"], first_response_due=doc["first_response_due"],
        resolution_due=doc["resolution_due"], pin_salt=bytes(doc.get("pin_salt") or b""),
        pin_hash=bytes(doc.get("pin_hash") or b""), account_id=doc.get("account_id", ""),
        contact=dict(doc.get("contact") or {}), contact_language=doc.get("contact_language", ""),
        application_id=doc.get("application_id", ""))


def _contact_plaintext(contact: dict) -> bytes:
    return json.dumps(contact, sort_keys=True).encode()


class ComplaintRepository:
    def __init__(self, db, clock: Clock, contact_keys: KeyRing):
        self.db, self.clock, self.keys = db, clock, contact_keys
        self.complaints = db["complaints"]
        self.responses = db["responses"]
        self.escalations = db["escalations"]
        self.pin_failures = db["pin_failures"]
        self.attachments = db["attachments"]
        self.attachment_reads = db["attachment_reads"]
        self.assignments = db["assignments"]
        self.links = db["links"]
        self.sla_due = WindowQueue(db["sla_due"], SLA_WINDOW_S)

    def ensure_indexes(self) -> None:
        self.complaints.create_index("tracking_code", unique=True)
        self.complaints.create_index([("office_id", 1), ("created_at", -1)])
        self.complaints.create_index("first_response_due")
        self.complaints.create_index([("account_id", 1), ("created_at", -1)])
        self.responses.create_index("complaint_id")
        self.responses.create_index([("office_id", 1), ("complaint_created_at", 1)])
        self.escalations.create_index([("office_id", 1), ("complaint_created_at", 1)])
        self.pin_failures.create_index([("tracking_code", 1), ("at", 1)])
        self.attachments.create_index("complaint_id")
        self.assignments.create_index([("complaint_id", 1), ("seq", 1)])
        self.links.create_index("application_id", unique=True)
        self.links.create_index("complaint_id")
        outbox.ensure_indexes(self.db)

    def _insert_with_events(self, collection, record: dict, caused: list[Event], aggregate_id: str) -> bool:
        """Insert the record with its events; False when its key (or a unique field) is taken."""
        envelope = [envelopes.new_event("complaint", aggregate_id, event_proto(e), self.clock) for e in caused]
        return outbox.insert(collection, record, envelope, TOPIC, self.clock)

    # -- complaints ----------------------------------------------------------------------------
    def add(self, complaint: Complaint, caused: list[Event]) -> dict | None:
        """The stored record, or None when its id or tracking code was taken (draw again)."""
        doc = complaint_to_doc(complaint)
        stored = dict(doc)
        if "contact" in stored:  # the addresses never reach the store in clear
            stored.update(self.keys.seal(_contact_plaintext(stored.pop("contact")), complaint.complaint_id))
        return doc if self._insert_with_events(self.complaints, stored, caused, complaint.complaint_id) else None

    def queue_deadlines(self, complaint: Complaint) -> None:
        """The complaint's two deadlines in the SLA queue: before its record, so none is ever missed."""
        for kind, due in (("FIRST_RESPONSE", complaint.first_response_due), ("RESOLUTION", complaint.resolution_due)):
            self.sla_due.add(due, {"complaint_id": complaint.complaint_id, "kind": kind})

    def deadlines_in(self, window: int) -> list[tuple[str, str]]:
        """(complaint id, kind) of the deadlines queued in `window`."""
        return [(e["complaint_id"], e["kind"]) for e in self.sla_due.entries_in(window)]

    def summary(self, complaint_id: str) -> Complaint | None:
        return self._complaint(self.complaints.find_one({"_id": complaint_id}, SUMMARY))

    def _opened(self, doc: dict) -> dict:
        """A stored record with its sealed contact opened (as complaint_from_doc reads it)."""
        if "ciphertext" in doc:
            doc = dict(doc, contact=json.loads(self.keys.open(doc, doc["_id"])))
        return doc

    def _complaint(self, doc: dict | None) -> Complaint | None:
        return None if doc is None else complaint_from_doc(self._opened(doc))

    def get(self, complaint_id: str) -> Complaint | None:
        return self._complaint(self.complaints.find_one({"_id": complaint_id}, {"_outbox": 0}) if complaint_id else None)

    def by_tracking_code(self, code: str) -> Complaint | None:
        return self._complaint(self.complaints.find_one({"tracking_code": code}))

    def office_complaints(self, office_id: str, limit: int = 500) -> list[Complaint]:
        docs = self.complaints.find({"office_id": office_id}).sort("created_at", -1).limit(limit)
        return [self._complaint(d) for d in docs]

    def account_complaints(self, account_id: str, application_id: str = "", limit: int = 200) -> list[Complaint]:
        query = {"account_id": account_id}
        if application_id:
            query["application_id"] = application_id
        docs = self.complaints.find(query, {"_outbox": 0, "pin_hash": 0, "pin_salt": 0}).sort("created_at", -1)
        return [self._complaint(d) for d in docs.limit(limit)]

    def first_response_overdue(self, now: dt.datetime) -> list[Complaint]:
        """Complaints whose first response was due before `now`: the only ones that can breach."""
        docs = self.complaints.find({"first_response_due": {"$lt": now}}, SUMMARY).sort("first_response_due", 1)
        return [self._complaint(d) for d in docs]

    def contact(self, complaint_id: str) -> dict:
        doc = self.complaints.find_one({"_id": complaint_id}, {"contact": 1, "key_id": 1, "nonce": 1, "ciphertext": 1}) \
            if complaint_id else None
        return dict(self._opened(doc).get("contact") or {}) if doc else {}

    def rotate_keys(self) -> RotationReport:
        """Seal every reporter contact under the current key: old-key and clear ones alike (crypto.rotate)."""
        return rotate(self.complaints, self.keys, clear_fields=("contact",),
                      clear_plaintext=lambda d: _contact_plaintext(d["contact"]))

    # -- PIN failures --------------------------------------------------------------------------
    def pin_failures_since(self, code: str, since: dt.datetime) -> int:
        return self.pin_failures.count_documents({"tracking_code": code, "at": {"$gt": since}})

    def add_pin_failure(self, code: str, at: dt.datetime) -> None:
        self.pin_failures.insert_one({"_id": str(uuid.uuid4()), "tracking_code": code, "at": at})

    # -- responses -----------------------------------------------------------------------------
    def history(self, complaint_id: str) -> list[dict]:
        return list(self.responses.find({"complaint_id": complaint_id}).sort([("at", 1), ("_id", 1)]))

    def histories(self, complaint_ids: list[str]) -> dict[str, list[dict]]:
        """The time-ordered responses of each complaint (every id present, [] when none)."""
        out: dict[str, list[dict]] = {cid: [] for cid in complaint_ids}
        if complaint_ids:
            for r in self.responses.find({"complaint_id": {"$in": complaint_ids}}).sort([("at", 1), ("_id", 1)]):
                out[r["complaint_id"]].append(r)
        return out

    def add_response(self, record: dict, caused: list[Event]) -> bool:
        return self._insert_with_events(self.responses, record, caused, record["complaint_id"])

    # -- assignments ---------------------------------------------------------------------------
    def latest_assignment(self, complaint_id: str) -> dict | None:
        latest = list(self.assignments.find({"complaint_id": complaint_id}, {"_outbox": 0}).sort("seq", -1).limit(1))
        return latest[0] if latest else None

    def current_assignee(self, complaint_id: str) -> str:
        latest = list(self.assignments.find({"complaint_id": complaint_id}, {"assignee_account_id": 1, "seq": 1})
                      .sort("seq", -1).limit(1))
        return latest[0]["assignee_account_id"] if latest else ""

    def current_assignees(self, complaint_ids: list[str]) -> dict[str, str]:
        out = {cid: "" for cid in complaint_ids}
        if complaint_ids:
            for a in self.assignments.find({"complaint_id": {"$in": complaint_ids}},
                                           {"complaint_id": 1, "assignee_account_id": 1, "seq": 1}).sort("seq", 1):
                out[a["complaint_id"]] = a["assignee_account_id"]
        return out

    def assignments_of(self, complaint_id: str) -> list[dict]:
        return list(self.assignments.find({"complaint_id": complaint_id}, {"_outbox": 0}).sort("seq", 1))

    def add_assignment(self, record: dict, caused: list[Event]) -> bool:
        return self._insert_with_events(self.assignments, record, caused, record["complaint_id"])

    # -- escalations ---------------------------------------------------------------------------
    def escalations_of(self, complaint_id: str) -> list[dict]:
        return list(self.escalations.find({"complaint_id": complaint_id}, {"_outbox": 0}))

    def is_escalated(self, complaint_id: str, kind: str) -> bool:
        return self.escalations.find_one({"_id": f"{complaint_id}:{kind}"}, {"_id": 1}) is not None

    def escalated_keys(self, complaint_ids: list[str]) -> set[str]:
        return {e["_id"] for e in self.escalations.find({"complaint_id": {"$in": complaint_ids}}, {"_id": 1})}

    def add_escalation(self, record: dict, caused: list[Event]) -> bool:
        return self._insert_with_events(self.escalations, record, caused, record["complaint_id"])

    # -- evidence ------------------------------------------------------------------------------
    def attachment_records(self, complaint_id: str, projection=None) -> list[dict]:
        """The complaint's attachments in upload order, by `_id` (1..n, gap-free), without bytes."""
        return read_numbered(self.attachments, attachment_key(complaint_id), first=1,
                             projection=projection or {"data": 0})

    def attachment_count(self, complaint_id: str) -> int:
        return len(self.attachment_records(complaint_id, {"_id": 1}))

    def add_attachment(self, record: dict, data: bytes) -> dict | None:
        """The stored record with its bytes, or None when its number was taken in parallel."""
        doc = dict(record, data=Binary(data))
        return doc if insert_unique(self.attachments, doc) else None

    def attachment(self, attachment_id: str) -> dict | None:
        return self.attachments.find_one({"_id": attachment_id})

    def reads_of(self, complaint_id: str) -> list[dict]:
        return read_numbered(self.attachment_reads, read_key(complaint_id), first=1)

    def append_read(self, complaint_id: str, make) -> dict:
        """Record a read at the next free number; `make(n)` builds the record."""
        return append_numbered(self.attachment_reads, read_key(complaint_id), make, first=1)

    # -- links ---------------------------------------------------------------------------------
    def link_of(self, complaint_id: str) -> dict | None:
        return self.links.find_one({"_id": link_key(complaint_id)}, {"_outbox": 0})

    def link_of_application(self, application_id: str) -> dict | None:
        return self.links.find_one({"application_id": application_id}, {"_outbox": 0}) if application_id else None

    def add_link(self, record: dict, caused: list[Event]) -> bool:
        return self._insert_with_events(self.links, record, caused, record["complaint_id"])

    # -- statistics ----------------------------------------------------------------------------
    def filed_by_category(self, office_id: str, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        return {g["_id"]: g["n"] for g in self.complaints.aggregate([
            {"$match": {"office_id": office_id, "created_at": {"$gte": start, "$lt": end}}},
            {"$group": {"_id": "$category", "n": {"$sum": 1}}}])}

    def closed_by_on_time(self, office_id: str, start: dt.datetime, end: dt.datetime) -> dict[bool, int]:
        return {bool(g["_id"]): g["n"] for g in self.responses.aggregate([
            {"$match": {"office_id": office_id, "closing": True, "complaint_created_at": {"$gte": start, "$lt": end}}},
            {"$group": {"_id": "$on_time", "n": {"$sum": 1}}}])}

    def escalation_count(self, office_id: str, start: dt.datetime, end: dt.datetime) -> int:
        return self.escalations.count_documents(
            {"office_id": office_id, "complaint_created_at": {"$gte": start, "$lt": end}})
