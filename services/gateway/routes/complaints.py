"""Complaints: filing (token optional, anonymous possible), follow-up with tracking code and PIN,
staff responses and lists, and the public per-office statistics.

Anonymity: for an anonymous complaint (no token, or `anonymous: true`) the gateway sends the
complaint service NO caller at all, so the account id never leaves the gateway; nothing about the
request (IP, X-Forwarded-For, headers) is forwarded or logged. POST /v1/complaints deliberately
does not use the Idempotency-Key store: its record would tie the account to the request and its
replay would have to keep the PIN in clear.

Attachments are uploaded after filing (multipart `file`, optional `kind`) with the tracking code
and PIN; the complainant's upload again carries NO caller (a token is not forwarded), so an
anonymous report stays anonymous. Staff of the office upload with their token, without a PIN.
Files are at most 4,000,000 bytes, so that the request stays below gRPC's default 4 MiB limit.

Downloads (GET .../attachments/<attachment_id>) are for staff of the office (token; by complaint id
or tracking code) and for the complainant (tracking code + PIN, again with NO caller). The file is
always sent as a download (`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP), never
rendered as a page of this origin; the service records every read in the complaint's history.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from passport.v1 import common_pb2, complaint_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.openapi import B, S, obj
from services.gateway.problems import Problem, language
from services.gateway.validation import fields, file_content, json_body

bp = Blueprint("complaints", __name__)
MAX_ATTACHMENT_BYTES = 4_000_000  # below gRPC's 4 MiB message limit; the service checks it as well
ATTACHMENT_KINDS, STAFF, CATEGORIES = schema.ATTACHMENT_KINDS, schema.STAFF_ROLES, schema.COMPLAINT_CATEGORIES
RESPONSE_STATUSES, STATUSES = schema.COMPLAINT_RESPONSE_STATUSES, schema.COMPLAINT_STATUSES
TRACKING_CODE_RE = re.compile(r"[A-Za-z2-7]{20}")  # complaint ids are UUIDs, never of this form
# The only types the service stores (decided from the bytes at upload), with a file name extension.
DOWNLOAD_TYPES = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


@bp.post("/v1/complaints")
def file_complaint():
    body = fields(json_body(), {"category": (str, True, CATEGORIES), "office_id": (str, True),
                                "description": (str, True), "application_id": (str, False),
                                "anonymous": (bool, False), "contact_email": (str, False),
                                "contact_phone": (str, False), "contact_language": (str, False, schema.LANGUAGES)})
    principal = auth.current()  # a bad token is still a 401; a missing one means anonymous
    anonymous = principal is None or bool(body["anonymous"])
    caller = common_pb2.Caller() if anonymous else principal.caller()
    reply = clients.call(clients.complaint().FileComplaint, complaint_pb2.FileComplaintRequest(
        caller=caller, category=body["category"], office_id=body["office_id"], description=body["description"],
        application_id=body["application_id"] or "", anonymous=anonymous,
        contact_email=(body["contact_email"] or "")[:254], contact_phone=(body["contact_phone"] or "")[:20],
        contact_language=body["contact_language"] or language()))
    return jsonify({"complaint_id": reply.complaint_id, "tracking_code": reply.tracking_code,
                    "access_pin": reply.access_pin, "created_at": reply.created_at, "due_at": reply.due_at,
                    "anonymous": anonymous}), 201


def access_pin() -> str:
    """The complainant's PIN header ('' when absent or empty: then the token must do)."""
    return request.headers.get("X-Access-Pin", "").strip()


@bp.get("/v1/complaints/<tracking_code>")
def get_complaint(tracking_code: str):
    principal = auth.current()
    pin = access_pin()
    if not pin and principal is None:
        raise Problem(401, "access-pin-required", "send the complaint's PIN in the X-Access-Pin header")
    c = clients.call(clients.complaint().GetComplaintByTrackingCode, complaint_pb2.GetComplaintRequest(
        caller=principal.caller() if principal else common_pb2.Caller(), tracking_code=tracking_code,
        access_pin=pin[:64]))
    return jsonify(complaint_json(c, responses=True))


