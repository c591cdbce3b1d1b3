"""The Capture aggregate: one application's session at the counter (photo, fingerprints, interview)
and the rules of who may capture what, when it is complete, and what that causes. Pure rules: no
store, no gRPC, no encryption (the adapters do those).

A capture is stored as one immutable record per accepted photo or finger (a retake is a new record,
the latest counts); the session is rebuilt from those records' summaries (CaptureEntry).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from servicekit.errors import DomainError, invalid

from services.biometrics_capture.domain import events
from services.biometrics_capture.domain.imaging import Check

MISSING_REASONS = ("AMPUTATED", "INJURED", "BANDAGED", "UNUSABLE")
CAPTURE_STATUSES = ("CHECKED_IN", "BIOMETRICS_CAPTURED")
LOST_OR_DAMAGED = ("REPLACEMENT_LOST", "REPLACEMENT_DAMAGED")
INTERVIEW_OUTCOMES = ("APPROVED", "REJECTED")
OVERRIDE_REASON_MAX = 500
APPROVAL_REASON_MAX = 500
ACCESS_LOG_DEFAULT, ACCESS_LOG_MAX = 100, 500
NOTES_MAX = 4000


@dataclass(frozen=True)
class Application:
    """Booking's application as this service needs it (booking owns it; asked as the caller)."""
    application_id: str
    account_id: str
    office_id: str
    status: str
    service_type: str
    checked_in_at: dt.datetime | None  # the latest check-in; None when missing or unreadable


@dataclass(frozen=True)
class ExaminationReport:
    """The BAP (Berita Acara Pemeriksaan) of a lost or damaged passport."""
    report_number: str = ""
    police_report_number: str = ""
    circumstances: str = ""
    force_majeure: bool = False

    def is_empty(self) -> bool:
        return not any((self.report_number, self.police_report_number, self.circumstances, self.force_majeure))

    def as_dict(self) -> dict:
        return {"report_number": self.report_number, "police_report_number": self.police_report_number,
                "circumstances": self.circumstances, "force_majeure": self.force_majeure}


@dataclass(frozen=True)
class CaptureEntry:
    """What one accepted capture record says about the session."""
    kind: str  # photo | fingerprint
    at: dt.datetime
    finger: int = 0
    missing_reason: str = ""
    override_reason: str = ""
    capture_id: str = ""
    officer_id: str = ""
    failed_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureStatus:
    application_id: str
    photo_accepted: bool
    fingers_captured: list[int]  # with an accepted image (never one recorded missing)
    fingers_missing: list[int]
    fingers_required: list[int]
    complete: bool
    interview_outcome: str = ""
    missing_fingers_approval_required: bool = False
    missing_fingers_approved_by: str = ""


@dataclass(frozen=True)
class AccessEntry:
    """One line of the access log: who captured or read what, when (never image data)."""
    at: dt.datetime
    application_id: str
    action: str
    actor_id: str
    actor_role: str
    capture_id: str = ""
    finger: int = 0
    reason: str = ""
    outcome: str = ""


# -- who may capture, and when ---------------------------------------------------------------
def check_role(caller, for_capture: bool) -> None:
    """Officers capture; officers and supervisors read."""
    allowed = ("OFFICER",) if for_capture else ("OFFICER", "SUPERVISOR")
    if caller.role not in allowed:
        raise DomainError("forbidden", "forbidden", "only officers of the office capture biometrics")


def require_application_id(application_id: str) -> None:
    if not application_id:
        raise invalid("application_id is required", "application_id")


def check_same_office(application: Application, caller) -> None:
    if application.office_id != caller.office_id:  # booking already says 404; never trust one check
        raise DomainError("not_found", "application-not-found", "no such application")


def check_capturable(application: Application, now: dt.datetime) -> None:
    """Captured only after check-in, and on the day of it (fails closed without a readable time)."""
    if application.status not in CAPTURE_STATUSES:
        raise DomainError("conflict", "not-checked-in",
                          f"the application is {application.status}; biometrics are captured after check-in")
    at = application.checked_in_at
    if at is None or now.astimezone(at.tzinfo).date() != at.date():
        raise DomainError("conflict", "not-checked-in-today",
                          "the applicant checked in on another day; check in again today")


def check_supervisor(caller) -> None:
    if caller.role != "SUPERVISOR":
        raise DomainError("forbidden", "forbidden", "only a supervisor of the office approves this")


def check_access_log_reader(caller, office_id: str) -> None:
    """Supervisors read the access log of their own office only."""
    if caller.role != "SUPERVISOR" or not caller.office_id or caller.office_id != office_id:
        raise DomainError("forbidden", "forbidden", "only a supervisor of this office reads its biometrics access log")


def access_log_limit(limit: int) -> int:
    if not limit:
        return ACCESS_LOG_DEFAULT
    if not 1 <= limit <= ACCESS_LOG_MAX:
        raise invalid(f"limit must be 1-{ACCESS_LOG_MAX}", "limit")
    return limit


