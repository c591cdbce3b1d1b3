"""Complaints: filing (token optional, anonymous possible), follow-up with tracking code and PIN,
staff responses and lists, and the public per-office statistics.

Anonymity: for an anonymous complaint (no token, or `anonymous: true`) the gateway sends the
complaint service NO caller at all, so the account id never leaves the gateway; nothing about the
request (IP, X-Forwarded-For, headers) is forwarded or logged. POST /v1/complaints deliberately
does not use the Idempotency-Key store: its record would tie the account to the request and its
replay would have to keep the PIN in clear.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from passport.v1 import common_pb2, complaint_pb2
from services.gateway import auth, clients, openapi
from services.gateway.openapi import B, S, obj
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("complaints", __name__)
CATEGORIES = ("SERVICE", "BROKER_OR_EXTORTION", "LOST_PASSPORT", "DAMAGED_PASSPORT", "PAYMENT", "APP_ERROR", "OTHER")
RESPONSE_STATUSES = ("IN_PROGRESS", "RESOLVED", "REJECTED")
STATUSES = ("OPEN",) + RESPONSE_STATUSES


@bp.post("/v1/complaints")
def file_complaint():
    body = fields(json_body(), {"category": (str, True, CATEGORIES), "office_id": (str, True),
                                "description": (str, True), "application_id": (str, False),
                                "anonymous": (bool, False)})
    principal = auth.current()  # a bad token is still a 401; a missing one means anonymous
    anonymous = principal is None or bool(body["anonymous"])
    caller = common_pb2.Caller() if anonymous else principal.caller()
    reply = clients.call(clients.complaint().FileComplaint, complaint_pb2.FileComplaintRequest(
        caller=caller, category=body["category"], office_id=body["office_id"], description=body["description"],
        application_id=body["application_id"] or "", anonymous=anonymous))
    return jsonify({"complaint_id": reply.complaint_id, "tracking_code": reply.tracking_code,
                    "access_pin": reply.access_pin, "created_at": reply.created_at, "due_at": reply.due_at,
                    "anonymous": anonymous}), 201


@bp.get("/v1/complaints/<tracking_code>")
def get_complaint(tracking_code: str):
    principal = auth.current()
    pin = request.headers.get("X-Access-Pin", "")
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
    reply = clients.call(clients.complaint().ListOfficeComplaints, complaint_pb2.ListOfficeComplaintsRequest(
        caller=auth.current().caller(), office_id=office_id, status=status))
    return jsonify({"items": [complaint_json(c, staff=True) for c in reply.items]})


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


def complaint_json(c, responses: bool = False, staff: bool = False) -> dict:
    out = {"complaint_id": c.complaint_id, "tracking_code": c.tracking_code, "office_id": c.office_id,
           "category": c.category, "status": c.status, "created_at": c.created_at,
           "first_response_due_at": c.first_response_due_at, "due_at": c.due_at, "sla_state": c.sla_state,
           "description": c.description, "application_id": c.application_id or None, "anonymous": c.anonymous}
    if responses:
        out["responses"] = [response_json(r) for r in c.responses]
    return out


openapi.SCHEMAS.update({
    "NewComplaint": obj(["category", "office_id", "description"], category={"enum": list(CATEGORIES)},
                        office_id=S, description=S, application_id=S, anonymous=B),
    "FiledComplaint": obj(complaint_id=S, tracking_code=S, access_pin=S, created_at=S, due_at=S, anonymous=B),
    "Complaint": obj(complaint_id=S, tracking_code=S, office_id=S, category=S, status=S, created_at=S,
                     first_response_due_at=S, due_at=S, sla_state={"enum": ["on_time", "due_soon", "breached"]},
                     description=S, application_id=S, anonymous=B,
                     responses={"type": "array", "items": obj(response_id=S, message=S, status=S, at=S, role=S)}),
    "ComplaintResponse": obj(["message", "status"], message=S, status={"enum": list(RESPONSE_STATUSES)}),
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
     {201: "response recorded", 404: "no such complaint at your office", 409: "already closed",
      422: "bad status or empty message"}),
    ("get", "/v1/offices/{office_id}/complaints", "Complaints of an office with SLA state (query status=)",
     "Complaints", "OFFICER or SUPERVISOR of the office", None, {200: "list of Complaint", 403: "other office"}),
    ("get", "/v1/offices/{office_id}/complaint-statistics", "Public statistics of a month (query month=YYYY-MM)",
     "Complaints", None, None, {200: "ComplaintStatistics", 404: "unknown office", 422: "bad month"}),
])