@bp.post("/v1/complaints/<complaint_id>/responses")
@auth.required("OFFICER", "SUPERVISOR")
def respond(complaint_id: str):
    body = fields(json_body(), {"message": (str, True), "status": (str, True, RESPONSE_STATUSES)})
    r = clients.call(clients.complaint().RespondToComplaint, complaint_pb2.RespondRequest(
        caller=auth.current().caller(), complaint_id=complaint_id, message=body["message"], status=body["status"]))
    return jsonify(response_json(r) | {"complaint_id": r.complaint_id}), 201


@bp.get("/v1/offices/<office_id>/complaints")
@auth.required("OFFICER", "SUPERVISOR")
def list_complaints(office_id: str):
    auth.staff_of(office_id)
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        raise Problem(422, "validation-error", f"status must be one of {', '.join(STATUSES)}",
                      [{"field": "status", "message": "unknown status"}])
    assignee = request.args.get("assignee", "")[:64]
    if assignee == "me":
        assignee = auth.current().account_id
    reply = clients.call(clients.complaint().ListOfficeComplaints, complaint_pb2.ListOfficeComplaintsRequest(
        caller=auth.current().caller(), office_id=office_id, status=status, assignee=assignee))
    return jsonify({"items": [complaint_json(c, staff=True) for c in reply.items]})


@bp.get("/v1/me/complaints")
@auth.required("APPLICANT")
def my_complaints():
    reply = clients.call(clients.complaint().ListMyComplaints, complaint_pb2.ListMyComplaintsRequest(
        caller=auth.current().caller()))
    return jsonify({"items": [complaint_json(c) for c in reply.items]})


@bp.get("/v1/applications/<application_id>/complaints")
@auth.required("APPLICANT")
def application_complaints(application_id: str):
    """The applicant's own complaints that name this application (others' never show)."""
    reply = clients.call(clients.complaint().ListMyComplaints, complaint_pb2.ListMyComplaintsRequest(
        caller=auth.current().caller(), application_id=application_id[:64]))
    return jsonify({"items": [complaint_json(c) for c in reply.items]})


@bp.post("/v1/complaints/<tracking_code>/attachments")
def add_attachment(tracking_code: str):
    principal = auth.current()
    staff = principal is not None and principal.role in STAFF
    pin = access_pin()
    if not pin and not staff:
        raise Problem(401, "access-pin-required", "send the complaint's PIN in the X-Access-Pin header")
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise Problem(415, "unsupported-media-type", "send multipart/form-data with the file in the field `file`")
    kind = request.form.get("kind", "") or "EVIDENCE"
    if kind not in ATTACHMENT_KINDS:
        raise Problem(422, "validation-error", f"kind must be one of {', '.join(ATTACHMENT_KINDS)}",
                      [{"field": "kind", "message": "unknown kind"}])
    data = file_content(request.files.get("file"), MAX_ATTACHMENT_BYTES, "attachment")
    # The client's file name and content type are ignored: the service decides from the bytes.
    a = clients.call(clients.complaint().AddAttachment, complaint_pb2.AddAttachmentRequest(
        caller=principal.caller() if staff else common_pb2.Caller(), tracking_code=tracking_code,
        access_pin=pin[:64], kind=kind, data=data))
    return jsonify(attachment_json(a)), 201


@bp.get("/v1/complaints/<ref>/attachments/<attachment_id>")
def download_attachment(ref: str, attachment_id: str):
    """`ref` is the tracking code (complainant with X-Access-Pin, or staff) or the complaint id (staff)."""
    principal = auth.current()
    staff = principal is not None and principal.role in STAFF
    pin = access_pin()
    if principal is None and not pin:
        raise Problem(401, "access-pin-required", "send the complaint's PIN in the X-Access-Pin header")
    by_code = TRACKING_CODE_RE.fullmatch(ref) is not None
    if not by_code and not staff:  # a complaint id is for staff of its office only
        raise Problem(404, "complaint-not-found", "no complaint with this id that you may see "
                      "(a complainant downloads with the tracking code and PIN)")
    if not pin and not staff:
        raise Problem(401, "access-pin-required", "send the complaint's PIN in the X-Access-Pin header")
    content = clients.call(clients.complaint().GetAttachment, complaint_pb2.GetAttachmentRequest(
        caller=principal.caller() if staff else common_pb2.Caller(), tracking_code=ref if by_code else "",
        complaint_id="" if by_code else ref[:64], access_pin=pin[:64], attachment_id=attachment_id[:200]))
    a = content.attachment
    extension = DOWNLOAD_TYPES.get(a.content_type)
    content_type = a.content_type if extension else "application/octet-stream"
    filename = f"{a.kind.lower().replace('_', '-') or 'attachment'}-{a.attachment_id.rsplit(':', 1)[-1]}." \
               f"{extension or 'bin'}"
    return Response(content.data, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
        "X-Content-SHA256": a.sha256})


