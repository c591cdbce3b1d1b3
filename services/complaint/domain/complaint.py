"""The Complaint aggregate: filing, follow-up with tracking code and PIN, responses, assignment,
the link to a replacement application, escalation and evidence. Pure rules: no store, no gRPC.

The complaint itself is a dataclass. What happens to it afterwards (responses, assignments,
escalations, attachments and their reads, the link) are immutable records kept as plain mappings
in the store's shape (`_id`, `at`, ...): each is written once and never changed, so the methods
here return the new record and the events it causes, and the repository inserts both together.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from servicekit.clock import rfc3339
from servicekit.errors import DomainError, invalid

from services.complaint.domain import attachments as files
from services.complaint.domain import events, sla
from services.complaint.domain.sla import CATEGORIES, CLOSED_STATUSES, OfficeCalendar

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

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^(\+62|62|0)8[0-9]{7,11}$")


# -- codes and PINs ----------------------------------------------------------------------------
def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def hash_pin(pin: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, PIN_ITERATIONS)


def pin_matches(pin: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_pin(pin, salt), bytes(expected))


def normal_tracking_code(tracking_code: str) -> str:
    """The code as stored (upper case, no blanks); "" when it cannot be a tracking code at all."""
    code = (tracking_code or "").strip().upper()
    return code if TRACKING_RE.match(code) else ""


def is_staff_of(caller, office_id: str) -> bool:
    return caller.role in STAFF_ROLES and bool(caller.office_id) and caller.office_id == office_id


# -- errors the rules raise (one place, so every path answers alike) -------------------------
def not_found_here() -> DomainError:
    return DomainError("not_found", "complaint-not-found", "no complaint with this id at your office")


def not_found_for_code() -> DomainError:
    return DomainError("not_found", "complaint-not-found", "no complaint with this tracking code and PIN")


def too_many_pin_attempts() -> DomainError:
    return DomainError("busy", "too-many-pin-attempts",
                       "too many wrong PIN attempts for this tracking code; try again in 15 minutes")


def already_closed() -> DomainError:
    return DomainError("conflict", "complaint-closed", "this complaint is already resolved or rejected")


# -- status ------------------------------------------------------------------------------------
def derive_status(history: list[dict]) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """(status, first response at, closed at) from the time-ordered responses."""
    if not history:
        return "OPEN", None, None
    closing = next((r for r in history if r.get("closing")), None)
    if closing is not None:
        return closing["status"], history[0]["at"], closing["at"]
    return "IN_PROGRESS", history[0]["at"], None


def contact_channels(contact: dict | None) -> list[str]:
    """Which channels an anonymous reporter's contact allows (the addresses never leave this service)."""
    return [ch for ch, key in (("EMAIL", "email"), ("SMS", "phone")) if (contact or {}).get(key)]


# -- filing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filing:
    """A report as the reporter sent it, normalised: what the filing rules look at."""
    category: str
    office_id: str
    description: str
    application_id: str
    anonymous: bool
    account_id: str
    contact: dict
    contact_language: str

    @classmethod
    def from_request(cls, caller, category: str, office_id: str, description: str, application_id: str,
                     anonymous: bool, contact_email: str = "", contact_phone: str = "",
                     contact_language: str = "") -> "Filing":
        anonymous = bool(anonymous or not caller.account_id)  # no account: anonymous whatever was asked
        contact = {k: v.strip() for k, v in (("email", contact_email or ""), ("phone", contact_phone or ""))
                   if v.strip()}
        return cls(category, office_id, (description or "").strip(), application_id or "", anonymous,
                   "" if anonymous else caller.account_id, contact,
                   (contact_language if contact_language in ("id", "en") else "id") if contact else "")

    def errors(self, office_known: bool) -> list[dict]:
        """Every field problem of the report, in the order a form shows them."""
        errors = []
        if self.category not in CATEGORIES:
            errors.append({"field": "category", "message": f"category must be one of {', '.join(CATEGORIES)}"})
        if not office_known:
            errors.append({"field": "office_id", "message": "unknown office"})
        if not self.description:
            errors.append({"field": "description", "message": "description is required"})
        elif len(self.description) > DESCRIPTION_MAX:
            errors.append({"field": "description", "message": f"description is at most {DESCRIPTION_MAX} characters"})
        if self.application_id:
            if not APPLICATION_ID_RE.match(self.application_id):
                errors.append({"field": "application_id", "message": "application_id is not a valid id"})
            elif self.anonymous:
                errors.append({"field": "application_id",
                               "message": "an anonymous report cannot reference an application"})
        contact = self.contact
        if contact and not self.anonymous:
            errors.append({"field": "contact_email" if "email" in contact else "contact_phone",
                           "message": "a named report is answered through your account; leave no contact"})
        if contact.get("email") and not _EMAIL.match(contact["email"]):
            errors.append({"field": "contact_email", "message": "contact_email is not a valid address"})
        if contact.get("phone") and not _PHONE.match(contact["phone"]):
            errors.append({"field": "contact_phone", "message": "contact_phone must be a mobile number like 081234567890"})
        return errors


