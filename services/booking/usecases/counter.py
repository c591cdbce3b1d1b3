"""The office counter's day (issue 17): the appointments of a date, finding an application, reading
an applicant's documents (every read recorded), and the queue (call next, recall, skip; the numbers
called so far, for the waiting-room display). Office-scoped: staff of another office get 404.

Queue calls are keyed inserts like everything that must happen once: a number is called by inserting
`<office>:<date>:call:<number>` (two officers pressing "next" at once call two different numbers);
each call, recall or skip is also an entry of the day's numbered call log, which the display reads.
"""
from __future__ import annotations

import re

from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid

from services.booking.adapters.office_records import CounterLog
from services.booking.adapters.repositories import AccountLookup
from services.booking.domain.application import QUEUE_LETTERS, is_staff_of, mask_passport
from services.booking.usecases.facade import Applications

# Where an application stands at the counter, in the words the officer's list shows.
COUNTER_STEP = {"AWAITING_PAYMENT": "awaiting payment", "PAID": "paid, not checked in", "CHECKED_IN": "checked in",
                "BIOMETRICS_CAPTURED": "biometrics captured", "APPROVED": "approved", "REJECTED": "rejected",
                "ISSUED": "passport issued", "COLLECTED": "collected", "SHIPPED": "shipped", "NO_SHOW": "no-show",
                "EXPIRED": "expired", "CANCELLED": "cancelled"}
CALL_ORDER = [QUEUE_LETTERS[lane] for lane in ("PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH", "REGULAR")]
BILLING_CODE, NIK, APPLICATION_ID = re.compile(r"^\d{15}$"), re.compile(r"^\d{16}$"), re.compile(r"^app_[0-9a-f]{32}$")
MAX_PAGE = 200


