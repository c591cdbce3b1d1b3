"""The biometrics-capture store: the only module that reads or writes its collections.

Storage rules (FerretDB: no transactions, no atomic updates), all inserts:
- `captures`: one record per accepted capture, keyed by a fresh uuid; never updated (but for the
  key rotation re-encrypting its image, `rotate_keys`). A retake is a new record; the latest
  accepted one per photo / finger counts.
- `audit`: one record per capture attempt and per read of biometric data (who, when, what).
- `decisions`: `<application>:biometrics-captured` (inserted once, when the required set is
  complete) and `<application>:interview`, each carrying its event in the outbox, and
  `<application>:missing-fingers-approved` (a supervisor's approval, no event). The unique key
  makes "emitted once" hold across retries and replicas.
"""
from __future__ import annotations

import datetime as dt
import uuid

from servicekit import events as envelopes
from servicekit import outbox
from servicekit.clock import Clock
from servicekit.crypto import KeyRing, RotationReport, rotate
from servicekit.mongo import insert_unique

from services.biometrics_capture.adapters.protos import event_proto
from services.biometrics_capture.domain.capture import AccessEntry, CaptureEntry
from services.biometrics_capture.domain.events import Event

TOPIC = envelopes.TOPICS["biometrics-capture"]


class CaptureRepository:
    def __init__(self, db, clock: Clock):
        self.db, self.clock = db, clock
        self.captures, self.audit_log, self.decisions = db["captures"], db["audit"], db["decisions"]

    def ensure_indexes(self) -> None:
        self.captures.create_index([("application_id", 1), ("at", 1)])
        self.audit_log.create_index([("application_id", 1), ("at", 1)])
        self.audit_log.create_index([("actor_office", 1), ("at", -1)])  # a supervisor's access log
        self.captures.create_index("at")  # the retention sweep
        outbox.ensure_indexes(self.db)

    # -- captures ------------------------------------------------------------------------------
    def add_capture(self, record: dict) -> None:
        self.captures.insert_one(record)

    def entries(self, application_id: str) -> list[CaptureEntry]:
        """What the accepted captures of an application say, oldest first (no image data read)."""
        docs = self.captures.find({"application_id": application_id},
                                  {"kind": 1, "finger": 1, "missing_reason": 1, "override_reason": 1, "at": 1,
                                   "officer_id": 1, "failed": 1}).sort("at", 1)
        return [CaptureEntry(kind=d["kind"], at=d["at"], finger=d.get("finger") or 0,
                             missing_reason=d.get("missing_reason", ""), override_reason=d.get("override_reason", ""),
                             capture_id=d["_id"], officer_id=d.get("officer_id", ""),
                             failed_checks=tuple(d.get("failed") or ()))
                for d in docs]

    def latest_photo(self, application_id: str) -> dict | None:
        return next(iter(self.captures.find({"application_id": application_id, "kind": "photo"})
                         .sort("at", -1).limit(1)), None)

    def rotate_keys(self, keys: KeyRing) -> RotationReport:
        """Every image under the ring's current key (servicekit/crypto.py rotate: idempotent, resumable)."""
        return rotate(self.captures, keys, batch=50)

    def delete_captures_before(self, cutoff: dt.datetime) -> int:
        """Retention: deleting is safe on FerretDB, nothing else writes these records."""
        return self.captures.delete_many({"at": {"$lt": cutoff}}).deleted_count

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, caller, action: str, application_id: str, **what) -> None:
        self.audit_log.insert_one({"_id": str(uuid.uuid4()), "application_id": application_id, "action": action,
                                   "actor_id": caller.account_id, "actor_role": caller.role,
                                   "actor_office": caller.office_id, "at": self.clock.now(), **what})

    def access_log(self, office_id: str, application_id: str, limit: int) -> list[AccessEntry]:
        """The office's audit records, newest first. Every audited action was taken by staff of the
        application's office (checked before it), so the actor's office is the application's."""
        query = {"actor_office": office_id}
        if application_id:
            query["application_id"] = application_id
        docs = self.audit_log.find(query).sort([("at", -1), ("_id", 1)]).limit(limit)
        return [AccessEntry(at=d["at"], application_id=d["application_id"], action=d["action"],
                            actor_id=d.get("actor_id", ""), actor_role=d.get("actor_role", ""),
                            capture_id=d.get("capture_id", ""), finger=d.get("finger") or 0,
                            reason=d.get("override_reason") or d.get("missing_reason") or d.get("reason") or "",
                            outcome=d.get("outcome", "")) for d in docs]

    # -- decisions -----------------------------------------------------------------------------
    def has_decision(self, key: str) -> bool:
        return self.decisions.find_one({"_id": key}, {"_id": 1}) is not None

    def decision(self, key: str) -> dict | None:
        return self.decisions.find_one({"_id": key}, {"_outbox": 0})

    def interview_outcome(self, key: str) -> str:
        return (self.decisions.find_one({"_id": key}, {"outcome": 1}) or {}).get("outcome", "")

    def add_approval(self, record: dict) -> bool:
        """A decision without events (the supervisor's approval); False when already there."""
        return insert_unique(self.decisions, record)

    def add_decision(self, record: dict, caused: list[Event]) -> bool:
        """Insert the decision with its events; False when it was already taken (once only)."""
        envelope = [envelopes.new_event("biometrics-capture", record["application_id"], event_proto(e), self.clock)
                    for e in caused]
        return outbox.insert(self.decisions, record, envelope, TOPIC, self.clock)
