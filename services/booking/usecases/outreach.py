"""Outreach (Eazy Passport, layanan kolektif): the office serves a group of at least 50 people at
their own location (a village hall, a school, a company).

An organiser (any registered account) requests a session for a date and a location; the supervisor
of the office approves it with a number of OUTREACH seats (a quota change of that date's OUTREACH
lane, audited) or rejects it with a reason. Approval draws an invitation code that the organiser
hands to the members; a member books one of that session's OUTREACH seats with it (still one
application per NIK, each paying their own fees). Every decision is a keyed insert (decided once);
the code is the key of its own record, so booking checks it with one `_id` lookup.
"""
from __future__ import annotations

import datetime as dt
import secrets
import uuid

from servicekit.clock import Clock, rfc3339
from servicekit.crypto import KeyRing
from servicekit.errors import DomainError, invalid

from services.booking.adapters.office_records import OutreachRepository
from services.booking.domain import rules
from services.booking.domain.calendar import slot_id

MIN_PEOPLE = 50
MAX_PEOPLE = 1000
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read out over the phone


class Outreach:
    def __init__(self, db, applications, clock: Clock, keys: KeyRing):
        self.apps, self.clock = applications, clock
        self.repository = OutreachRepository(db, keys)  # keys seal the organiser's phone

    def ensure_indexes(self) -> None:
        self.repository.ensure_indexes()

    # -- organiser ---------------------------------------------------------------------------
    def request(self, caller, office_id: str, organisation: str, location: str, date: str, people: int,
                contact_phone: str) -> dict:
        if caller.role != "APPLICANT" or not caller.account_id:
            raise DomainError("forbidden", "forbidden", "an organiser requests a session with their own account")
        office = self.apps.office(office_id)
        day = rules.parse_date(date, "date")
        errors = []
        if not 3 <= len((organisation or "").strip()) <= 200:
            errors.append({"field": "organisation", "message": "name the organisation (3-200 characters)"})
        if not 5 <= len((location or "").strip()) <= 300:
            errors.append({"field": "location", "message": "give the address of the session (5-300 characters)"})
        if not isinstance(people, int) or isinstance(people, bool) or not MIN_PEOPLE <= people <= MAX_PEOPLE:
            errors.append({"field": "people", "message": f"a collective session is for {MIN_PEOPLE} to {MAX_PEOPLE} people"})
        if not rules.PHONE.match(contact_phone or ""):
            errors.append({"field": "contact_phone", "message": "a phone number such as 081234567890"})
        if day <= office.today(self.clock.now()) or not self.apps.calendar.is_working_day(office, day):
            errors.append({"field": "date", "message": "a working day of the office after today"})
        if errors:
            raise DomainError("invalid", "validation-error", "the outreach request is not valid", errors)
        doc = {"_id": "out_" + uuid.uuid4().hex, "office_id": office_id, "organiser_account_id": caller.account_id,
               "organisation": organisation.strip(), "location": location.strip(), "date": day.isoformat(),
               "people": people, "contact_phone": contact_phone, "requested_at": self.clock.now()}
        self.repository.add(doc)
        return self.view(doc, caller)

    def get(self, caller, request_id: str) -> dict:
        doc = self.repository.get(request_id)
        if doc is None or not _may_see(caller, doc):
            raise DomainError("not_found", "outreach-request-not-found", "no such outreach request")
        return self.view(doc, caller)

    # -- office ------------------------------------------------------------------------------
    def list(self, caller, office_id: str, status: str = "") -> list[dict]:
        if caller.role not in ("OFFICER", "SUPERVISOR") or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only staff of this office see its outreach requests")
        views = [self.view(d, caller) for d in self.repository.of_office(office_id)]
        return [v for v in views if not status or v["status"] == status]

    def decide(self, caller, office_id: str, request_id: str, approve: bool, seats: int, start_time: str,
               reason: str) -> dict:
        """The supervisor's one decision: approve with OUTREACH seats (and an invitation code), or reject."""
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office decides on outreach")
        doc = self.repository.get(request_id)
        if doc is None or doc["office_id"] != office_id:
            raise DomainError("not_found", "outreach-request-not-found", "no such outreach request")
        if not (reason or "").strip():
            raise invalid("a reason is required", "reason")
        office = self.apps.office(office_id)
        decision = {"_id": request_id, "approved": bool(approve), "reason": reason.strip(),
                    "by": caller.account_id, "at": self.clock.now()}
        start = start_time or office.slots[0]
        if approve:
            if start not in office.slots:
                raise invalid(f"{office_id} has no slot starting at {start}", "start_time")
            if not isinstance(seats, int) or isinstance(seats, bool) or not 1 <= seats <= MAX_PEOPLE:
                raise invalid(f"seats must be 1 to {MAX_PEOPLE}", "seats")
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
            decision.update(seats=seats, slot_id=slot_id(office_id, dt.date.fromisoformat(doc["date"]), "OUTREACH", start),
                            invitation_code=code)
        if not self.repository.decide(decision):
            raise DomainError("conflict", "outreach-already-decided", "this outreach request was decided already")
        if approve:
            self.apps.set_capacity(caller, office_id, doc["date"], "OUTREACH", start, seats,
                                   f"outreach {request_id} ({doc['organisation']}): {reason.strip()}")
            self.repository.add_code(decision["invitation_code"], request_id, office_id, decision["slot_id"])
        else:
            self.apps.staff_action(caller, "OUTREACH_REJECTED", office_id,
                                    {"request_id": request_id, "reason": reason.strip()})
        return self.view(doc, caller)

    # -- booking -----------------------------------------------------------------------------
    def admits(self, invitation_code: str, slot: dict) -> bool:
        """Whether the code invites to this OUTREACH slot (Applications' outreach gate)."""
        code = self.repository.code((invitation_code or "").strip().upper()) if invitation_code else None
        return code is not None and code["slot_id"] == slot["_id"]

    def view(self, doc: dict, caller) -> dict:
        decision = self.repository.decision(doc["_id"]) or {}
        status = "REQUESTED" if not decision else "APPROVED" if decision["approved"] else "REJECTED"
        office = self.apps.office(doc["office_id"])
        out = {"request_id": doc["_id"], "office_id": doc["office_id"], "organisation": doc["organisation"],
               "location": doc["location"], "date": doc["date"], "people": doc["people"], "status": status,
               "requested_at": rfc3339(doc["requested_at"], office.tz), "reason": decision.get("reason", ""),
               "seats": decision.get("seats", 0), "slot_id": decision.get("slot_id", ""), "invitation_code": ""}
        if status == "APPROVED" and _may_see(caller, doc):
            out["invitation_code"] = decision["invitation_code"]  # the organiser and the office only
        if caller.role in ("OFFICER", "SUPERVISOR"):
            out["contact_phone"] = doc["contact_phone"]
        return out


def _may_see(caller, doc: dict) -> bool:
    if caller.role == "APPLICANT":
        return caller.account_id == doc["organiser_account_id"]
    return caller.role in ("OFFICER", "SUPERVISOR") and caller.office_id == doc["office_id"]