class Counter:
    def __init__(self, db, applications: Applications, accounts, clock: Clock):
        self.apps, self.accounts, self.clock = applications, accounts, clock
        self.log_store = CounterLog(db)
        self.account_lookup = AccountLookup(db)
        self.repository = applications.application_repository

    # -- the day's appointments ----------------------------------------------------------------
    def appointments(self, caller, office_id: str, date: str, lane: str = "", page: int = 1,
                     page_size: int = 50) -> dict:
        office = self._office_of(caller, office_id)
        day = date or office.today(self.clock.now()).isoformat()
        if lane and lane not in QUEUE_LETTERS:
            raise invalid("lane must be one of " + ", ".join(QUEUE_LETTERS), "lane")
        if page < 1 or not 1 <= page_size <= MAX_PAGE:
            raise invalid(f"page starts at 1; page_size is 1 to {MAX_PAGE}", "page")
        ids = self.repository.ids_with_appointment_on(office_id, day)
        rows = []
        for app_id in ids:
            header = self.repository.header(app_id)
            latest = self.apps.history(app_id)[-1]
            appointment = latest["state"].get("appointment") or {}
            if appointment.get("date") != day or (lane and appointment.get("lane") != lane):
                continue  # rescheduled to another day, or another lane
            rows.append(self._row(header, latest, appointment))
        rows.sort(key=lambda r: (r["start_time"], r["lane"], r["application_id"]))
        start = (page - 1) * page_size
        return {"office_id": office_id, "date": day, "total": len(rows), "page": page, "page_size": page_size,
                "items": rows[start:start + page_size]}

    def _row(self, header: dict, latest: dict, appointment: dict) -> dict:
        account = self.accounts.get(header["account_id"])
        return {"application_id": header["_id"], "full_name": account["full_name"],
                "nik": account.get("nik", "")[:4] + "********" + account.get("nik", "")[-4:],
                "service_type": header["service_type"], "priority_group": header["priority_group"] or "",
                "lane": appointment.get("lane", ""), "start_time": appointment.get("start_time", ""),
                "date": appointment.get("date", ""), "status": latest["status"],
                "step": COUNTER_STEP.get(latest["status"], latest["status"].lower()),
                "queue_number": latest["state"].get("queue_number", ""),
                "billing_code": (latest["state"].get("billing") or {}).get("billing_code", ""),
                "passport_number": mask_passport(latest["state"].get("passport_number", ""))
                if latest["state"].get("passport_number") else ""}

    # -- finding an application ----------------------------------------------------------------
    def find(self, caller, office_id: str, query: str) -> list[dict]:
        """By application id (also the booking proof's QR code), billing code, NIK, or a part of
        the name; only this office's applications."""
        self._office_of(caller, office_id)
        q = (query or "").strip()
        if len(q) < 3:
            raise invalid("search for an application id, a billing code, a NIK or at least 3 letters of a name", "q")
        if APPLICATION_ID.match(q):
            ids = [q]
        elif BILLING_CODE.match(q):
            ids = self.repository.ids_with_billing_code(office_id, q)
        else:
            if NIK.match(q):
                account_id = self.accounts.account_id_of_nik(q)  # by the NIK's keyed hash
                account_ids = [account_id] if account_id else []
            else:
                account_ids = self.account_lookup.applicant_ids_named_like(re.escape(q), MAX_PAGE)
            ids = self.repository.ids_of_accounts_at(account_ids, office_id) if account_ids else []
        rows = []
        for app_id in dict.fromkeys(ids):
            header = self.repository.header(app_id)
            if header is None or header["office_id"] != office_id:
                continue  # another office's application is not found here
            latest = self.apps.history(app_id)[-1]
            rows.append(self._row(header, latest, latest["state"].get("appointment") or {}))
        return rows

    # -- documents -----------------------------------------------------------------------------
    def read_document(self, caller, application_id: str, document_id: str) -> dict:
        """The bytes of one uploaded document, for staff of the application's office; every read is
        recorded (who, when, which) in the application's document-read log."""
        header = self.apps.get(caller, application_id)  # 404 for staff of another office
        if caller.role not in ("OFFICER", "SUPERVISOR"):
            raise DomainError("not_found", "document-not-found", "no such document")
        doc = next((d for d in self.apps.documents.list(application_id) if d.get("document_id") == document_id), None)
        if doc is None:
            raise DomainError("not_found", "document-not-found", "no such document")
        content = self.apps.documents.content(doc["_id"])
        self.log_store.record_read(application_id, {
            "application_id": application_id, "office_id": header["office_id"], "document_id": document_id,
            "kind": doc["kind"], "reader": caller.account_id, "role": caller.role, "at": self.clock.now()})
        return {"content": content, "content_type": doc["content_type"], "kind": doc["kind"],
                "sha256": doc["sha256"]}

    def document_reads(self, caller, application_id: str) -> list[dict]:
        header = self.apps.get(caller, application_id)
        if caller.role != "SUPERVISOR":
            raise DomainError("forbidden", "forbidden", "the supervisor of the office reads the access log")
        office = self.apps.office(header["office_id"])
        return [{"document_id": r["document_id"], "kind": r["kind"], "reader": r["reader"], "role": r["role"],
                 "at": rfc3339(r["at"], office.tz)}
                for r in self.log_store.reads_of(application_id)]

    # -- the queue -----------------------------------------------------------------------------
    def call_next(self, caller, office_id: str, desk: str = "") -> dict:
        """The next checked-in number nobody called yet today: priority lane first, then by number."""
        office = self._office_of(caller, office_id)
        today = office.today(self.clock.now()).isoformat()
        numbers = sorted(self.apps.queue_numbers.of_day(office_id, today),
                         key=lambda q: (CALL_ORDER.index(q["letter"]) if q["letter"] in CALL_ORDER else 99, q["n"]))
        for q in numbers:
            number = f"{q['letter']}{q['n']:03d}"
            if self.log_store.call(office_id, today, number, q["application_id"], caller.account_id, self.clock.now()):
                return self._log(office_id, today, number, "CALLED", caller, desk)
        raise DomainError("not_found", "queue-empty", "nobody checked in is waiting to be called")

    def recall(self, caller, office_id: str, number: str, desk: str = "") -> dict:
        return self._again(caller, office_id, number, "RECALLED", desk)

    def skip(self, caller, office_id: str, number: str) -> dict:
        return self._again(caller, office_id, number, "SKIPPED", "")

    def _again(self, caller, office_id: str, number: str, action: str, desk: str) -> dict:
        office = self._office_of(caller, office_id)
        today = office.today(self.clock.now()).isoformat()
        if not self.log_store.was_called(office_id, today, number):
            raise DomainError("not_found", "number-not-called", f"{number} has not been called today",
                              params={"number": number})
        return self._log(office_id, today, number, action, caller, desk)

    def called(self, office_id: str, date: str = "") -> dict:
        """Public (the waiting-room display): the day's calls, latest first; numbers only, no names."""
        office = self.apps.office(office_id)
        day = date or office.today(self.clock.now()).isoformat()
        log = self.log_store.day_log(office_id, day)
        return {"office_id": office_id, "date": day, "items": [
            {"number": e["number"], "action": e["action"], "desk": e.get("desk", ""), "at": rfc3339(e["at"], office.tz)}
            for e in reversed(log)]}

    def _log(self, office_id: str, day: str, number: str, action: str, caller, desk: str) -> dict:
        entry = self.log_store.log(office_id, day, number, action, desk[:20], caller.account_id, self.clock.now())
        return {"number": number, "action": action, "desk": entry["desk"],
                "at": rfc3339(entry["at"], self.apps.office(office_id).tz)}

    def _office_of(self, caller, office_id: str):
        if not is_staff_of(caller, office_id):
            raise DomainError("not_found", "office-not-found", f"no office {office_id!r} of yours")
        return self.apps.office(office_id)
