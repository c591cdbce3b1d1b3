"""The complaint service's use cases: filing, follow-up with tracking code and PIN, responses,
evidence, assignment, the replacement link, SLA escalation and statistics.

Each use case loads the Complaint through the repository, lets the aggregate decide (the rules are
in services/complaint/domain/), and stores the record it returns together with its events. The
answers are the stored records (dicts) or, for views, protobuf messages built by adapters/protos.
Anonymous complaints store no account id, name, NIK, IP or contact, and nothing about them is
logged beyond the complaint id, office and category.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from passport.v1 import complaint_pb2
from servicekit import log, pdf
from servicekit.clock import Clock
from servicekit.due_windows import WindowCursor
from servicekit.errors import DomainError, invalid

from services.complaint import metrics
from services.complaint.adapters import protos
from services.complaint.adapters.repository import ComplaintRepository, complaint_from_doc
from services.complaint.domain import attachments as files
from services.complaint.domain import complaint as rules
from services.complaint.domain.complaint import Complaint, Filing
from services.complaint.domain.sla import CATEGORIES, OfficeCalendar

logger = logging.getLogger("complaint")


class Complaints:
    def __init__(self, repository: ComplaintRepository, calendars: Mapping[str, OfficeCalendar], clock: Clock,
                 peers=None):
        """`peers` answers application(caller, id) -> ApplicationInfo and staff(account_id) ->
        StaffInfo | None (adapters/booking.py over gRPC; a fake in unit tests)."""
        self.repository, self.calendars, self.clock, self.peers = repository, calendars, clock, peers
        self._deadline_windows = WindowCursor(repository.sla_due.window_of)  # the SLA windows not swept yet

    # -- filing ------------------------------------------------------------------------------
    def file(self, caller, category: str, office_id: str, description: str, application_id: str,
             anonymous: bool, contact_email: str = "", contact_phone: str = "",
             contact_language: str = "") -> tuple[dict, str]:
        filing = Filing.from_request(caller, category, office_id, description, application_id, anonymous,
                                     contact_email, contact_phone, contact_language)
        errors = filing.errors(office_known=office_id in self.calendars)
        if filing.application_id and not errors and self.peers is not None:
            try:  # the complainant's own application (staff: one of their office), asked of booking as them
                self.peers.application(caller, filing.application_id)
            except DomainError as err:
                if err.kind != "not_found":
                    raise
                errors.append({"field": "application_id", "message": "no application with this id that you may see"})
        if errors:
            raise rules.reject_filing(errors)
        now = self.clock.now()
        pin, salt = rules.new_pin(), rules.new_salt()
        for _attempt in range(5):  # a tracking code already drawn: draw another
            complaint, caused = Complaint.file(filing, self.calendars[office_id], str(uuid.uuid4()),
                                               rules.new_tracking_code(), pin, salt, now)
            self.repository.queue_deadlines(complaint)
            record = self.repository.add(complaint, caused)
            if record is not None:
                metrics.FILED.labels(office_id, filing.category).inc()
                log.event(logger, "complaint filed", complaint_id=complaint.complaint_id, office_id=office_id,
                          category=filing.category)
                return record, pin
        raise DomainError("unavailable", "tracking-code-exhausted", "could not draw a free tracking code")

    # -- reading -----------------------------------------------------------------------------
    def by_tracking_code(self, caller, tracking_code: str, pin: str) -> Complaint:
        """The complaint for its reporter (code + PIN; wrong PINs limited) or staff of its office."""
        code = rules.normal_tracking_code(tracking_code)
        if not code:
            raise rules.not_found_for_code()
        complaint = self.repository.by_tracking_code(code)
        if complaint is not None and complaint.is_staff(caller):
            return complaint
        now = self.clock.now()
        if self.repository.pin_failures_since(code, now - rules.PIN_FAILURE_WINDOW) >= rules.MAX_PIN_FAILURES:
            raise rules.too_many_pin_attempts()
        if complaint is None or not complaint.pin_matches(pin):
            self.repository.add_pin_failure(code, now)
            metrics.PIN_FAILURES.inc()
            raise rules.not_found_for_code()
        return complaint

    def view(self, complaint: Complaint | dict, history: list[dict] | None = None, with_responses: bool = True,
             staff: bool = False, assignee: str | None = None) -> complaint_pb2.Complaint:
        """The complaint as shown. `staff` adds the assignee and the full history of changes; the
        complainant sees responses, status, attachments and the link only."""
        if isinstance(complaint, dict):
            complaint = complaint_from_doc(complaint)
        cid = complaint.complaint_id
        history = self.repository.history(cid) if history is None else history
        out = protos.complaint_proto(complaint, history, complaint.sla_state(self.clock.now(), history),
                                     with_responses)
        if staff:
            out.assignee_account_id = self.repository.current_assignee(cid) if assignee is None else assignee
        if not with_responses:  # list rows: no attachments, link or history
            return out
        atts = self.repository.attachment_records(cid)
        out.attachments.extend(protos.attachment_proto(a) for a in atts)
        link = self.repository.link_of(cid)
        if link is not None:
            out.link.CopyFrom(protos.link_proto(link))
        if staff:
            out.history.extend(protos.history_entries(
                {"created_at": complaint.created_at}, history, self.repository.assignments_of(cid),
                self.repository.escalations_of(cid), atts, link, self.repository.reads_of(cid)))
        return out

    def attachment_records(self, complaint_id: str, projection=None) -> list[dict]:
        return self.repository.attachment_records(complaint_id, projection)

    def list_for_office(self, caller, office_id: str, status: str, assignee: str = ""
                        ) -> list[complaint_pb2.Complaint]:
        if not rules.is_staff_of(caller, office_id):
            raise DomainError("forbidden", "forbidden", "only staff of this office may list its complaints")
        if status and status not in rules.STATUSES:
            raise invalid(f"status must be one of {', '.join(rules.STATUSES)}", "status")
        found = self.repository.office_complaints(office_id)
        ids = [c.complaint_id for c in found]
        histories, assignees = self.repository.histories(ids), self.repository.current_assignees(ids)
        items = [self.view(c, histories[c.complaint_id], with_responses=False, staff=True,
                           assignee=assignees[c.complaint_id]) for c in found]
        return [i for i in items if (not status or i.status == status)
                and (not assignee or i.assignee_account_id == assignee)]

    def reporter_contact(self, complaint_id: str) -> dict:
        """The contact an anonymous reporter left, for the notification service at send time."""
        contact = self.repository.contact(complaint_id)
        if not contact:
            raise DomainError("not_found", "complaint-not-found", "no contact left for this complaint")
        return contact

    def list_for_account(self, caller, application_id: str = "") -> list[complaint_pb2.Complaint]:
        """The caller's own complaints, newest first (at most 200), as the complainant sees them. Only
        complaints filed with the account: an anonymous one carries no account id, so it never shows."""
        if not caller.account_id or caller.role != "APPLICANT":
            raise DomainError("forbidden", "forbidden", "only an applicant lists their own complaints")
        found = self.repository.account_complaints(caller.account_id, application_id)
        histories = self.repository.histories([c.complaint_id for c in found])
        return [self.view(c, histories[c.complaint_id], with_responses=False) for c in found]

    def _at_office(self, caller, complaint_id: str) -> Complaint:
        complaint = self.repository.get(complaint_id)
        if complaint is None or not complaint.is_staff(caller):
            raise rules.not_found_here()
        return complaint

    # -- responding --------------------------------------------------------------------------
    def respond(self, caller, complaint_id: str, message: str, status: str) -> dict:
        if status not in rules.RESPONSE_STATUSES:
            raise invalid(f"status must be one of {', '.join(rules.RESPONSE_STATUSES)}", "status")
        text = (message or "").strip()
        if not text:
            raise invalid("message is required", "message")
        if len(text) > rules.MESSAGE_MAX:
            raise invalid(f"message is at most {rules.MESSAGE_MAX} characters", "message")
        complaint = self._at_office(caller, complaint_id)
        record, caused = complaint.respond(caller, text, status, self.repository.history(complaint_id),
                                           str(uuid.uuid4()), self.clock.now())
        if not self.repository.add_response(record, caused):
            raise rules.already_closed()  # another closing response won the race
        if record["closing"]:
            metrics.CLOSED.labels(complaint.office_id, "true" if record["on_time"] else "false").inc()
        log.event(logger, "complaint response recorded", complaint_id=complaint_id, status=status)
        return record

    # -- evidence ----------------------------------------------------------------------------
    def add_attachment(self, caller, tracking_code: str, pin: str, kind: str, data: bytes) -> dict:
        """Store one evidence file (JPEG, PNG or PDF by its bytes). The complainant authenticates
        with code + PIN and sends no caller; staff of the office send their caller."""
        kind = rules.attachment_kind(kind)
        complaint = self.by_tracking_code(caller, tracking_code, pin)
        cid = complaint.complaint_id
        complaint.check_attachment(kind, self.repository.history(cid))
        content_type, stored = files.prepare(bytes(data))
        if content_type == files.PDF:
            stored, removed = pdf.normalise(stored)
            if removed:
                log.event(logger, "active content removed from a PDF", complaint_id=cid, removed=",".join(removed))
        now = self.clock.now()
        for seq in range(self.repository.attachment_count(cid) + 1, rules.MAX_ATTACHMENTS + 1):
            # a number taken in parallel: the next one
            record = self.repository.add_attachment(complaint.attachment(caller, seq, kind, content_type, stored, now),
                                                    stored)
            if record is not None:
                log.event(logger, "complaint attachment stored", complaint_id=cid, kind=kind,
                          content_type=content_type, size=len(stored))
                return record
        raise DomainError("conflict", "too-many-attachments",
                          f"a complaint has at most {rules.MAX_ATTACHMENTS} attachments")

    def get_attachment(self, caller, complaint_id: str, tracking_code: str, pin: str,
                       attachment_id: str) -> dict:
        """The attachment with its bytes. Staff of the office by complaint id or tracking code; the
        complainant by tracking code + PIN (no caller; wrong PINs limited as in every follow-up).
        Anyone else: not_found. The read is recorded (history) before the bytes go out."""
        if tracking_code:
            complaint = self.by_tracking_code(caller, tracking_code, pin)
        else:
            complaint = self._at_office(caller, complaint_id)
        record = self.repository.attachment(attachment_id) if complaint.owns_attachment_id(attachment_id) else None
        if record is None:
            raise DomainError("not_found", "attachment-not-found", "no attachment with this id on this complaint")
        now = self.clock.now()
        read = self.repository.append_read(complaint.complaint_id,
                                           lambda n: complaint.attachment_read(caller, attachment_id, n, now))
        metrics.ATTACHMENT_READS.labels(read["role"]).inc()
        log.event(logger, "complaint attachment read", complaint_id=complaint.complaint_id,
                  attachment_id=attachment_id, role=read["role"])
        return record

    # -- assignment --------------------------------------------------------------------------
    def assign(self, caller, complaint_id: str, officer_account_id: str) -> dict:
        """A SUPERVISOR of the office assigns any staff member of the office; an OFFICER only
        themself. Each assignment is a new record; the current assignee is the latest."""
        assignee = (officer_account_id or "").strip()
        if not assignee:
            raise invalid("officer_account_id is required", "officer_account_id")
        if not rules.APPLICATION_ID_RE.match(assignee):
            raise invalid("officer_account_id is not a valid id", "officer_account_id")
        complaint = self._at_office(caller, complaint_id)
        complaint.check_assignable(caller, assignee, self.repository.history(complaint_id))
        if assignee != caller.account_id:
            Complaint.check_assignee_is_staff(self.peers.staff(assignee), complaint.office_id)
        for _attempt in range(5):
            latest = self.repository.latest_assignment(complaint_id)
            if latest and latest["assignee_account_id"] == assignee:
                return latest  # already the assignee: nothing changes
            seq = latest["seq"] + 1 if latest else 1
            record, caused = complaint.assign(caller, assignee, seq, self.clock.now())
            if self.repository.add_assignment(record, caused):
                log.event(logger, "complaint assigned", complaint_id=complaint_id, seq=seq)
                return record
        raise DomainError("busy", "assignment-contended", "the complaint is being assigned concurrently; retry")

    # -- the replacement path ----------------------------------------------------------------
    def link(self, caller, complaint_id: str, application_id: str) -> dict:
        """Link a LOST_PASSPORT / DAMAGED_PASSPORT report to its reporter's replacement
        application (REPLACEMENT_LOST / REPLACEMENT_DAMAGED), verified with booking as the caller."""
        app_id = (application_id or "").strip()
        if not app_id or not rules.APPLICATION_ID_RE.match(app_id):
            raise invalid("application_id is required and must be a valid id", "application_id")
        complaint = self.repository.get(complaint_id)
        owner = complaint is not None and complaint.is_owner(caller)
        if complaint is None or not (owner or complaint.is_staff(caller)):
            raise DomainError("not_found", "complaint-not-found", "no complaint with this id that you may see")
        complaint.replacement_service()  # refuses reports that never link, before asking booking
        existing = self.repository.link_of(complaint_id)
        if existing is not None:
            return _same_link(existing, app_id)
        app = self.peers.application(caller, app_id)
        record, caused = complaint.link(app_id, app, owner, caller.role, self.clock.now())
        if self.repository.add_link(record, caused):
            log.event(logger, "complaint linked to its replacement application", complaint_id=complaint_id,
                      application_id=app_id)
            return record
        existing = self.repository.link_of(complaint_id)
        if existing is not None:
            return _same_link(existing, app_id)
        raise DomainError("conflict", "application-already-linked",
                          "this application is already linked to another report")

    def replacement_report(self, application_id: str) -> complaint_pb2.ReplacementReport:
        """The report linked to a replacement application, for booking (REPLACEMENT lane) and
        payment (the fine of a lost passport, reduced or waived with a police loss report)."""
        link = self.repository.link_of_application(application_id)
        if link is None:
            raise DomainError("not_found", "replacement-report-not-found",
                              "no lost/damaged passport report is linked to this application")
        police = any(a["kind"] == "POLICE_LOSS_REPORT"
                     for a in self.repository.attachment_records(link["complaint_id"], {"kind": 1}))
        return protos.replacement_report_proto(link, police)

    # -- escalation --------------------------------------------------------------------------
    def sweep_due(self) -> int:
        """Escalate the breaches of the deadlines queued in the windows that passed since the last
        call, each window read once by `_id` (an empty one: one lookup). Returns new escalations."""
        now, created = self.clock.now(), 0
        for window in self._deadline_windows.passed(now):
            for complaint_id, kind in self.repository.deadlines_in(window):
                created += self._escalate_if_breached(complaint_id, kind, now)
        return created

    def _escalate_if_breached(self, complaint_id: str, kind: str, now) -> bool:
        if self.repository.is_escalated(complaint_id, kind):
            return False
        c = self.repository.summary(complaint_id)
        if c is None:  # a deadline queued for a complaint whose record was never written
            return False
        history = self.repository.histories([complaint_id])[complaint_id]
        return kind in c.breaches(now, history) and self._escalate(c, kind, now)

    def sweep(self, batch: int = 500) -> int:
        """The safety net under the deadline queue (at start-up, then every COMPLAINT_SWEEP_SCAN_SECONDS):
        escalate every breach not escalated yet, reading every complaint past its first deadline.
        Returns the number of new escalations."""
        now = self.clock.now()
        created = 0
        candidates = self.repository.first_response_overdue(now)
        for start in range(0, len(candidates), batch):
            chunk = candidates[start:start + batch]
            ids = [c.complaint_id for c in chunk]
            done = self.repository.escalated_keys(ids)
            histories = self.repository.histories(ids)
            for c in chunk:
                for kind in c.breaches(now, histories[c.complaint_id]):
                    if f"{c.complaint_id}:{kind}" not in done and self._escalate(c, kind, now):
                        created += 1
        return created

    def _escalate(self, c: Complaint, kind: str, now) -> bool:
        record, caused = c.escalate(kind, self.repository.current_assignee(c.complaint_id), now)
        if self.repository.add_escalation(record, caused):
            metrics.ESCALATIONS.labels(c.office_id, kind).inc()
            log.event(logger, "complaint escalated to the head of office", complaint_id=c.complaint_id,
                      office_id=c.office_id, kind=kind)
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
        return protos.statistics_proto(
            office_id, month, self.repository.filed_by_category(office_id, start, end), CATEGORIES,
            self.repository.closed_by_on_time(office_id, start, end),
            self.repository.escalation_count(office_id, start, end))

    def refresh_metrics(self) -> None:
        """Share resolved on time of the current month per office, for the Prometheus gauge."""
        now = self.clock.now()
        for office_id, cal in self.calendars.items():
            month = now.astimezone(cal.tz).strftime("%Y-%m")
            stats = self.statistics(office_id, month)
            metrics.ON_TIME_SHARE.labels(office_id).set(stats.share_resolved_on_time)


def _same_link(existing: dict, application_id: str) -> dict:
    if existing["application_id"] == application_id:
        return existing  # the same link again: nothing changes
    raise DomainError("conflict", "complaint-already-linked",
                      "this report is already linked to another application")
