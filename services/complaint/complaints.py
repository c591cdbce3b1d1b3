"""Complaints: filing (with or without an account), follow-up with tracking code and PIN,
responses by the office's staff, SLA escalation and public statistics.

Storage rules (FerretDB: no transactions, non-atomic updates):
- `complaints`: one immutable record per complaint, carrying ComplaintFiled in its outbox.
- `responses`: one record per response (history); the closing response (RESOLVED/REJECTED) has
  the key `<complaint_id>:closed`, so a complaint is closed at most once.
- `escalations`: key `<complaint_id>:<kind>`, so each breach escalates exactly once.
- `pin_failures`: one inserted record per wrong PIN (counted in a window), never a counter.
- `attachments`: key `<complaint_id>:attachment:<n>` (n = 1..MAX_ATTACHMENTS, gap-free, read by
  `_id`), the bytes as binary with their sha256; never updated.
- `attachment_reads`: key `<complaint_id>:read:<n>` (gap-free, read by `_id`): who read which file
  when, shown to staff in the history.
- `assignments`: key `<complaint_id>:assignment:<n>`; the current assignee is the highest n.
- `links`: key `<complaint_id>:link` (a report links once), unique `application_id` (an
  application is the replacement of one report), carrying ComplaintLinked.
Anonymous complaints store no account id, name, NIK, IP or contact, and nothing about them is
logged beyond the complaint id, office and category.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import uuid

from bson import Binary

from passport.v1 import complaint_pb2
from servicekit import events, log, outbox
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import append_numbered, insert_unique, read_numbered

from services.complaint import attachments as files
from services.complaint import metrics, sla
from services.complaint.sla import CATEGORIES, CLOSED_STATUSES, OfficeCalendar

logger = logging.getLogger("complaint")

TOPIC = events.TOPICS["complaint"]
STATUSES = ("OPEN", "IN_PROGRESS", "RESOLVED", "REJECTED")
RESPONSE_STATUSES = ("IN_PROGRESS", "RESOLVED", "REJECTED")
STAFF_ROLES = ("OFFICER", "SUPERVISOR")

DESCRIPTION_MAX = 5000
MESSAGE_MAX = 4000
TRACKING_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32: 20 chars = 100 bits
TRACKING_LENGTH = 20
TRACKING_RE = re.compile(f"^[{TRACKING_ALPHABET}]{{{TRACKING_LENGTH}}}$")
APPLICATION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PIN_DIGITS = 8
PIN_ITERATIONS = 60_000
MAX_PIN_FAILURES = 5
PIN_FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_ATTACHMENTS = 10
# A lost/damaged passport report is the start of the replacement path: which application fits it.
REPLACEMENT_SERVICE = {"LOST_PASSPORT": "REPLACEMENT_LOST", "DAMAGED_PASSPORT": "REPLACEMENT_DAMAGED"}


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)


def pin_matches(pin: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_pin(pin, salt), bytes(expected))


def is_staff_of(caller, office_id: str) -> bool:
    return caller.role in STAFF_ROLES and bool(caller.office_id) and caller.office_id == office_id


class Complaints:
    def __init__(self, db, calendars: dict[str, OfficeCalendar], clock: Clock, peers=None):
        """`peers` answers application(caller, id) -> ApplicationInfo and staff(account_id) ->
        StaffInfo | None (services/complaint/peers.py over gRPC; a fake in unit tests)."""
        self.db, self.calendars, self.clock, self.peers = db, calendars, clock, peers
        self.complaints = db["complaints"]
        self.responses = db["responses"]
        self.escalations = db["escalations"]
        self.pin_failures = db["pin_failures"]
        self.attachments = db["attachments"]
        self.attachment_reads = db["attachment_reads"]
        self.assignments = db["assignments"]
        self.links = db["links"]

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

    # -- filing ------------------------------------------------------------------------------
    def file(self, caller, category: str, office_id: str, description: str, application_id: str,
             anonymous: bool, contact_email: str = "", contact_phone: str = "",
             contact_language: str = "") -> tuple[dict, str]:
        errors = []
        if category not in CATEGORIES:
            errors.append({"field": "category", "message": f"category must be one of {', '.join(CATEGORIES)}"})
        if office_id not in self.calendars:
            errors.append({"field": "office_id", "message": "unknown office"})
        text = (description or "").strip()
        if not text:
            errors.append({"field": "description", "message": "description is required"})
        elif len(text) > DESCRIPTION_MAX:
            errors.append({"field": "description", "message": f"description is at most {DESCRIPTION_MAX} characters"})
        anonymous = anonymous or not caller.account_id
        if application_id:
            if not APPLICATION_ID_RE.match(application_id):
                errors.append({"field": "application_id", "message": "application_id is not a valid id"})
            elif anonymous:
                errors.append({"field": "application_id",
                               "message": "an anonymous report cannot reference an application"})
        contact = {k: v.strip() for k, v in (("email", contact_email or ""), ("phone", contact_phone or ""))
                   if v.strip()}
        if contact and not anonymous:
            errors.append({"field": "contact_email" if "email" in contact else "contact_phone",
                           "message": "a named report is answered through your account; leave no contact"})
        if contact.get("email") and not _EMAIL.match(contact["email"]):
            errors.append({"field": "contact_email", "message": "contact_email is not a valid address"})
        if contact.get("phone") and not _PHONE.match(contact["phone"]):
            errors.append({"field": "contact_phone", "message": "contact_phone must be a mobile number like 081234567890"})
        if application_id and not errors and self.peers is not None:
            try:  # the complainant's own application (staff: one of their office), asked of booking as them
                self.peers.application(caller, application_id)
            except DomainError as err:
                if err.kind != "not_found":
                    raise
                errors.append({"field": "application_id", "message": "no application with this id that you may see"})
        if errors:
            raise DomainError("invalid", "validation-error", "some fields are missing or invalid", errors)
        now = self.clock.now()
        first_due, resolution_due = sla.due_dates(self.calendars[office_id], now, category)
        account_id = "" if anonymous else caller.account_id
        pin = new_pin()
        salt = secrets.token_bytes(16)
        for _attempt in range(5):
            complaint_id, code = str(uuid.uuid4()), new_tracking_code()
            record = {"_id": complaint_id, "tracking_code": code, "office_id": office_id, "category": category,
                      "description": text, "anonymous": anonymous, "created_at": now,
                      "first_response_due": first_due, "resolution_due": resolution_due,
                      "pin_salt": salt, "pin_hash": hash_pin(pin, salt)}
            if not anonymous:
                record["account_id"] = account_id
            if contact:
                record["contact"] = contact
                record["contact_language"] = contact_language if contact_language in ("id", "en") else "id"
            if application_id:
                record["application_id"] = application_id
            filed = complaint_pb2.ComplaintFiled(
                complaint_id=complaint_id, office_id=office_id, category=category, account_id=account_id,
                anonymous=anonymous, first_response_due_at=rfc3339(first_due), due_at=rfc3339(resolution_due),
                application_id=application_id or "", tracking_code=code,
                contact_channels=_channels(contact), contact_language=record.get("contact_language", ""))
            envelope = events.new_event("complaint", complaint_id, filed, self.clock)
            if outbox.insert(self.complaints, record, [envelope], TOPIC, self.clock):
                metrics.FILED.labels(office_id, category).inc()
                log.event(logger, "complaint filed", complaint_id=complaint_id, office_id=office_id,
                          category=category)
                return record, pin
        raise DomainError("unavailable", "tracking-code-exhausted", "could not draw a free tracking code")

    # -- reading -----------------------------------------------------------------------------
    def by_tracking_code(self, caller, tracking_code: str, pin: str) -> dict:
        code = (tracking_code or "").strip().upper()
        not_found = DomainError("not_found", "complaint-not-found", "no complaint with this tracking code and PIN")
        if not TRACKING_RE.match(code):
            raise not_found
        doc = self.complaints.find_one({"tracking_code": code})
        if doc is not None and is_staff_of(caller, doc["office_id"]):
            return doc
        now = self.clock.now()
        failures = self.pin_failures.count_documents(
            {"tracking_code": code, "at": {"$gt": now - PIN_FAILURE_WINDOW}})
        if failures >= MAX_PIN_FAILURES:
            raise DomainError("busy", "too-many-pin-attempts",
                              "too many wrong PIN attempts for this tracking code; try again in 15 minutes")
        if doc is None or not pin or not pin_matches(pin, doc["pin_salt"], doc["pin_hash"]):
            self.pin_failures.insert_one({"_id": str(uuid.uuid4()), "tracking_code": code, "at": now})
            metrics.PIN_FAILURES.inc()
            raise not_found
        return doc

    def history(self, complaint_id: str) -> list[dict]:
        return list(self.responses.find({"complaint_id": complaint_id}).sort([("at", 1), ("_id", 1)]))

    def view(self, doc: dict, history: list[dict] | None = None, with_responses: bool = True,
             staff: bool = False, assignee: str | None = None) -> complaint_pb2.Complaint:
        """The complaint as shown. `staff` adds the assignee and the full history of changes; the
        complainant sees responses, status, attachments and the link only."""
        cid = doc["_id"]
        history = self.history(cid) if history is None else history
        status, first_at, closed_at = _derive(history)
        state = sla.state(self.clock.now(), doc["first_response_due"], doc["resolution_due"], first_at, closed_at)
        out = complaint_pb2.Complaint(
            complaint_id=cid, tracking_code=doc["tracking_code"], office_id=doc["office_id"],
            category=doc["category"], status=status, created_at=rfc3339(doc["created_at"]),
            due_at=rfc3339(doc["resolution_due"]), first_response_due_at=rfc3339(doc["first_response_due"]),
            sla_state=state, description=doc["description"], application_id=doc.get("application_id", ""),
            anonymous=doc.get("anonymous", False),
            responses=[response_proto(r) for r in history] if with_responses else [])
        if staff:
            out.assignee_account_id = self.current_assignee(cid) if assignee is None else assignee
        if not with_responses:  # list rows: no attachments, link or history
            return out
        atts = self.attachment_records(cid)
        out.attachments.extend(attachment_proto(a) for a in atts)
        link = self.links.find_one({"_id": f"{cid}:link"}, {"_outbox": 0})
        if link is not None:
            out.link.CopyFrom(link_proto(link))
        if staff:
            assignments = list(self.assignments.find({"complaint_id": cid}, {"_outbox": 0}).sort("seq", 1))
            escalations = list(self.escalations.find({"complaint_id": cid}, {"_outbox": 0}))
            reads = read_numbered(self.attachment_reads, _read_key(cid), first=1)
            out.history.extend(history_entries(doc, history, assignments, escalations, atts, link, reads))
        return out

    def attachment_records(self, complaint_id: str, projection=None) -> list[dict]:
        """The complaint's attachments in upload order, by `_id` (1..n, gap-free), without bytes."""
        return read_numbered(self.attachments, _attachment_key(complaint_id), first=1,
                             projection=projection or {"data": 0})

    def current_assignee(self, complaint_id: str) -> str:
        latest = list(self.assignments.find({"complaint_id": complaint_id}, {"assignee_account_id": 1, "seq": 1})
                      .sort("seq", -1).limit(1))
        return latest[0]["assignee_account_id"] if latest else ""

    def list_for_office(self, caller, office_id: str, status: str, assignee: str = ""
                        ) -> list[complaint_pb2.Complaint]:
        if not is_staff_of(caller, office_id):
            raise DomainError("forbidden", "forbidden", "only staff of this office may list its complaints")
        if status and status not in STATUSES:
            raise invalid(f"status must be one of {', '.join(STATUSES)}", "status")
        docs = list(self.complaints.find({"office_id": office_id}).sort("created_at", -1).limit(500))
        by_complaint: dict[str, list[dict]] = {d["_id"]: [] for d in docs}
        if docs:
            for r in self.responses.find({"complaint_id": {"$in": list(by_complaint)}}).sort([("at", 1), ("_id", 1)]):
                by_complaint[r["complaint_id"]].append(r)
        assignees: dict[str, str] = {d["_id"]: "" for d in docs}
        if docs:
            for a in self.assignments.find({"complaint_id": {"$in": list(assignees)}},
                                           {"complaint_id": 1, "assignee_account_id": 1, "seq": 1}).sort("seq", 1):
                assignees[a["complaint_id"]] = a["assignee_account_id"]
        items = [self.view(d, by_complaint[d["_id"]], with_responses=False, staff=True, assignee=assignees[d["_id"]])
                 for d in docs]
        return [i for i in items if (not status or i.status == status)
                and (not assignee or i.assignee_account_id == assignee)]

    def reporter_contact(self, complaint_id: str) -> dict:
        """The contact an anonymous reporter left, for the notification service at send time."""
        doc = self.complaints.find_one({"_id": complaint_id}, {"contact": 1}) if complaint_id else None
        if not doc or not doc.get("contact"):
            raise DomainError("not_found", "complaint-not-found", "no contact left for this complaint")
        return doc["contact"]

    def list_for_account(self, caller, application_id: str = "") -> list[complaint_pb2.Complaint]:
        """The caller's own complaints, newest first (at most 200), as the complainant sees them. Only
        complaints filed with the account: an anonymous one carries no account id, so it never shows."""
        if not caller.account_id or caller.role != "APPLICANT":
            raise DomainError("forbidden", "forbidden", "only an applicant lists their own complaints")
        query = {"account_id": caller.account_id}
        if application_id:
            query["application_id"] = application_id
        docs = list(self.complaints.find(query, {"_outbox": 0, "pin_hash": 0, "pin_salt": 0})
                    .sort("created_at", -1).limit(200))
        by_complaint: dict[str, list[dict]] = {d["_id"]: [] for d in docs}
        if docs:
            for r in self.responses.find({"complaint_id": {"$in": list(by_complaint)}}).sort([("at", 1), ("_id", 1)]):
                by_complaint[r["complaint_id"]].append(r)
        return [self.view(d, by_complaint[d["_id"]], with_responses=False) for d in docs]

    # -- responding --------------------------------------------------------------------------
    def respond(self, caller, complaint_id: str, message: str, status: str) -> dict:
        if status not in RESPONSE_STATUSES:
            raise invalid(f"status must be one of {', '.join(RESPONSE_STATUSES)}", "status")
        text = (message or "").strip()
        if not text:
            raise invalid("message is required", "message")
        if len(text) > MESSAGE_MAX:
            raise invalid(f"message is at most {MESSAGE_MAX} characters", "message")
        doc = self.complaints.find_one({"_id": complaint_id}) if complaint_id else None
        if doc is None or not is_staff_of(caller, doc["office_id"]):
            raise DomainError("not_found", "complaint-not-found", "no complaint with this id at your office")
        history = self.history(complaint_id)
        if _derive(history)[2] is not None:
            raise DomainError("conflict", "complaint-closed", "this complaint is already resolved or rejected")
        now = self.clock.now()
        closing = status in CLOSED_STATUSES
        response_id = f"{complaint_id}:closed" if closing else str(uuid.uuid4())
        on_time = sla.closed_on_time(now, doc["resolution_due"])
        account_id = doc.get("account_id", "")
        record = {"_id": response_id, "complaint_id": complaint_id, "office_id": doc["office_id"],
                  "category": doc["category"], "complaint_created_at": doc["created_at"], "message": text,
                  "status": status, "at": now, "role": caller.role, "responder_id": caller.account_id,
                  "closing": closing}
        evs = [events.new_event("complaint", complaint_id, complaint_pb2.ComplaintResponded(
            complaint_id=complaint_id, office_id=doc["office_id"], category=doc["category"],
            account_id=account_id, status=status, response_id=response_id,
            tracking_code=doc.get("tracking_code", ""), contact_channels=_channels(doc.get("contact")),
            contact_language=doc.get("contact_language", "")), self.clock)]
        if closing:
            record["on_time"] = on_time
            evs.append(events.new_event("complaint", complaint_id, complaint_pb2.ComplaintResolved(
                complaint_id=complaint_id, office_id=doc["office_id"], category=doc["category"],
                account_id=account_id, status=status, on_time=on_time,
                tracking_code=doc.get("tracking_code", ""), contact_channels=_channels(doc.get("contact")),
                contact_language=doc.get("contact_language", "")), self.clock))
        if not outbox.insert(self.responses, record, evs, TOPIC, self.clock):
            raise DomainError("conflict", "complaint-closed", "this complaint is already resolved or rejected")
        if closing:
            metrics.CLOSED.labels(doc["office_id"], "true" if on_time else "false").inc()
        log.event(logger, "complaint response recorded", complaint_id=complaint_id, status=status)
        return record

    # -- evidence ----------------------------------------------------------------------------
    def add_attachment(self, caller, tracking_code: str, pin: str, kind: str, data: bytes) -> dict:
        """Store one evidence file (JPEG, PNG or PDF by its bytes). The complainant authenticates
        with code + PIN and sends no caller; staff of the office send their caller."""
        kind = kind or "EVIDENCE"
        if kind not in files.KINDS:
            raise invalid(f"kind must be one of {', '.join(files.KINDS)}", "kind")
        doc = self.by_tracking_code(caller, tracking_code, pin)
        cid = doc["_id"]
        if kind == "POLICE_LOSS_REPORT" and doc["category"] != "LOST_PASSPORT":
            raise invalid("a police loss report belongs to a LOST_PASSPORT report", "kind")
        if _derive(self.history(cid))[2] is not None:
            raise DomainError("conflict", "complaint-closed", "this complaint is already resolved or rejected")
        content_type, stored = files.prepare(bytes(data))
        staff = is_staff_of(caller, doc["office_id"])
        now = self.clock.now()
        first = len(self.attachment_records(cid, {"_id": 1})) + 1
        for seq in range(first, MAX_ATTACHMENTS + 1):  # a number taken in parallel: the next one
            record = {"_id": _attachment_key(cid)(seq), "complaint_id": cid, "office_id": doc["office_id"],
                      "seq": seq, "kind": kind, "content_type": content_type, "size": len(stored),
                      "sha256": hashlib.sha256(stored).hexdigest(), "uploaded_at": now,
                      "uploaded_by": caller.role if staff else "COMPLAINANT", "data": Binary(stored)}
            if staff:  # staff act under their name; a complainant's upload names nobody
                record["uploader_id"] = caller.account_id
            if insert_unique(self.attachments, record):
                log.event(logger, "complaint attachment stored", complaint_id=cid, kind=kind,
                          content_type=content_type, size=len(stored))
                return record
        raise DomainError("conflict", "too-many-attachments",
                          f"a complaint has at most {MAX_ATTACHMENTS} attachments")

    def get_attachment(self, caller, complaint_id: str, tracking_code: str, pin: str,
                       attachment_id: str) -> dict:
        """The attachment with its bytes. Staff of the office by complaint id or tracking code; the
        complainant by tracking code + PIN (no caller; wrong PINs limited as in every follow-up).
        Anyone else: not_found. The read is recorded (history) before the bytes go out."""
        if tracking_code:
            doc = self.by_tracking_code(caller, tracking_code, pin)
        else:
            doc = self.complaints.find_one({"_id": complaint_id}, {"_outbox": 0}) if complaint_id else None
            if doc is None or not is_staff_of(caller, doc["office_id"]):
                raise DomainError("not_found", "complaint-not-found", "no complaint with this id at your office")
        cid = doc["_id"]
        record = None
        if (attachment_id or "").startswith(f"{cid}:attachment:"):  # only this complaint's files
            record = self.attachments.find_one({"_id": attachment_id})
        if record is None:
            raise DomainError("not_found", "attachment-not-found", "no attachment with this id on this complaint")
        staff = is_staff_of(caller, doc["office_id"])
        role = caller.role if staff else "COMPLAINANT"
        append_numbered(self.attachment_reads, _read_key(cid), lambda n: {
            "complaint_id": cid, "office_id": doc["office_id"], "attachment_id": attachment_id, "seq": n,
            "at": self.clock.now(), "role": role,
            **({"reader_id": caller.account_id} if staff else {})}, first=1)  # a complainant names nobody
        metrics.ATTACHMENT_READS.labels(role).inc()
        log.event(logger, "complaint attachment read", complaint_id=cid, attachment_id=attachment_id, role=role)
        return record

    # -- assignment --------------------------------------------------------------------------
    def assign(self, caller, complaint_id: str, officer_account_id: str) -> dict:
        """A SUPERVISOR of the office assigns any staff member of the office; an OFFICER only
        themself. Each assignment is a new record; the current assignee is the latest."""
        assignee = (officer_account_id or "").strip()
        if not assignee:
            raise invalid("officer_account_id is required", "officer_account_id")
        if not APPLICATION_ID_RE.match(assignee):
            raise invalid("officer_account_id is not a valid id", "officer_account_id")
        doc = self.complaints.find_one({"_id": complaint_id}, {"_outbox": 0}) if complaint_id else None
        if doc is None or not is_staff_of(caller, doc["office_id"]):
            raise DomainError("not_found", "complaint-not-found", "no complaint with this id at your office")
        if caller.role != "SUPERVISOR" and assignee != caller.account_id:
            raise DomainError("forbidden", "forbidden", "an officer may only assign a complaint to themself")
        if _derive(self.history(complaint_id))[2] is not None:
            raise DomainError("conflict", "complaint-closed", "this complaint is already resolved or rejected")
        if assignee != caller.account_id:
            staff = self.peers.staff(assignee)
            if staff is None or staff.role not in STAFF_ROLES or staff.office_id != doc["office_id"]:
                raise DomainError("invalid", "assignee-not-staff-of-office",
                                  "the assignee must be an officer or supervisor of the complaint's office",
                                  [{"field": "officer_account_id", "message": "not staff of this office"}])
        for _attempt in range(5):
            latest = list(self.assignments.find({"complaint_id": complaint_id}, {"_outbox": 0})
                          .sort("seq", -1).limit(1))
            if latest and latest[0]["assignee_account_id"] == assignee:
                return latest[0]  # already the assignee: nothing changes
            seq = latest[0]["seq"] + 1 if latest else 1
            now = self.clock.now()
            record = {"_id": f"{complaint_id}:assignment:{seq}", "complaint_id": complaint_id,
                      "office_id": doc["office_id"], "seq": seq, "assignee_account_id": assignee,
                      "assigned_by_role": caller.role, "assigned_by": caller.account_id, "at": now}
            event = events.new_event("complaint", complaint_id, complaint_pb2.ComplaintAssigned(
                complaint_id=complaint_id, office_id=doc["office_id"], category=doc["category"],
                assignee_account_id=assignee, seq=seq), self.clock)
            if outbox.insert(self.assignments, record, [event], TOPIC, self.clock):
                log.event(logger, "complaint assigned", complaint_id=complaint_id, seq=seq)
                return record
        raise DomainError("busy", "assignment-contended", "the complaint is being assigned concurrently; retry")

    # -- the replacement path ----------------------------------------------------------------
    def link(self, caller, complaint_id: str, application_id: str) -> dict:
        """Link a LOST_PASSPORT / DAMAGED_PASSPORT report to its reporter's replacement
        application (REPLACEMENT_LOST / REPLACEMENT_DAMAGED), verified with booking as the caller."""
        app_id = (application_id or "").strip()
        if not app_id or not APPLICATION_ID_RE.match(app_id):
            raise invalid("application_id is required and must be a valid id", "application_id")
        doc = self.complaints.find_one({"_id": complaint_id}, {"_outbox": 0}) if complaint_id else None
        owner = (doc is not None and not doc.get("anonymous") and caller.role == "APPLICANT"
                 and bool(caller.account_id) and doc.get("account_id") == caller.account_id)
        if doc is None or not (owner or is_staff_of(caller, doc["office_id"])):
            raise DomainError("not_found", "complaint-not-found", "no complaint with this id that you may see")
        wanted = REPLACEMENT_SERVICE.get(doc["category"])
        if wanted is None:
            raise DomainError("invalid", "complaint-not-linkable",
                              "only LOST_PASSPORT and DAMAGED_PASSPORT reports link to a replacement application")
        if doc.get("anonymous"):
            raise DomainError("invalid", "complaint-not-linkable",
                              "an anonymous report cannot be linked to an application")
        key = f"{complaint_id}:link"
        existing = self.links.find_one({"_id": key}, {"_outbox": 0})
        if existing is not None:
            return _same_link(existing, app_id)
        app = self.peers.application(caller, app_id)
        if app.account_id != doc.get("account_id"):
            raise DomainError("invalid", "application-not-linkable",
                              "the application belongs to another account than the report",
                              [{"field": "application_id", "message": "not the reporter's application"}])
        if app.service_type != wanted:
            raise DomainError("invalid", "application-not-replacement",
                              f"a {doc['category']} report links to a {wanted} application, "
                              f"not {app.service_type or 'this one'}",
                              [{"field": "application_id", "message": f"service_type must be {wanted}"}])
        now = self.clock.now()
        record = {"_id": key, "complaint_id": complaint_id, "application_id": app_id, "office_id": doc["office_id"],
                  "category": doc["category"], "service_type": app.service_type,
                  "complaint_created_at": doc["created_at"], "linked_at": now,
                  "linked_by_role": "COMPLAINANT" if owner else caller.role}
        event = events.new_event("complaint", complaint_id, complaint_pb2.ComplaintLinked(
            complaint_id=complaint_id, office_id=doc["office_id"], category=doc["category"],
            account_id=doc.get("account_id", ""), application_id=app_id, service_type=app.service_type), self.clock)
        if outbox.insert(self.links, record, [event], TOPIC, self.clock):
            log.event(logger, "complaint linked to its replacement application", complaint_id=complaint_id,
                      application_id=app_id)
            return record
        existing = self.links.find_one({"_id": key}, {"_outbox": 0})
        if existing is not None:
            return _same_link(existing, app_id)
        raise DomainError("conflict", "application-already-linked",
                          "this application is already linked to another report")

    def replacement_report(self, application_id: str) -> complaint_pb2.ReplacementReport:
        """The report linked to a replacement application, for booking (REPLACEMENT lane) and
        payment (the fine of a lost passport, reduced or waived with a police loss report)."""
        link = self.links.find_one({"application_id": application_id}, {"_outbox": 0}) if application_id else None
        if link is None:
            raise DomainError("not_found", "replacement-report-not-found",
                              "no lost/damaged passport report is linked to this application")
        police = any(a["kind"] == "POLICE_LOSS_REPORT"
                     for a in self.attachment_records(link["complaint_id"], {"kind": 1}))
        return complaint_pb2.ReplacementReport(
            complaint_id=link["complaint_id"], application_id=link["application_id"], category=link["category"],
            has_police_report=police, created_at=rfc3339(link["complaint_created_at"]),
            linked_at=rfc3339(link["linked_at"]), office_id=link["office_id"], service_type=link["service_type"])

    # -- escalation --------------------------------------------------------------------------
    def sweep(self, batch: int = 500) -> int:
        """Escalate every breach not escalated yet; returns the number of new escalations."""
        now = self.clock.now()
        created = 0
        cursor = self.complaints.find({"first_response_due": {"$lt": now}},
                                      {"_outbox": 0, "description": 0, "pin_hash": 0, "pin_salt": 0})
        candidates = list(cursor.sort("first_response_due", 1))
        for start in range(0, len(candidates), batch):
            chunk = candidates[start:start + batch]
            ids = [c["_id"] for c in chunk]
            done = {e["_id"] for e in self.escalations.find({"complaint_id": {"$in": ids}}, {"_id": 1})}
            history: dict[str, list[dict]] = {i: [] for i in ids}
            for r in self.responses.find({"complaint_id": {"$in": ids}}, {"complaint_id": 1, "at": 1, "status": 1,
                                                                         "closing": 1}):
                history[r["complaint_id"]].append(r)
            for c in chunk:
                _status, first_at, closed_at = _derive(sorted(history[c["_id"]], key=lambda r: r["at"]))
                for kind in sla.breaches(now, c["first_response_due"], c["resolution_due"], first_at, closed_at):
                    key = f"{c['_id']}:{kind}"
                    if key not in done and self._escalate(c, kind, key, now):
                        created += 1
        return created

    def _escalate(self, c: dict, kind: str, key: str, now: dt.datetime) -> bool:
        due = c["first_response_due"] if kind == "FIRST_RESPONSE" else c["resolution_due"]
        escalated = complaint_pb2.ComplaintEscalated(
            complaint_id=c["_id"], office_id=c["office_id"], category=c["category"],
            account_id=c.get("account_id", ""), kind=kind, due_at=rfc3339(due),
            assignee_account_id=self.current_assignee(c["_id"]), escalated_at=rfc3339(now),
            tracking_code=c.get("tracking_code", ""))
        record = {"_id": key, "complaint_id": c["_id"], "office_id": c["office_id"], "kind": kind,
                  "category": c["category"], "complaint_created_at": c["created_at"], "due_at": due, "at": now}
        envelope = events.new_event("complaint", c["_id"], escalated, self.clock)
        if outbox.insert(self.escalations, record, [envelope], TOPIC, self.clock):
            metrics.ESCALATIONS.labels(c["office_id"], kind).inc()
            log.event(logger, "complaint escalated to the head of office", complaint_id=c["_id"],
                      office_id=c["office_id"], kind=kind)
            return True
        return False

    # -- transparency ------------------------------------------------------------------------
    def statistics(self, office_id: str, month: str) -> complaint_pb2.ComplaintStatistics:
        cal = self.calendars.get(office_id)
        if cal is None:
            raise DomainError("not_found", "office-not-found", f"no office {office_id}")
        try:
            start, end = cal.month_bounds(month)
        except ValueError:
            raise invalid("month must be YYYY-MM", "month") from None
        window = {"$gte": start, "$lt": end}
        by_category = {g["_id"]: g["n"] for g in self.complaints.aggregate([
            {"$match": {"office_id": office_id, "created_at": window}},
            {"$group": {"_id": "$category", "n": {"$sum": 1}}}])}
        closed = {bool(g["_id"]): g["n"] for g in self.responses.aggregate([
            {"$match": {"office_id": office_id, "closing": True, "complaint_created_at": window}},
            {"$group": {"_id": "$on_time", "n": {"$sum": 1}}}])}
        escalations = self.escalations.count_documents({"office_id": office_id, "complaint_created_at": window})
        n_closed = closed.get(True, 0) + closed.get(False, 0)
        share = closed.get(True, 0) / n_closed if n_closed else 0.0
        return complaint_pb2.ComplaintStatistics(
            office_id=office_id, month=month, filed=sum(by_category.values()),
            by_category=[complaint_pb2.CategoryCount(category=c, count=by_category.get(c, 0)) for c in CATEGORIES],
            closed=n_closed, closed_on_time=closed.get(True, 0), share_resolved_on_time=share,
            escalations=escalations)

    def refresh_metrics(self) -> None:
        """Share resolved on time of the current month per office, for the Prometheus gauge."""
        now = self.clock.now()
        for office_id, cal in self.calendars.items():
            month = now.astimezone(cal.tz).strftime("%Y-%m")
            stats = self.statistics(office_id, month)
            metrics.ON_TIME_SHARE.labels(office_id).set(stats.share_resolved_on_time)


