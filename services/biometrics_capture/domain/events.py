"""What the capture session caused, as past-tense records. Field names are those of the integration
events in protos/passport/v1/biometrics.proto, so adapters/protos.py maps each one in one line."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CounterAction:
    """A staff action at the counter that booking keeps in its hash-chained audit log."""
    action: str  # PHOTO_OVERRIDDEN | FINGER_RECORDED_MISSING | MISSING_FINGERS_APPROVED
    actor_id: str
    actor_role: str
    at: str  # RFC 3339
    capture_id: str = ""
    finger: int = 0
    reason: str = ""
    failed_checks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BiometricsCaptured:
    application_id: str
    account_id: str
    office_id: str
    outcome: str  # "CAPTURED"
    fingers_captured: list[int] = field(default_factory=list)
    fingers_missing: list[int] = field(default_factory=list)
    photo_overridden: bool = False
    counter_actions: list[CounterAction] = field(default_factory=list)


@dataclass(frozen=True)
class InterviewCompleted:
    application_id: str
    account_id: str
    office_id: str
    outcome: str  # APPROVED | REJECTED
    officer_id: str = ""
    examination_report: bool = False
    counter_actions: list[CounterAction] = field(default_factory=list)  # after BiometricsCaptured


Event = BiometricsCaptured | InterviewCompleted