# -- input rules -------------------------------------------------------------------------------
def override_reason_of(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > OVERRIDE_REASON_MAX:
        raise invalid(f"override_reason must be at most {OVERRIDE_REASON_MAX} characters", "override_reason")
    return reason


def fingerprint_input(finger: int, has_image: bool, missing_reason: str) -> str:
    """The normalised missing reason ("" when an image is sent); refuses bad combinations."""
    if not 1 <= finger <= 10:
        raise invalid("finger must be an ISO finger position 1-10", "finger", "unknown-finger-position")
    missing_reason = (missing_reason or "").strip().upper()
    if missing_reason and has_image:
        raise invalid("send either an image or a missing_reason, not both", "missing_reason")
    if missing_reason and missing_reason not in MISSING_REASONS:
        raise invalid(f"missing_reason must be one of {', '.join(MISSING_REASONS)}", "missing_reason")
    if not missing_reason and not has_image:
        raise invalid("a fingerprint image (file) or a missing_reason is required", "file")
    return missing_reason


def photo_decision(checks: list[Check], override_reason: str) -> tuple[str, list[str]]:
    """(rejected | accepted | overridden, failed check names): failing checks are advisory, an
    officer's reason accepts the photo anyway (detectors fail more often on some skin tones)."""
    failed = [c.name for c in checks if not c.passed]
    if failed and not override_reason:
        return "rejected", failed
    return ("overridden" if failed else "accepted"), failed


def approval_reason_of(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise invalid("reason is required: why can no finger be scanned?", "reason")
    if len(reason) > APPROVAL_REASON_MAX:
        raise invalid(f"reason must be at most {APPROVAL_REASON_MAX} characters", "reason")
    return reason


def interview_input(outcome: str, notes: str) -> str:
    if outcome not in INTERVIEW_OUTCOMES:
        raise invalid("outcome must be APPROVED or REJECTED", "outcome")
    notes = notes or ""
    if len(notes) > NOTES_MAX:
        raise invalid(f"notes must be at most {NOTES_MAX} characters", "notes")
    return notes


def same_interview(existing: dict, outcome: str, notes: str) -> dict:
    """A retry of the recorded interview answers it again; anything else is a conflict."""
    if existing["outcome"] == outcome and existing["notes"] == notes:
        return existing
    raise DomainError("conflict", "interview-already-recorded", "the interview of this application is recorded")


def examination_report(application: Application, bap) -> dict:
    """The BAP's fields to keep (lost or damaged passports only); {} when none was given.
    `bap` is anything with the ExaminationReport fields, or None."""
    if bap is None:
        return {}
    report = ExaminationReport(bap.report_number, bap.police_report_number, bap.circumstances, bap.force_majeure)
    if report.is_empty():
        return {}
    if application.service_type not in LOST_OR_DAMAGED:
        raise invalid("the examination report (bap) is only for lost or damaged passports", "bap")
    return report.as_dict()


def require_bap_to_approve(application: Application, outcome: str, bap_fields: dict) -> None:
    """Approving a lost or damaged passport's replacement needs the BAP with its record of what
    happened (`circumstances`): the officer's examination is what the approval rests on."""
    if (outcome == "APPROVED" and application.service_type in LOST_OR_DAMAGED
            and not (bap_fields.get("circumstances") or "").strip()):
        raise DomainError("invalid", "bap-required",
                          f"approving a {application.service_type} application needs the examination report "
                          "(bap) with its circumstances",
                          [{"field": "bap", "message": "bap.circumstances is required to approve a lost or "
                                                      "damaged passport replacement"}])


# -- the aggregate -----------------------------------------------------------------------------
@dataclass
class Capture:
    application: Application
    required_fingers: tuple[int, ...]
    entries: list[CaptureEntry] = field(default_factory=list)  # accepted captures, oldest first
    missing_fingers_approved_by: str = ""  # the supervisor who approved "no finger at all"
    missing_fingers_approval: dict = field(default_factory=dict)  # its record: reason, at

    def _latest(self) -> tuple[bool, dict[int, str], bool]:
        """(photo accepted, finger -> missing reason or "", latest photo overridden)."""
        photo, fingers, overridden = False, {}, False
        for entry in sorted(self.entries, key=lambda e: e.at):
            if entry.kind == "photo":
                photo, overridden = True, bool(entry.override_reason)
            else:
                fingers[entry.finger] = entry.missing_reason
        return photo, fingers, overridden

    def status(self, interview_outcome: str = "") -> CaptureStatus:
        photo, fingers, _overridden = self._latest()
        missing = sorted(f for f, reason in fingers.items() if reason)
        return CaptureStatus(
            application_id=self.application.application_id, photo_accepted=photo,
            fingers_captured=[f for f in sorted(fingers) if f not in missing], fingers_missing=missing,
            fingers_required=list(self.required_fingers), complete=self.complete,
            interview_outcome=interview_outcome,
            missing_fingers_approval_required=self.missing_fingers_approval_required,
            missing_fingers_approved_by=self.missing_fingers_approved_by)

    @property
    def all_fingers_missing(self) -> bool:
        """Every required finger recorded missing and no finger scanned at all: the passport would
        carry no fingerprint, so a supervisor must approve it."""
        _photo, fingers, _overridden = self._latest()
        return (bool(self.required_fingers) and all(fingers.get(f) for f in self.required_fingers)
                and all(fingers.values()))

    @property
    def missing_fingers_approval_required(self) -> bool:
        return self.all_fingers_missing and not self.missing_fingers_approved_by

    @property
    def complete(self) -> bool:
        """An accepted photo and every required finger captured or recorded missing (all of them
        missing only with a supervisor's approval)."""
        photo, fingers, _overridden = self._latest()
        return (photo and all(f in fingers for f in self.required_fingers)
                and not self.missing_fingers_approval_required)

    def approve_missing_fingers(self, caller, reason: str, now: dt.datetime) -> dict:
        """The supervisor's approval record; only when every finger is recorded missing."""
        check_supervisor(caller)
        if not self.all_fingers_missing:
            raise DomainError("conflict", "no-missing-fingers-to-approve",
                              "only a capture with every required finger recorded missing needs this approval")
        app = self.application
        return {"_id": missing_fingers_key(app.application_id), "application_id": app.application_id,
                "kind": "missing-fingers-approved", "supervisor_id": caller.account_id, "reason": reason,
                "fingers_missing": sorted(self._latest()[1]), "at": now}

    def counter_actions(self, after: dt.datetime | None = None) -> list[events.CounterAction]:
        """Overrides, fingers recorded missing and the missing-fingers approval, oldest first;
        with `after`, only those recorded later (the ones the last event did not carry yet)."""
        actions = []
        for entry in sorted(self.entries, key=lambda e: e.at):
            if after is not None and entry.at <= after:
                continue
            if entry.kind == "photo" and entry.override_reason:
                actions.append(events.CounterAction(
                    "PHOTO_OVERRIDDEN", entry.officer_id, "OFFICER", _instant(entry.at), entry.capture_id,
                    reason=entry.override_reason, failed_checks=list(entry.failed_checks)))
            elif entry.kind == "fingerprint" and entry.missing_reason:
                actions.append(events.CounterAction(
                    "FINGER_RECORDED_MISSING", entry.officer_id, "OFFICER", _instant(entry.at), entry.capture_id,
                    finger=entry.finger, reason=entry.missing_reason))
        approval = self.missing_fingers_approval
        if self.missing_fingers_approved_by and approval.get("at") is not None and (
                after is None or approval["at"] > after):
            actions.append(events.CounterAction("MISSING_FINGERS_APPROVED", self.missing_fingers_approved_by,
                                                "SUPERVISOR", _instant(approval["at"]),
                                                reason=approval.get("reason", "")))
        return sorted(actions, key=lambda a: a.at)

    def captured_event(self) -> events.BiometricsCaptured:
        """BiometricsCaptured, once the set is complete (the repository makes it happen once)."""
        _photo, fingers, overridden = self._latest()
        missing = sorted(f for f, reason in fingers.items() if reason)
        app = self.application
        return events.BiometricsCaptured(
            application_id=app.application_id, account_id=app.account_id, office_id=app.office_id,
            outcome="CAPTURED", fingers_captured=[f for f in sorted(fingers) if f not in missing],
            fingers_missing=missing, photo_overridden=overridden, counter_actions=self.counter_actions())

    def interview(self, caller, outcome: str, notes: str, bap_fields: dict, now: dt.datetime,
                  captured_at: dt.datetime | None = None) -> tuple[dict, list[events.Event]]:
        """The interview record and InterviewCompleted; only after the capture is complete."""
        if self.missing_fingers_approval_required:
            raise DomainError("conflict", "missing-fingers-need-approval",
                              "every required finger is recorded missing; a supervisor of the office must "
                              "approve that before the interview")
        if not self.complete:
            raise DomainError("conflict", "biometrics-incomplete",
                              "the interview needs an accepted photo and every required fingerprint first")
        app = self.application
        record = {"_id": interview_key(app.application_id), "application_id": app.application_id,
                  "kind": "interview", "outcome": outcome, "notes": notes, "bap": bap_fields,
                  "officer_id": caller.account_id, "at": now}
        return record, [events.InterviewCompleted(
            application_id=app.application_id, account_id=app.account_id, office_id=app.office_id,
            outcome=outcome, officer_id=caller.account_id, examination_report=bool(bap_fields),
            counter_actions=self.counter_actions(after=captured_at) if captured_at is not None else [])]


def _instant(at: dt.datetime) -> str:
    """RFC 3339 of a stored time (the store may hand back naive UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def captured_key(application_id: str) -> str:
    return f"{application_id}:biometrics-captured"


def interview_key(application_id: str) -> str:
    return f"{application_id}:interview"


def missing_fingers_key(application_id: str) -> str:
    return f"{application_id}:missing-fingers-approved"
