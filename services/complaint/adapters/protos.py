"""Domain -> protobuf, one mapping per record: the complaint as shown, its responses, attachments,
link, assignments and history, and the integration events (whose fields the domain events share)."""
from __future__ import annotations

import dataclasses

from passport.v1 import complaint_pb2
from servicekit.clock import rfc3339

from services.complaint.domain.complaint import Complaint, derive_status
from services.complaint.domain.events import Event


def event_proto(event: Event):
    """The integration event of a domain event: same name, same fields."""
    return getattr(complaint_pb2, type(event).__name__)(**dataclasses.asdict(event))


def filed_proto(record: dict, pin: str) -> complaint_pb2.FiledComplaint:
    return complaint_pb2.FiledComplaint(
        complaint_id=record["_id"], tracking_code=record["tracking_code"], access_pin=pin,
        created_at=rfc3339(record["created_at"]), due_at=rfc3339(record["resolution_due"]))


def response_proto(r: dict) -> complaint_pb2.ComplaintResponse:
    return complaint_pb2.ComplaintResponse(
        response_id=r["_id"], complaint_id=r["complaint_id"], message=r.get("message", ""),
        status=r["status"], at=rfc3339(r["at"]), role=r.get("role", ""))


def attachment_proto(a: dict) -> complaint_pb2.Attachment:
    return complaint_pb2.Attachment(
        attachment_id=a["_id"], kind=a["kind"], content_type=a["content_type"], size=a["size"],
        sha256=a["sha256"], uploaded_at=rfc3339(a["uploaded_at"]), uploaded_by=a.get("uploaded_by", ""))


def link_proto(link: dict) -> complaint_pb2.ComplaintLink:
    return complaint_pb2.ComplaintLink(complaint_id=link["complaint_id"], application_id=link["application_id"],
                                       service_type=link["service_type"], linked_at=rfc3339(link["linked_at"]))


def assignment_proto(a: dict) -> complaint_pb2.Assignment:
    return complaint_pb2.Assignment(
        assignment_id=a["_id"], complaint_id=a["complaint_id"], assignee_account_id=a["assignee_account_id"],
        assigned_by_role=a.get("assigned_by_role", ""), at=rfc3339(a["at"]), seq=a["seq"])


def replacement_report_proto(link: dict, has_police_report: bool) -> complaint_pb2.ReplacementReport:
    return complaint_pb2.ReplacementReport(
        complaint_id=link["complaint_id"], application_id=link["application_id"], category=link["category"],
        has_police_report=has_police_report, created_at=rfc3339(link["complaint_created_at"]),
        linked_at=rfc3339(link["linked_at"]), office_id=link["office_id"], service_type=link["service_type"])


def complaint_proto(c: Complaint, history: list[dict], sla_state: str, with_responses: bool = True
                    ) -> complaint_pb2.Complaint:
    """The complaint as its complainant sees it (list rows: without responses)."""
    status, _first_at, _closed_at = derive_status(history)
    return complaint_pb2.Complaint(
        complaint_id=c.complaint_id, tracking_code=c.tracking_code, office_id=c.office_id,
        category=c.category, status=status, created_at=rfc3339(c.created_at),
        due_at=rfc3339(c.resolution_due), first_response_due_at=rfc3339(c.first_response_due),
        sla_state=sla_state, description=c.description, application_id=c.application_id,
        anonymous=c.anonymous, responses=[response_proto(r) for r in history] if with_responses else [])


def history_entries(doc: dict, responses: list[dict], assignments: list[dict], escalations: list[dict],
                    attachments: list[dict], link: dict | None,
                    reads: list[dict] = ()) -> list[complaint_pb2.HistoryEntry]:
    """Every change of a complaint, and every read of its evidence, in time order (staff only).
    `doc` needs only the filing time (`created_at`)."""
    H = complaint_pb2.HistoryEntry
    rows = [(doc["created_at"], 0, H(type="FILED", status="OPEN", role="COMPLAINANT"))]
    rows += [(r["at"], 1, H(type="RESPONSE", status=r["status"], role=r.get("role", ""), message=r.get("message", "")))
             for r in responses]
    rows += [(a["at"], 2, H(type="ASSIGNMENT", role=a.get("assigned_by_role", ""),
                           assignee_account_id=a["assignee_account_id"])) for a in assignments]
    rows += [(e["at"], 3, H(type="ESCALATION", role="SYSTEM", kind=e["kind"])) for e in escalations]
    rows += [(a["uploaded_at"], 4, H(type="ATTACHMENT", role=a.get("uploaded_by", ""), kind=a["kind"],
                                     attachment_id=a.get("_id", ""), account_id=a.get("uploader_id", "")))
             for a in attachments]
    rows += [(r["at"], 6, H(type="ATTACHMENT_READ", role=r["role"], attachment_id=r["attachment_id"],
                           account_id=r.get("reader_id", ""))) for r in reads]
    if link is not None:
        rows.append((link["linked_at"], 5, H(type="LINK", role=link.get("linked_by_role", ""),
                                             application_id=link["application_id"])))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for at, _order, entry in rows:
        entry.at = rfc3339(at)
        out.append(entry)
    return out


def statistics_proto(office_id: str, month: str, by_category: dict[str, int], categories, closed: dict[bool, int],
                     escalations: int) -> complaint_pb2.ComplaintStatistics:
    n_closed = closed.get(True, 0) + closed.get(False, 0)
    share = closed.get(True, 0) / n_closed if n_closed else 0.0
    return complaint_pb2.ComplaintStatistics(
        office_id=office_id, month=month, filed=sum(by_category.values()),
        by_category=[complaint_pb2.CategoryCount(category=c, count=by_category.get(c, 0)) for c in categories],
        closed=n_closed, closed_on_time=closed.get(True, 0), share_resolved_on_time=share,
        escalations=escalations)
