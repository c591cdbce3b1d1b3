"""What the capture session caused, as past-tense records. Field names are those of the integration
events in protos/passport/v1/biometrics.proto, so adapters/protos.py maps each one in one line."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BiometricsCaptured:
    application_id: str
    account_id: str
    office_id: str
    outcome: str  # "CAPTURED"
    fingers_captured: list[int] = field(default_factory=list)
    fingers_missing: list[int] = field(default_factory=list)
    photo_overridden: bool = False


@dataclass(frozen=True)
class InterviewCompleted:
    application_id: str
    account_id: str
    office_id: str
    outcome: str  # APPROVED | REJECTED


Event = BiometricsCaptured | InterviewCompleted