def _derive(history: list[dict]) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """(status, first response at, closed at) from the time-ordered responses."""
    if not history:
        return "OPEN", None, None
    closing = next((r for r in history if r.get("closing")), None)
    if closing is not None:
        return closing["status"], history[0]["at"], closing["at"]
    return "IN_PROGRESS", history[0]["at"], None


def response_proto(r: dict) -> complaint_pb2.ComplaintResponse:
    return complaint_pb2.ComplaintResponse(
        response_id=r["_id"], complaint_id=r["complaint_id"], message=r.get("message", ""),
        status=r["status"], at=rfc3339(r["at"]), role=r.get("role", ""))


def _same_link(existing: dict, application_id: str) -> dict:
    if existing["application_id"] == application_id:
        return existing  # the same link again: nothing changes
    raise DomainError("conflict", "complaint-already-linked",
                      "this report is already linked to another application")


def _attachment_key(complaint_id: str):
    return lambda n: f"{complaint_id}:attachment:{n}"


def _read_key(complaint_id: str):
    return lambda n: f"{complaint_id}:read:{n}"


def attachment_proto(a: dict) -> complaint_pb2.Attachment:
    return complaint_pb2.Attachment(
        attachment_id=a["_id"], kind=a["kind"], content_type=a["content_type"], size=a["size"],
        sha256=a["sha256"], uploaded_at=rfc3339(a["uploaded_at"]), uploaded_by=a.get("uploaded_by", ""))


