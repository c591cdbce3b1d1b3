"""Capture sessions: photo, fingerprints, interview; their encrypted storage, audit and events.

Storage rules (FerretDB: no transactions, no atomic updates), all inserts:
- `captures`: one record per accepted capture, keyed by a fresh uuid; never updated. A retake is
  a new record; the latest accepted one per photo / finger counts.
- `audit`: one record per capture attempt and per read of biometric data (who, when, what).
- `decisions`: `<application>:biometrics-captured` (inserted once, when the required set is
  complete) and `<application>:interview`, each carrying its event in the outbox. The unique key
  makes "emitted once" hold across retries and replicas.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid

import grpc
from bson.binary import Binary

from passport.v1 import biometrics_pb2, booking_pb2
from servicekit import events, log, outbox
from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.errors import DomainError, invalid

from services.biometrics_capture import imaging, metrics
from services.biometrics_capture.config import Settings
from services.biometrics_capture.crypto import KeyRing

logger = logging.getLogger("biometrics")
TOPIC = events.TOPICS["biometrics-capture"]
MISSING_REASONS = ("AMPUTATED", "INJURED", "BANDAGED", "UNUSABLE")
CAPTURE_STATUSES = ("CHECKED_IN", "BIOMETRICS_CAPTURED")
LOST_OR_DAMAGED = ("REPLACEMENT_LOST", "REPLACEMENT_DAMAGED")


class BookingClient:
    """Asks booking for the application as the caller sees it (staff of another office: 404)."""

    def __init__(self, stub):
        self.stub = stub

    def application(self, caller, application_id: str) -> booking_pb2.Application:
        try:
            return self.stub.GetApplication(booking_pb2.GetApplicationRequest(
                caller=caller, application_id=application_id))
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise DomainError("not_found", "application-not-found", "no such application") from None
            raise DomainError("unavailable", "booking-unavailable",
                              "the booking service cannot be reached; please retry") from None


class Captures:
    def __init__(self, db, booking: BookingClient, keys: KeyRing, settings: Settings, clock: Clock):
        self.db, self.booking, self.keys, self.settings, self.clock = db, booking, keys, settings, clock
        self.captures, self.audit, self.decisions = db["captures"], db["audit"], db["decisions"]

    def ensure_indexes(self) -> None:
        self.captures.create_index([("application_id", 1), ("at", 1)])
        self.audit.create_index([("application_id", 1), ("at", 1)])
        self.captures.create_index("at")  # the retention sweep
        outbox.ensure_indexes(self.db)

    # -- authorisation -----------------------------------------------------------------------
    def _application(self, caller, application_id: str, for_capture: bool = True) -> booking_pb2.Application:
        allowed = ("OFFICER",) if for_capture else ("OFFICER", "SUPERVISOR")
        if caller.role not in allowed:
            raise DomainError("forbidden", "forbidden", "only officers of the office capture biometrics")
        if not application_id:
            raise invalid("application_id is required", "application_id")
        app = self.booking.application(caller, application_id)
        if app.office_id != caller.office_id:  # booking already says 404; never trust one check
            raise DomainError("not_found", "application-not-found", "no such application")
        if for_capture:
            if app.status not in CAPTURE_STATUSES:
                raise DomainError("conflict", "not-checked-in",
                                  f"the application is {app.status}; biometrics are captured after check-in")
            self._checked_in_today(app)
        return app

    def _checked_in_today(self, app) -> None:
        # Fails closed: a check-in time that is missing or unreadable is not "today".
        entries = [t for t in app.timeline if t.status == "CHECKED_IN"]
        try:
            at = parse_rfc3339(entries[-1].at) if entries else None
        except ValueError:
            at = None
        if at is None or self.clock.now().astimezone(at.tzinfo).date() != at.date():
            raise DomainError("conflict", "not-checked-in-today",
                              "the applicant checked in on another day; check in again today")

    def _audit(self, caller, action: str, application_id: str, **what) -> None:
        self.audit.insert_one({"_id": str(uuid.uuid4()), "application_id": application_id, "action": action,
                               "actor_id": caller.account_id, "actor_role": caller.role,
                               "actor_office": caller.office_id, "at": self.clock.now(), **what})

    # -- photo -------------------------------------------------------------------------------
    def capture_photo(self, caller, application_id: str, image: bytes, override_reason: str) -> dict:
        app = self._application(caller, application_id)
        override_reason = (override_reason or "").strip()
        if len(override_reason) > 500:
            raise invalid("override_reason must be at most 500 characters", "override_reason")
        started = time.perf_counter()
        try:
            header, checks = imaging.photo_checks(image, self.settings.photo)
        except DomainError:
            metrics.CAPTURES.labels("photo", "invalid").inc()
            raise
        finally:
            metrics.PROCESSING_SECONDS.labels("photo").observe(time.perf_counter() - started)
        failed = [c.name for c in checks if not c.passed]
        for c in checks:
            metrics.CHECKS.labels("photo", c.name, "pass" if c.passed else "fail").inc()
        if failed and not override_reason:
            metrics.CAPTURES.labels("photo", "rejected").inc()
            self._audit(caller, "photo-rejected", application_id, failed_checks=failed)
            return {"accepted": False, "checks": checks, "capture_id": "", "overridden": False}
        overridden = bool(failed)
        if overridden:
            metrics.OVERRIDES.labels("photo").inc()
        capture_id = self._store(caller, app, "photo", image, header.format, checks,
                                 override_reason=override_reason if overridden else "", failed=failed)
        metrics.CAPTURES.labels("photo", "overridden" if overridden else "accepted").inc()
        self._complete_if_ready(app)
        return {"accepted": True, "checks": checks, "capture_id": capture_id, "overridden": overridden}

    # -- fingerprints ------------------------------------------------------------------------
    def capture_fingerprint(self, caller, application_id: str, finger: int, image: bytes,
                            missing_reason: str) -> dict:
        if not 1 <= finger <= 10:
            raise invalid("finger must be an ISO finger position 1-10", "finger", "unknown-finger-position")
        missing_reason = (missing_reason or "").strip().upper()
        if missing_reason and image:
            raise invalid("send either an image or a missing_reason, not both", "missing_reason")
        if missing_reason and missing_reason not in MISSING_REASONS:
            raise invalid(f"missing_reason must be one of {', '.join(MISSING_REASONS)}", "missing_reason")
        if not missing_reason and not image:
            raise invalid("a fingerprint image (file) or a missing_reason is required", "file")
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
            self._audit(caller, "fingerprint-rejected", application_id, finger=finger,
                        failed_checks=[c.name for c in checks if not c.passed])
            return {"accepted": False, "checks": checks, "capture_id": "", "overridden": False}
        capture_id = self._store(caller, app, "fingerprint", image, "png", checks, finger=finger)
        metrics.CAPTURES.labels("fingerprint", "accepted").inc()
        self._complete_if_ready(app)
        return {"accepted": True, "checks": checks, "capture_id": capture_id, "overridden": False}

    def _store(self, caller, app, kind: str, image: bytes | None, fmt: str, checks, **extra) -> str:
        capture_id = str(uuid.uuid4())
        now = self.clock.now()
        record = {"_id": capture_id, "application_id": app.application_id, "office_id": app.office_id,
                  "kind": kind, "at": now, "officer_id": caller.account_id,
                  "checks": [c.as_dict() for c in checks], **extra}
        if image is not None:
            kid, nonce, sealed = self.keys.encrypt(image, capture_id)
            record.update({"format": fmt, "size": len(image), "sha256": hashlib.sha256(image).hexdigest(),
                           "key_id": kid, "nonce": Binary(nonce), "ciphertext": Binary(sealed)})
        self.captures.insert_one(record)
        self._audit(caller, f"{kind}-captured", app.application_id, capture_id=capture_id,
                    sha256=record.get("sha256", ""), finger=extra.get("finger"),
                    override_reason=extra.get("override_reason", ""), missing_reason=extra.get("missing_reason", ""))
        log.event(logger, "biometric captured", kind=kind, capture_id=capture_id,
                  overridden=bool(extra.get("override_reason")))
        return capture_id

    # -- status and completion ---------------------------------------------------------------
    def _state(self, application_id: str) -> dict:
        photo, fingers, overridden = False, {}, False
        for doc in self.captures.find({"application_id": application_id},
                                      {"kind": 1, "finger": 1, "missing_reason": 1, "override_reason": 1, "at": 1}
                                      ).sort("at", 1):
            if doc["kind"] == "photo":
                photo, overridden = True, bool(doc.get("override_reason"))
            else:
                fingers[doc["finger"]] = doc.get("missing_reason", "")
        required = self.settings.required_fingers
        complete = photo and all(f in fingers for f in required)
        return {"photo": photo, "fingers": sorted(fingers), "overridden": overridden,
                "missing": sorted(f for f, r in fingers.items() if r), "required": list(required),
                "complete": complete}

    def _complete_if_ready(self, app) -> bool:
        """Insert the one BiometricsCaptured decision when the required set is complete."""
        key = f"{app.application_id}:biometrics-captured"
        if self.decisions.find_one({"_id": key}, {"_id": 1}):
            return True
        state = self._state(app.application_id)
        if not state["complete"]:
            return False
        payload = biometrics_pb2.BiometricsCaptured(
            application_id=app.application_id, account_id=app.account_id, office_id=app.office_id,
            outcome="CAPTURED", fingers_captured=[f for f in state["fingers"] if f not in state["missing"]],
            fingers_missing=state["missing"], photo_overridden=state["overridden"])
        envelope = events.new_event("biometrics-capture", app.application_id, payload, self.clock)
        outbox.insert(self.decisions,
            {"_id": key, "application_id": app.application_id, "kind": "biometrics-captured",
             "at": self.clock.now()}, [envelope], TOPIC, self.clock)
        return True

    def status(self, caller, application_id: str) -> biometrics_pb2.CaptureStatus:
        self._application(caller, application_id, for_capture=False)
        state = self._state(application_id)
        interview = self.decisions.find_one({"_id": f"{application_id}:interview"}, {"outcome": 1})
        return biometrics_pb2.CaptureStatus(
            application_id=application_id, photo_accepted=state["photo"],
            fingers_captured=[f for f in state["fingers"] if f not in state["missing"]],
            fingers_missing=state["missing"], interview_outcome=(interview or {}).get("outcome", ""),
            fingers_required=state["required"], complete=state["complete"])

    # -- interview ---------------------------------------------------------------------------
    def record_interview(self, caller, application_id: str, outcome: str, notes: str, bap) -> dict:
        if outcome not in ("APPROVED", "REJECTED"):
            raise invalid("outcome must be APPROVED or REJECTED", "outcome")
        notes = notes or ""
        if len(notes) > 4000:
            raise invalid("notes must be at most 4000 characters", "notes")
        app = self._application(caller, application_id)
        bap_fields = {}
        if bap is not None and any((bap.report_number, bap.police_report_number, bap.circumstances,
                                    bap.force_majeure)):
            if app.service_type not in LOST_OR_DAMAGED:
                raise invalid("the examination report (bap) is only for lost or damaged passports", "bap")
            bap_fields = {"report_number": bap.report_number, "police_report_number": bap.police_report_number,
                          "circumstances": bap.circumstances, "force_majeure": bap.force_majeure}
        key = f"{application_id}:interview"
        existing = self.decisions.find_one({"_id": key}, {"_outbox": 0})
        if existing:
            return self._interview_conflict(existing, outcome, notes)
        if not self._complete_if_ready(app):
            raise DomainError("conflict", "biometrics-incomplete",
                              "the interview needs an accepted photo and every required fingerprint first")
        now = self.clock.now()
        payload = biometrics_pb2.InterviewCompleted(application_id=application_id, account_id=app.account_id,
                                                    office_id=app.office_id, outcome=outcome)
        envelope = events.new_event("biometrics-capture", application_id, payload, self.clock)
        record = {"_id": key, "application_id": application_id, "kind": "interview", "outcome": outcome,
                  "notes": notes, "bap": bap_fields, "officer_id": caller.account_id, "at": now}
        if not outbox.insert(self.decisions, record, [envelope], TOPIC, self.clock):
            return self._interview_conflict(self.decisions.find_one({"_id": key}, {"_outbox": 0}), outcome, notes)
        self._audit(caller, "interview-recorded", application_id, outcome=outcome)
        metrics.INTERVIEWS.labels(outcome).inc()
        return record

    @staticmethod
    def _interview_conflict(existing: dict, outcome: str, notes: str) -> dict:
        if existing["outcome"] == outcome and existing["notes"] == notes:
            return existing  # a retry of the same request
        raise DomainError("conflict", "interview-already-recorded", "the interview of this application is recorded")

    # -- reads of biometric data -------------------------------------------------------------
    def photo(self, caller, application_id: str) -> dict:
        self._application(caller, application_id, for_capture=False)
        doc = next(iter(self.captures.find({"application_id": application_id, "kind": "photo"})
                        .sort("at", -1).limit(1)), None)
        if doc is None:
            raise DomainError("not_found", "photo-not-found", "no photo has been accepted for this application")
        plain = self.keys.decrypt(doc["key_id"], bytes(doc["nonce"]), bytes(doc["ciphertext"]), doc["_id"])
        if hashlib.sha256(plain).hexdigest() != doc["sha256"]:
            raise DomainError("unavailable", "integrity-error", "the stored photo failed its integrity check")
        self._audit(caller, "photo-read", application_id, capture_id=doc["_id"])
        return {"capture_id": doc["_id"], "image": plain, "sha256": doc["sha256"],
                "content_type": "image/png" if doc["format"] == "png" else "image/jpeg"}

    def purge_expired(self) -> int:
        """Retention: delete captures older than the retention period (images and metadata);
        audit records stay. Deleting is safe on FerretDB: nothing else writes these records."""
        cutoff = self.clock.now() - dt.timedelta(days=self.settings.retention_days)
        return self.captures.delete_many({"at": {"$lt": cutoff}}).deleted_count


def interview_proto(record: dict) -> biometrics_pb2.InterviewRecord:
    return biometrics_pb2.InterviewRecord(application_id=record["application_id"], outcome=record["outcome"],
                                          notes=record["notes"], recorded_at=rfc3339(record["at"]),
                                          officer_id=record["officer_id"])