@bp.post("/v1/complaints/<complaint_id>/assignment")
@auth.required(*STAFF)
def assign(complaint_id: str):
    body = fields(json_body(), {"officer_account_id": (str, True)})
    a = clients.call(clients.complaint().AssignComplaint, complaint_pb2.AssignComplaintRequest(
        caller=auth.current().caller(), complaint_id=complaint_id, officer_account_id=body["officer_account_id"]))
    return jsonify({"assignment_id": a.assignment_id, "complaint_id": a.complaint_id,
                    "assignee_account_id": a.assignee_account_id, "assigned_by_role": a.assigned_by_role,
                    "at": a.at, "seq": a.seq}), 201


@bp.post("/v1/complaints/<complaint_id>/link")
@auth.required()
def link(complaint_id: str):
    body = fields(json_body(), {"application_id": (str, True)})
    link_ = clients.call(clients.complaint().LinkApplication, complaint_pb2.LinkApplicationRequest(
        caller=auth.current().caller(), complaint_id=complaint_id, application_id=body["application_id"]))
    return jsonify(link_json(link_)), 201


@bp.get("/v1/offices/<office_id>/complaint-statistics")
def statistics(office_id: str):
    month = request.args.get("month", "")
    if not month:
        raise Problem(422, "validation-error", "the query parameter month=YYYY-MM is required",
                      [{"field": "month", "message": "month is required"}])
    s = clients.call(clients.complaint().GetComplaintStatistics,
                     complaint_pb2.ComplaintStatisticsRequest(office_id=office_id, month=month))
    return jsonify({"office_id": s.office_id, "month": s.month, "filed": s.filed,
                    "by_category": {c.category: c.count for c in s.by_category}, "closed": s.closed,
                    "closed_on_time": s.closed_on_time,
                    "share_resolved_on_time": round(s.share_resolved_on_time, 4), "escalations": s.escalations})


def response_json(r) -> dict:
    return {"response_id": r.response_id, "message": r.message, "status": r.status, "at": r.at, "role": r.role}


def attachment_json(a) -> dict:
    return {"attachment_id": a.attachment_id, "kind": a.kind, "content_type": a.content_type, "size": a.size,
            "sha256": a.sha256, "uploaded_at": a.uploaded_at, "uploaded_by": a.uploaded_by}


def link_json(link_) -> dict:
    return {"complaint_id": link_.complaint_id, "application_id": link_.application_id,
            "service_type": link_.service_type, "linked_at": link_.linked_at}


def history_json(h) -> dict:
    out = {"at": h.at, "type": h.type, "role": h.role}
    for name in ("status", "assignee_account_id", "kind", "application_id", "message", "attachment_id",
                 "account_id"):
        if getattr(h, name):
            out[name] = getattr(h, name)
    return out


def complaint_json(c, responses: bool = False, staff: bool = False) -> dict:
    out = {"complaint_id": c.complaint_id, "tracking_code": c.tracking_code, "office_id": c.office_id,
           "category": c.category, "status": c.status, "created_at": c.created_at,
           "first_response_due_at": c.first_response_due_at, "due_at": c.due_at, "sla_state": c.sla_state,
           "description": c.description, "application_id": c.application_id or None, "anonymous": c.anonymous}
    if responses:
        out["responses"] = [response_json(r) for r in c.responses]
        out["attachments"] = [attachment_json(a) for a in c.attachments]
        out["link"] = link_json(c.link) if c.HasField("link") else None
    if staff or c.history:  # the service fills these for staff of the office only
        out["assignee_account_id"] = c.assignee_account_id or None
    if c.history:
        out["history"] = [history_json(h) for h in c.history]
    return out


