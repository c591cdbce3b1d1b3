"""Use cases of an application's record: create, find (with who may see it), list, documents, the
view, and the steps every other use case shares (append a change, close, free what it held)."""
from __future__ import annotations

import datetime as dt
import logging
import uuid

from servicekit import log, pdf
from servicekit.clock import Clock
from servicekit.errors import DomainError

from services.booking import metrics
from services.booking.adapters.documents import Documents
from services.booking.adapters.mapping import application_view
from services.booking.adapters.repositories import ApplicationRepository, SeatRepository
from services.booking.domain import rules
from services.booking.domain.application import Application, Change, may_see, not_found
from services.booking.domain.calendar import Calendar

logger = logging.getLogger("booking.documents")
STALE_CLAIM = dt.timedelta(minutes=2)  # a claim whose application was never written, after a crash in create


class ApplicationRecords:
    def __init__(self, repository: ApplicationRepository, seats: SeatRepository, documents: Documents,
                 calendar: Calendar, clock: Clock):
        self.repository, self.seats, self.documents = repository, seats, documents
        self.calendar, self.clock = calendar, clock

    # -- create, find, list -----------------------------------------------------------------------
    def create(self, account: dict, office_id: str, passport_type: str, validity_years: int,
               service_type: str, express: bool, priority_group: str) -> dict:
        self.calendar.office(office_id)
        application_id = "app_" + uuid.uuid4().hex
        header = Application.new_header(application_id, account, office_id, passport_type, validity_years,
                                        service_type, express, priority_group, self.clock.now())
        if not self.claim_open(account["_id"], application_id):
            raise DomainError("conflict", "active-application-exists",
                              "this NIK already has an open application; finish or cancel it first")
        self.repository.add(header)
        app = Application(header, [])
        self.repository.append(app, app.created())
        return self.view(header)

    def claim_open(self, account_id: str, application_id: str) -> bool:
        """The one open application of an account (= NIK). A claim is stale if its application never
        got written (a crash in create) or closed."""
        if self.repository.claim_open(account_id, application_id):
            return True
        held = self.repository.open_claim(account_id)
        if held is None:
            return self.repository.claim_open(account_id, application_id)
        if held["application_id"] == application_id:
            return True
        exists = self.repository.exists(held["application_id"])
        stale_orphan = not exists and self.clock.now() - held["at"] > STALE_CLAIM
        closed = exists and self.latest(held["application_id"])["status"] in rules.CLOSED_STATUSES
        if stale_orphan or closed:
            self.repository.release_claim(account_id, held["application_id"])
            return self.repository.claim_open(account_id, application_id)
        return False

    def get(self, caller, application_id: str) -> dict:
        """The header, if `caller` may see it: another applicant's id answers 404, never 403."""
        header = self.repository.remembered_header(application_id)
        if header is None or not may_see(caller, header):
            raise not_found()
        return header

    def owned(self, caller, application_id: str) -> dict:
        header = self.get(caller, application_id)
        if caller.role != "APPLICANT":
            raise not_found()
        return header

    def staff(self, caller, application_id: str, role: tuple = ("OFFICER", "SUPERVISOR")) -> dict:
        header = self.get(caller, application_id)
        if caller.role not in role:
            raise DomainError("forbidden", "forbidden", "only officers of this office do this")
        return header

    def list_for(self, account_id: str) -> list[dict]:
        """An account's applications, newest first."""
        return sorted(self.repository.headers_of_account(account_id), key=lambda h: h["created_at"], reverse=True)

    def age(self, header: dict) -> int:
        return Application(header, []).age(self.clock.now().date())

    # -- documents --------------------------------------------------------------------------------
    def upload_document(self, caller, application_id: str, kind: str, content: bytes) -> dict:
        header = self.owned(caller, application_id)
        self.load(header).check_documents_may_change()
        if content.startswith(b"%PDF-") and len(content) <= rules.MAX_DOCUMENT_BYTES:
            # parsed, cleaned of active content and metadata, rewritten - or refused (servicekit/pdf.py)
            content, removed = pdf.normalise(content)
            if removed:
                log.event(logger, "active content removed from a PDF", application_id=header["_id"],
                          kind=kind, removed=",".join(removed))
        return self.documents.upload(header["_id"], kind, content)

    def list_documents(self, caller, application_id: str) -> list[dict]:
        self.get(caller, application_id)
        return self.documents.list(application_id)

    def missing_documents(self, app: Application) -> list[str]:
        return self.documents.missing(app.id, app.required_documents(self.clock.now().date()))

    # -- the status log ---------------------------------------------------------------------------
    def history(self, application_id: str) -> list[dict]:
        return self.repository.history(application_id)

    def latest(self, application_id: str) -> dict:
        return Application({"_id": application_id}, self.history(application_id)).latest

    def load(self, header: dict) -> Application:
        return self.repository.load(header)

    def append(self, app: Application, change: Change) -> dict | None:
        """Record `change` after the aggregate's latest transition; None when another transition took
        that place first (the caller re-reads and decides again)."""
        return self.repository.append(app, change)

    def view(self, header: dict, caller=None, history: list[dict] | None = None) -> dict:
        history = self.history(header["_id"]) if history is None else history
        return application_view(Application(header, history), self.calendar, caller)

    # -- closing ----------------------------------------------------------------------------------
    def close(self, app: Application, status: str, note: str, reason: str) -> bool:
        """CANCELLED or EXPIRED, then free what it held (also when another change won the race)."""
        appended = self.append(app, app.closed(status, note, reason)) is not None
        if appended:
            metrics.RELEASED.labels(app.office_id, reason).inc()
        self.free(app.header)
        return appended

    def free(self, header: dict) -> None:
        """Release what a closed application held. Idempotent; the reaper repeats it after a crash."""
        if self.latest(header["_id"])["status"] not in rules.CLOSED_STATUSES:
            return
        self.seats.release_all_of(header["_id"])
        self.repository.release_claim(header["account_id"], header["_id"])