def reject_filing(errors: list[dict]) -> DomainError:
    return DomainError("invalid", "validation-error", "some fields are missing or invalid", errors)


# -- the aggregate -------------------------------------------------------------------------------
@dataclass
class Complaint:
    complaint_id: str
    tracking_code: str
    office_id: str
    category: str
    description: str
    anonymous: bool
    created_at: dt.datetime
    first_response_due: dt.datetime
    resolution_due: dt.datetime
    pin_salt: bytes = b""
    pin_hash: bytes = b""
    account_id: str = ""
    contact: dict = field(default_factory=dict)
    contact_language: str = ""
    application_id: str = ""

    @classmethod
    def file(cls, filing: Filing, calendar: OfficeCalendar, complaint_id: str, tracking_code: str, pin: str,
             salt: bytes, now: dt.datetime) -> tuple["Complaint", list[events.Event]]:
        """A new complaint with its service levels from the office calendar, and ComplaintFiled."""
        first_due, resolution_due = sla.due_dates(calendar, now, filing.category)
        complaint = cls(complaint_id, tracking_code, filing.office_id, filing.category, filing.description,
                        filing.anonymous, now, first_due, resolution_due, salt, hash_pin(pin, salt),
                        filing.account_id, dict(filing.contact), filing.contact_language, filing.application_id)
        return complaint, [events.ComplaintFiled(
            complaint_id=complaint_id, office_id=complaint.office_id, category=complaint.category,
            account_id=complaint.account_id, anonymous=complaint.anonymous,
            first_response_due_at=rfc3339(first_due), due_at=rfc3339(resolution_due),
            application_id=complaint.application_id, tracking_code=tracking_code,
            contact_channels=contact_channels(complaint.contact), contact_language=complaint.contact_language)]

    # -- who may do what ---------------------------------------------------------------------
    def is_staff(self, caller) -> bool:
        return is_staff_of(caller, self.office_id)

    def is_owner(self, caller) -> bool:
        """The applicant who filed it under their account (anonymous reports have no owner)."""
        return (not self.anonymous and caller.role == "APPLICANT" and bool(caller.account_id)
                and self.account_id == caller.account_id)

    def pin_matches(self, pin: str) -> bool:
        return bool(pin) and bool(self.pin_hash) and pin_matches(pin, self.pin_salt, self.pin_hash)

    @property
    def channels(self) -> list[str]:
        return contact_channels(self.contact)

    # -- responding --------------------------------------------------------------------------
    def respond(self, caller, message: str, status: str, history: list[dict], response_id: str,
                now: dt.datetime) -> tuple[dict, list[events.Event]]:
        """A staff response (the closing one once only): the response record and its events."""
        if derive_status(history)[2] is not None:
            raise already_closed()
        closing = status in CLOSED_STATUSES
        on_time = sla.closed_on_time(now, self.resolution_due)
        record = {"_id": f"{self.complaint_id}:closed" if closing else response_id,
                  "complaint_id": self.complaint_id, "office_id": self.office_id, "category": self.category,
                  "complaint_created_at": self.created_at, "message": message, "status": status, "at": now,
                  "role": caller.role, "responder_id": caller.account_id, "closing": closing}
        caused: list[events.Event] = [events.ComplaintResponded(
            complaint_id=self.complaint_id, office_id=self.office_id, category=self.category,
            account_id=self.account_id, status=status, response_id=record["_id"],
            tracking_code=self.tracking_code, contact_channels=self.channels,
            contact_language=self.contact_language)]
        if closing:
            record["on_time"] = on_time
            caused.append(events.ComplaintResolved(
                complaint_id=self.complaint_id, office_id=self.office_id, category=self.category,
                account_id=self.account_id, status=status, on_time=on_time, tracking_code=self.tracking_code,
                contact_channels=self.channels, contact_language=self.contact_language))
        return record, caused

    # -- assignment --------------------------------------------------------------------------
    def check_assignable(self, caller, assignee: str, history: list[dict]) -> None:
        """A SUPERVISOR of the office assigns anyone of its staff; an OFFICER only themself."""
        if caller.role != "SUPERVISOR" and assignee != caller.account_id:
            raise DomainError("forbidden", "forbidden", "an officer may only assign a complaint to themself")
        if derive_status(history)[2] is not None:
            raise already_closed()

    @staticmethod
    def check_assignee_is_staff(staff, office_id: str) -> None:
        """`staff` is the assignee's account as booking knows it (None: no such account)."""
        if staff is None or staff.role not in STAFF_ROLES or staff.office_id != office_id:
            raise DomainError("invalid", "assignee-not-staff-of-office",
                              "the assignee must be an officer or supervisor of the complaint's office",
                              [{"field": "officer_account_id", "message": "not staff of this office"}])

    def assign(self, caller, assignee: str, seq: int, now: dt.datetime) -> tuple[dict, list[events.Event]]:
        record = {"_id": f"{self.complaint_id}:assignment:{seq}", "complaint_id": self.complaint_id,
                  "office_id": self.office_id, "seq": seq, "assignee_account_id": assignee,
                  "assigned_by_role": caller.role, "assigned_by": caller.account_id, "at": now}
        return record, [events.ComplaintAssigned(
            complaint_id=self.complaint_id, office_id=self.office_id, category=self.category,
            assignee_account_id=assignee, seq=seq)]

    # -- the replacement path ----------------------------------------------------------------
    def replacement_service(self) -> str:
        """The service type of the application this report may link to; refuses other reports."""
        wanted = REPLACEMENT_SERVICE.get(self.category)
        if wanted is None:
            raise DomainError("invalid", "complaint-not-linkable",
                              "only LOST_PASSPORT and DAMAGED_PASSPORT reports link to a replacement application")
        if self.anonymous:
            raise DomainError("invalid", "complaint-not-linkable",
                              "an anonymous report cannot be linked to an application")
        return wanted

    def link(self, application_id: str, application, by_owner: bool, caller_role: str, now: dt.datetime
             ) -> tuple[dict, list[events.Event]]:
        """Link to the reporter's own replacement application of the fitting service type;
        `application` is what booking answered for `application_id` (its account and service type)."""
        wanted = self.replacement_service()
        if application.account_id != self.account_id:
            raise DomainError("invalid", "application-not-linkable",
                              "the application belongs to another account than the report",
                              [{"field": "application_id", "message": "not the reporter's application"}])
        if application.service_type != wanted:
            raise DomainError("invalid", "application-not-replacement",
                              f"a {self.category} report links to a {wanted} application, "
                              f"not {application.service_type or 'this one'}",
                              [{"field": "application_id", "message": f"service_type must be {wanted}"}])
        record = {"_id": link_key(self.complaint_id), "complaint_id": self.complaint_id,
                  "application_id": application_id, "office_id": self.office_id,
                  "category": self.category, "service_type": application.service_type,
                  "complaint_created_at": self.created_at, "linked_at": now,
                  "linked_by_role": "COMPLAINANT" if by_owner else caller_role}
        return record, [events.ComplaintLinked(
            complaint_id=self.complaint_id, office_id=self.office_id, category=self.category,
            account_id=self.account_id, application_id=application_id,
            service_type=application.service_type)]

    # -- escalation --------------------------------------------------------------------------
    def breaches(self, now: dt.datetime, history: list[dict]) -> list[str]:
        """The kinds of service-level breach due now (FIRST_RESPONSE, RESOLUTION)."""
        _status, first_at, closed_at = derive_status(history)
        return sla.breaches(now, self.first_response_due, self.resolution_due, first_at, closed_at)

    def escalate(self, kind: str, assignee: str, now: dt.datetime) -> tuple[dict, list[events.Event]]:
        due = self.first_response_due if kind == "FIRST_RESPONSE" else self.resolution_due
        record = {"_id": f"{self.complaint_id}:{kind}", "complaint_id": self.complaint_id,
                  "office_id": self.office_id, "kind": kind, "category": self.category,
                  "complaint_created_at": self.created_at, "due_at": due, "at": now}
        return record, [events.ComplaintEscalated(
            complaint_id=self.complaint_id, office_id=self.office_id, category=self.category,
            account_id=self.account_id, kind=kind, due_at=rfc3339(due), assignee_account_id=assignee,
            escalated_at=rfc3339(now), tracking_code=self.tracking_code)]

    def sla_state(self, now: dt.datetime, history: list[dict]) -> str:
        _status, first_at, closed_at = derive_status(history)
        return sla.state(now, self.first_response_due, self.resolution_due, first_at, closed_at)

    # -- evidence ----------------------------------------------------------------------------
    def check_attachment(self, kind: str, history: list[dict]) -> None:
        if kind == "POLICE_LOSS_REPORT" and self.category != "LOST_PASSPORT":
            raise invalid("a police loss report belongs to a LOST_PASSPORT report", "kind")
        if derive_status(history)[2] is not None:
            raise already_closed()

    def attachment(self, caller, seq: int, kind: str, content_type: str, stored: bytes, now: dt.datetime) -> dict:
        """The evidence record (without its bytes); staff act under their name, a complainant names nobody."""
        staff = self.is_staff(caller)
        record = {"_id": attachment_key(self.complaint_id)(seq), "complaint_id": self.complaint_id,
                  "office_id": self.office_id, "seq": seq, "kind": kind, "content_type": content_type,
                  "size": len(stored), "sha256": hashlib.sha256(stored).hexdigest(), "uploaded_at": now,
                  "uploaded_by": caller.role if staff else "COMPLAINANT"}
        if staff:
            record["uploader_id"] = caller.account_id
        return record

    def owns_attachment_id(self, attachment_id: str) -> bool:
        """Only this complaint's files are read through it."""
        return (attachment_id or "").startswith(f"{self.complaint_id}:attachment:")

    def attachment_read(self, caller, attachment_id: str, seq: int, now: dt.datetime) -> dict:
        """Who read which evidence file when (a complainant's read names nobody)."""
        staff = self.is_staff(caller)
        record = {"complaint_id": self.complaint_id, "office_id": self.office_id, "attachment_id": attachment_id,
                  "seq": seq, "at": now, "role": caller.role if staff else "COMPLAINANT"}
        if staff:
            record["reader_id"] = caller.account_id
        return record


def attachment_kind(kind: str) -> str:
    kind = kind or "EVIDENCE"
    if kind not in files.KINDS:
        raise invalid(f"kind must be one of {', '.join(files.KINDS)}", "kind")
    return kind


def link_key(complaint_id: str) -> str:
    return f"{complaint_id}:link"


def attachment_key(complaint_id: str):
    return lambda n: f"{complaint_id}:attachment:{n}"


def read_key(complaint_id: str):
    return lambda n: f"{complaint_id}:read:{n}"