openapi.SCHEMAS.update({
    "NewComplaint": obj(["category", "office_id", "description"], category=openapi.enum(CATEGORIES),
                        office_id=openapi.text(), description=openapi.text(), application_id=S, anonymous=B,
                        contact_email={"type": "string", "description": "anonymous reports only: where to tell "
                                       "the answer (kept with the complaint, never in events or logs)"},
                        contact_phone={"type": "string", "description": "anonymous reports only, by SMS"},
                        contact_language=openapi.enum(schema.LANGUAGES, description="language of the answer to the "
                                                      "contact (default: Accept-Language, else id)")),
    "FiledComplaint": obj(complaint_id=S, tracking_code=S, access_pin=S, created_at=S, due_at=S, anonymous=B),
    "Complaint": obj(complaint_id=S, tracking_code=S, office_id=S, category=S, status=S, created_at=S,
                     first_response_due_at=S, due_at=S, sla_state=openapi.enum(schema.SLA_STATES),
                     description=S, application_id={"type": "string", "nullable": True}, anonymous=B,
                     responses={"type": "array", "items": obj(response_id=S, message=S, status=S, at=S, role=S)},
                     attachments={"type": "array", "items": {"$ref": "#/components/schemas/ComplaintAttachment"}},
                     link=openapi.nullable({"$ref": "#/components/schemas/ComplaintLink"}),
                     assignee_account_id={"type": "string", "nullable": True},
                     history={"type": "array", "items": obj(at=S, type=S, role=S, status=S, assignee_account_id=S,
                                                            kind=S, application_id=S, message=S, attachment_id=S,
                                                            account_id=S)}),
    "ComplaintAttachment": obj(attachment_id=S, kind=openapi.enum(ATTACHMENT_KINDS), content_type=S,
                               size={"type": "integer"}, sha256=S, uploaded_at=S, uploaded_by=S),
    "NewAssignment": obj(["officer_account_id"], officer_account_id=openapi.text()),
    "Assignment": obj(assignment_id=S, complaint_id=S, assignee_account_id=S, assigned_by_role=S, at=S,
                      seq={"type": "integer"}),
    "NewComplaintLink": obj(["application_id"], application_id=S),
    "ComplaintLink": obj(complaint_id=S, application_id=S, service_type=S, linked_at=S),
    "ComplaintResponse": obj(["message", "status"], message=openapi.text(), status=openapi.enum(RESPONSE_STATUSES)),
    "RecordedResponse": obj(["response_id", "complaint_id"], response_id=S, complaint_id=S, message=S, status=S, at=S,
                            role=S),
    "AttachmentUpload": obj(["file"], file=openapi.FILE, kind=openapi.enum(ATTACHMENT_KINDS)),
    "ComplaintStatistics": obj(office_id=S, month=S, filed={"type": "integer"},
                               by_category={"type": "object", "additionalProperties": {"type": "integer"}},
                               closed={"type": "integer"}, closed_on_time={"type": "integer"},
                               share_resolved_on_time={"type": "number"}, escalations={"type": "integer"}),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/complaints", "File a complaint (token optional; anonymous without one or with anonymous=true)",
     "Complaints", None, "NewComplaint",
     {201: "FiledComplaint", 401: "invalid token", 422: "unknown category or office, empty description"}),
    ("get", "/v1/complaints/{tracking_code}", "A complaint, with X-Access-Pin (or as staff of its office)",
     "Complaints", None, None,
     {200: "Complaint", 401: "no PIN", 404: "unknown code or wrong PIN", 429: "too many wrong PINs"}),
    ("post", "/v1/complaints/{complaint_id}/responses", "Respond to a complaint and set its status",
     "Complaints", "OFFICER or SUPERVISOR of the office", "ComplaintResponse",
     {201: "RecordedResponse", 404: "no such complaint at your office", 409: "already closed",
      422: "bad status or empty message"}),
    ("get", "/v1/offices/{office_id}/complaints", "Complaints of an office with SLA state (query status=, assignee=<account id>|me)",
     "Complaints", "OFFICER or SUPERVISOR of the office", None, {200: "list of Complaint", 403: "other office"}),
    ("get", "/v1/me/complaints", "My own complaints, newest first, with status and SLA state (anonymous ones "
     "are not tied to the account and never show)", "Complaints", "APPLICANT", None,
     {200: "list of Complaint", 401: "no token", 403: "not an applicant"}),
    ("get", "/v1/applications/{application_id}/complaints", "My complaints that name this application",
     "Complaints", "APPLICANT", None, {200: "list of Complaint", 401: "no token", 403: "not an applicant"}),
    ("post", "/v1/complaints/{tracking_code}/attachments",
     "Add evidence (multipart: file = JPEG, PNG or PDF up to 4,000,000 bytes; kind = EVIDENCE | "
     "POLICE_LOSS_REPORT) with X-Access-Pin, or as staff of the office", "Complaints", None, "AttachmentUpload",
     {201: "ComplaintAttachment", 401: "no PIN (and no staff token), or an invalid token", 404: "unknown code or wrong PIN", 409: "closed or 10 files",
      413: "file too large", 415: "not multipart", 422: "empty file, or not JPEG/PNG/PDF (attachment-type-not-allowed)",
      429: "too many wrong PINs"}),
    ("get", "/v1/complaints/{ref}/attachments/{attachment_id}",
     "Download one evidence file: ref = tracking code with X-Access-Pin (the complainant), or tracking code or "
     "complaint id with a staff token of the office. Sent as Content-Disposition: attachment with "
     "X-Content-Type-Options: nosniff; every read is recorded in the complaint's history (ATTACHMENT_READ)",
     "Complaints", None, None,
     {200: openapi.binary("the file's bytes", "image/jpeg", "image/png", "application/pdf",
                          "application/octet-stream"), 401: "no PIN and no staff token",
      404: "unknown complaint or attachment, wrong PIN, another office or not staff", 429: "too many wrong PINs"}),
    ("post", "/v1/complaints/{complaint_id}/assignment",
     "Assign a complaint (SUPERVISOR: any staff of the office; OFFICER: themself)", "Complaints",
     "OFFICER or SUPERVISOR of the office", "NewAssignment",
     {201: "Assignment", 403: "an officer assigning someone else", 404: "no such complaint at your office",
      409: "already closed", 422: "assignee not staff of the office"}),
    ("post", "/v1/complaints/{complaint_id}/link",
     "Link a LOST_PASSPORT/DAMAGED_PASSPORT report to the reporter's REPLACEMENT_LOST/REPLACEMENT_DAMAGED "
     "application", "Complaints", "the complainant (non-anonymous) or staff of the office", "NewComplaintLink",
     {201: "ComplaintLink", 404: "no such complaint or application", 409: "already linked elsewhere",
      422: "wrong category or service type, anonymous report"}),
    ("get", "/v1/offices/{office_id}/complaint-statistics", "Public statistics of a month (query month=YYYY-MM)",
     "Complaints", None, None, {200: "ComplaintStatistics", 404: "unknown office", 422: "bad month"}),
])
# The years the complaint service can count (1970 to 9998), as a pattern.
MONTH_PATTERN = "^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-(0[1-9]|1[0-2])$"
# Only the first 64 characters are read (a longer value is no error), so the schema sets no maximum.
PIN = openapi.header("X-Access-Pin", {"type": "string"},
                     description="the complaint's PIN (the complainant); staff of the office send their token instead")
openapi.EXTRAS.update({
    ("post", "/v1/complaints"): {"token_optional": True},
    ("get", "/v1/complaints/{tracking_code}"): {"token_optional": True, "headers": [PIN]},
    ("post", "/v1/complaints/{tracking_code}/attachments"): {"token_optional": True, "headers": [PIN],
                                                             "content": "multipart/form-data"},
    ("get", "/v1/complaints/{ref}/attachments/{attachment_id}"): {"token_optional": True, "headers": [PIN]},
    ("get", "/v1/offices/{office_id}/complaints"): {"query": [
        openapi.query("status", openapi.enum(STATUSES)),
        openapi.query("assignee", {"type": "string", "maxLength": 64}, description="an account id, or `me`")]},
    ("get", "/v1/offices/{office_id}/complaint-statistics"): {"query": [
        openapi.query("month", {"type": "string", "pattern": MONTH_PATTERN}, required=True,
                      description="YYYY-MM, 1970-01 to 9998-12")]},
})