def link_proto(link: dict) -> complaint_pb2.ComplaintLink:
    return complaint_pb2.ComplaintLink(complaint_id=link["complaint_id"], application_id=link["application_id"],
                                       service_type=link["service_type"], linked_at=rfc3339(link["linked_at"]))


def assignment_proto(a: dict) -> complaint_pb2.Assignment:
    return complaint_pb2.Assignment(
        assignment_id=a["_id"], complaint_id=a["complaint_id"], assignee_account_id=a["assignee_account_id"],
        assigned_by_role=a.get("assigned_by_role", ""), at=rfc3339(a["at"]), seq=a["seq"])


def history_entries(doc: dict, responses: list[dict], assignments: list[dict], escalations: list[dict],
                    attachments: list[dict], link: dict | None,
                    reads: list[dict] = ()) -> list[complaint_pb2.HistoryEntry]:
    """Every change of a complaint, and every read of its evidence, in time order (staff only)."""
    H = complaint_pb2.HistoryEntry
    rows = [(doc["created_at"], 0, H(type="FILED", status="OPEN", role="COMPLAINANT"))]
    rows += [(r["at"], 1, H(type="RESPONSE", status=r["status"], role=r.get("role", ""), message=r.get("message", "")))
             for r in responses]
    rows += [(a["at"], 2, H(type="ASSIGNMENT", role=a.get("assigned_by_role", ""),
                           assignee_account_id=a["assignee_account_id"])) for a in assignments]
    rows += [(e["at"], 3, H(type="ESCALATION", role="SYSTEM", kind=e["kind"])) for e in escalations]
    rows += [(a["uploaded_at"], 4, H(type="ATTACHMENT", role=a.get("uploaded_by", ""), kind=a["kind"],
                                     attachment_id=a.get("_id", ""), account_id=a.get("uploader_id", "")))
             for a in attachments]
    rows += [(r["at"], 6, H(type="ATTACHMENT_READ", role=r["role"], attachment_id=r["attachment_id"],
                           account_id=r.get("reader_id", ""))) for r in reads]
    if link is not None:
        rows.append((link["linked_at"], 5, H(type="LINK", role=link.get("linked_by_role", ""),
                                             application_id=link["application_id"])))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for at, _order, entry in rows:
        entry.at = rfc3339(at)
        out.append(entry)
    return out


_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^(\+62|62|0)8[0-9]{7,11}$")


def _channels(contact: dict | None) -> list[str]:
    """Which channels an anonymous reporter's contact allows (the addresses never leave this service)."""
    return [ch for ch, key in (("EMAIL", "email"), ("SMS", "phone")) if (contact or {}).get(key)]
