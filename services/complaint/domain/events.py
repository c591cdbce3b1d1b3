"""What happened to a complaint, as past-tense records. The field names are those of the integration
events in protos/passport/v1/complaint.proto, so adapters/protos.py maps each one in one line."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ComplaintFiled:
    complaint_id: str
    office_id: str
    category: str
    account_id: str
    anonymous: bool
    first_response_due_at: str
    due_at: str
    application_id: str
    tracking_code: str
    contact_channels: list[str] = field(default_factory=list)
    contact_language: str = ""


@dataclass(frozen=True)
class ComplaintResponded:
    complaint_id: str
    office_id: str
    category: str
    account_id: str
    status: str
    response_id: str
    tracking_code: str
    contact_channels: list[str] = field(default_factory=list)
    contact_language: str = ""


@dataclass(frozen=True)
class ComplaintResolved:
    complaint_id: str
    office_id: str
    category: str
    account_id: str
    status: str
    on_time: bool
    tracking_code: str
    contact_channels: list[str] = field(default_factory=list)
    contact_language: str = ""


@dataclass(frozen=True)
class ComplaintAssigned:
    complaint_id: str
    office_id: str
    category: str
    assignee_account_id: str
    seq: int


@dataclass(frozen=True)
class ComplaintLinked:
    complaint_id: str
    office_id: str
    category: str
    account_id: str
    application_id: str
    service_type: str


@dataclass(frozen=True)
class ComplaintEscalated:
    complaint_id: str
    office_id: str
    category: str
    account_id: str
    kind: str
    due_at: str
    assignee_account_id: str
    escalated_at: str
    tracking_code: str


Event = ComplaintFiled | ComplaintResponded | ComplaintResolved | ComplaintAssigned | ComplaintLinked | ComplaintEscalated
