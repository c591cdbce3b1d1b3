"""The biometrics-capture use cases: photo, fingerprints, interview, status, photo read, retention.

Each use case asks booking for the application (as the caller), rebuilds the Capture aggregate from
the repository, lets the domain decide (services/biometrics_capture/domain/), encrypts images
(servicekit/crypto.py, the key ring shared with booking) and stores records, audit entries and events through the repository.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid

from servicekit import log
from servicekit.clock import Clock
from servicekit.crypto import KeyRing
from servicekit.errors import DomainError

from services.biometrics_capture import metrics
from services.biometrics_capture.adapters.repository import CaptureRepository
from services.biometrics_capture.config import Settings
from services.biometrics_capture.domain import capture as rules
from services.biometrics_capture.domain import imaging
from services.biometrics_capture.domain.capture import AccessEntry, Application, Capture, CaptureStatus

logger = logging.getLogger("biometrics")


class Captures:
    def __init__(self, repository: CaptureRepository, booking, keys: KeyRing, settings: Settings, clock: Clock):
        """`booking` answers application(caller, id) -> Application (adapters/booking.py over gRPC)."""
        self.repository, self.booking, self.keys, self.settings, self.clock = \
            repository, booking, keys, settings, clock

    # -- authorisation -----------------------------------------------------------------------
    def _application(self, caller, application_id: str, for_capture: bool = True) -> Application:
        rules.check_role(caller, for_capture)
        rules.require_application_id(application_id)
        app = self.booking.application(caller, application_id)
        rules.check_same_office(app, caller)
        if for_capture:
            rules.check_capturable(app, self.clock.now())
        return app

    def _capture(self, app: Application) -> Capture:
        approval = self.repository.decision(rules.missing_fingers_key(app.application_id))
        return Capture(app, self.settings.required_fingers, self.repository.entries(app.application_id),
                       missing_fingers_approved_by=(approval or {}).get("supervisor_id", ""),
                       missing_fingers_approval={k: (approval or {}).get(k) for k in ("reason", "at")})

    # -- photo -------------------------------------------------------------------------------
    def capture_photo(self, caller, application_id: str, image: bytes, override_reason: str) -> dict:
        app = self._application(caller, application_id)
        override_reason = rules.override_reason_of(override_reason)
        started = time.perf_counter()
        try:
            header, checks = imaging.photo_checks(image, self.settings.photo)
        except DomainError:
            metrics.CAPTURES.labels("photo", "invalid").inc()
            raise
        finally:
            metrics.PROCESSING_SECONDS.labels("photo").observe(time.perf_counter() - started)
        for c in checks:
            metrics.CHECKS.labels("photo", c.name, "pass" if c.passed else "fail").inc()
        decision, failed = rules.photo_decision(checks, override_reason)
        if decision == "rejected":
            metrics.CAPTURES.labels("photo", "rejected").inc()
            self.repository.audit(caller, "photo-rejected", application_id, failed_checks=failed)
            return {"accepted": False, "checks": checks, "capture_id": "", "overridden": False}
        overridden = decision == "overridden"
        if overridden:
            metrics.OVERRIDES.labels("photo").inc()
        image = imaging.strip_metadata(image, header.format)  # no GPS or device data is kept
        capture_id = self._store(caller, app, "photo", image, header.format, checks,
                                 override_reason=override_reason if overridden else "", failed=failed)
        metrics.CAPTURES.labels("photo", decision).inc()
        self._complete_if_ready(app)
        return {"accepted": True, "checks": checks, "capture_id": capture_id, "overridden": overridden}

    # -- fingerprints ------------------------------------------------------------------------
    def capture_fingerprint(self, caller, application_id: str, finger: int, image: bytes,
                            missing_reason: str) -> dict:
        missing_reason = rules.fingerprint_input(finger, bool(image), missing_reason)
        app = self._application(caller, application_id)
        if missing_reason:
            capture_id = self._store(caller, app, "fingerprint", None, "", [], finger=finger,
                                     missing_reason=missing_reason)
            metrics.CAPTURES.labels("fingerprint", "missing").inc()
            self._complete_if_ready(app)
            return {"accepted": True, "checks": [], "capture_id": capture_id, "overridden": False}
        started = time.perf_counter()
        try:
            _header, checks = imaging.fingerprint_checks(image, self.settings.fingerprint)
        except DomainError:
            metrics.CAPTURES.labels("fingerprint", "invalid").inc()
            raise
        finally:
            metrics.PROCESSING_SECONDS.labels("fingerprint").observe(time.perf_counter() - started)
        for c in checks:
            metrics.CHECKS.labels("fingerprint", c.name, "pass" if c.passed else "fail").inc()
        if not all(c.passed for c in checks):
            metrics.CAPTURES.labels("fingerprint", "rejected").inc()
            self.repository.audit(caller, "fingerprint-rejected", application_id, finger=finger,
                                  failed_checks=[c.name for c in checks if not c.passed])
            return {"accepted": False, "checks": checks, "capture_id": "", "overridden": False}
        capture_id = self._store(caller, app, "fingerprint", imaging.strip_metadata(image, "png"), "png", checks,
                                 finger=finger)
        metrics.CAPTURES.labels("fingerprint", "accepted").inc()
        self._complete_if_ready(app)
        return {"accepted": True, "checks": checks, "capture_id": capture_id, "overridden": False}

    def _store(self, caller, app: Application, kind: str, image: bytes | None, fmt: str, checks, **extra) -> str:
        """One accepted capture: the record (image encrypted, bound to the record id) and its audit."""
        capture_id = str(uuid.uuid4())
        record = {"_id": capture_id, "application_id": app.application_id, "office_id": app.office_id,
                  "kind": kind, "at": self.clock.now(), "officer_id": caller.account_id,
                  "checks": [c.as_dict() for c in checks], **extra}
        if image is not None:
            record.update({"format": fmt, "size": len(image), "sha256": hashlib.sha256(image).hexdigest(),
                           **self.keys.seal(image, capture_id)})
        self.repository.add_capture(record)
        self.repository.audit(caller, f"{kind}-captured", app.application_id, capture_id=capture_id,
                              sha256=record.get("sha256", ""), finger=extra.get("finger"),
                              override_reason=extra.get("override_reason", ""),
                              missing_reason=extra.get("missing_reason", ""))
        log.event(logger, "biometric captured", kind=kind, capture_id=capture_id,
                  overridden=bool(extra.get("override_reason")))
        return capture_id

    # -- status and completion ---------------------------------------------------------------
    def _complete_if_ready(self, app: Application) -> bool:
        """Insert the one BiometricsCaptured decision when the required set is complete."""
        key = rules.captured_key(app.application_id)
        if self.repository.has_decision(key):
            return True
        capture = self._capture(app)
        if not capture.complete:
            return False
        self.repository.add_decision({"_id": key, "application_id": app.application_id, "kind": "biometrics-captured",
                                      "at": self.clock.now()}, [capture.captured_event()])
        return True

    def status(self, caller, application_id: str) -> CaptureStatus:
        app = self._application(caller, application_id, for_capture=False)
        return self._capture(app).status(self.repository.interview_outcome(rules.interview_key(application_id)))

    # -- interview ---------------------------------------------------------------------------
    def record_interview(self, caller, application_id: str, outcome: str, notes: str, bap) -> dict:
        """`bap`: the examination report (anything with the ExaminationReport fields) or None."""
        notes = rules.interview_input(outcome, notes)
        app = self._application(caller, application_id)
        bap_fields = rules.examination_report(app, bap)
        rules.require_bap_to_approve(app, outcome, bap_fields)
        key = rules.interview_key(application_id)
        existing = self.repository.decision(key)
        if existing:
            return rules.same_interview(existing, outcome, notes)
        self._complete_if_ready(app)
        captured = self.repository.decision(rules.captured_key(application_id))
        record, caused = self._capture(app).interview(caller, outcome, notes, bap_fields, self.clock.now(),
                                                      captured_at=(captured or {}).get("at"))
        if not self.repository.add_decision(record, caused):
            return rules.same_interview(self.repository.decision(key), outcome, notes)
        self.repository.audit(caller, "interview-recorded", application_id, outcome=outcome)
        metrics.INTERVIEWS.labels(outcome).inc()
        return record

    # -- supervision -------------------------------------------------------------------------
    def approve_missing_fingers(self, caller, application_id: str, reason: str) -> CaptureStatus:
        """A supervisor of the office approves a capture with every required finger recorded
        missing (same day, at the counter); the capture then completes. Approving again answers
        the status unchanged."""
        rules.check_supervisor(caller)
        reason = rules.approval_reason_of(reason)
        rules.require_application_id(application_id)
        app = self.booking.application(caller, application_id)
        rules.check_same_office(app, caller)
        rules.check_capturable(app, self.clock.now())
        capture = self._capture(app)
        if not capture.missing_fingers_approved_by:
            if self.repository.add_approval(capture.approve_missing_fingers(caller, reason, self.clock.now())):
                self.repository.audit(caller, "missing-fingers-approved", application_id, reason=reason)
                log.event(logger, "missing fingers approved by a supervisor", application_id=application_id)
            self._complete_if_ready(app)
        return self.status(caller, application_id)

    def access_log(self, caller, office_id: str, application_id: str = "", limit: int = 0) -> list[AccessEntry]:
        """Who captured and read biometric data at the office, newest first (supervisors only)."""
        rules.check_access_log_reader(caller, office_id)
        return self.repository.access_log(office_id, application_id, rules.access_log_limit(limit))

    # -- reads of biometric data -------------------------------------------------------------
    def photo(self, caller, application_id: str) -> dict:
        self._application(caller, application_id, for_capture=False)
        doc = self.repository.latest_photo(application_id)
        if doc is None:
            raise DomainError("not_found", "photo-not-found", "no photo has been accepted for this application")
        plain = self.keys.open(doc, doc["_id"])
        if hashlib.sha256(plain).hexdigest() != doc["sha256"]:
            raise DomainError("unavailable", "integrity-error", "the stored photo failed its integrity check")
        self.repository.audit(caller, "photo-read", application_id, capture_id=doc["_id"])
        return {"capture_id": doc["_id"], "image": plain, "sha256": doc["sha256"],
                "content_type": "image/png" if doc["format"] == "png" else "image/jpeg"}

    def purge_expired(self) -> int:
        """Retention: delete captures older than the retention period (images and metadata);
        audit records stay."""
        return self.repository.delete_captures_before(self.clock.now() - dt.timedelta(days=self.settings.retention_days))
