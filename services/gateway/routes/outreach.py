"""Outreach (Eazy Passport): organisers request a collective session; the supervisor decides; members
book its OUTREACH seats with the invitation code (`invitation_code` in the booking request)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from passport.v1 import office_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.validation import fields, json_body

bp = Blueprint("outreach", __name__)
STATUSES = schema.OUTREACH_STATUSES


def outreach_json(r) -> dict:
    out = {"request_id": r.request_id, "office_id": r.office_id, "organisation": r.organisation,
           "location": r.location, "date": r.date, "people": r.people, "status": r.status,
           "requested_at": r.requested_at, "reason": r.reason or None, "seats": r.seats,
           "slot_id": r.slot_id or None, "invitation_code": r.invitation_code or None}
    if r.contact_phone:
        out["contact_phone"] = r.contact_phone
    return out


@bp.post("/v1/outreach-requests")
@auth.required("APPLICANT")
@idempotent
def request_outreach():
    body = fields(json_body(), {"office_id": (str, True), "organisation": (str, True), "location": (str, True),
                                "date": (str, True), "people": (int, True, schema.INT32), "contact_phone": (str, True)})
    reply = clients.call(clients.office().RequestOutreach, office_pb2.RequestOutreachRequest(
        caller=auth.current().caller(), **body))
    return jsonify(outreach_json(reply)), 201


@bp.get("/v1/outreach-requests/<request_id>")
@auth.required()
def get_outreach(request_id: str):
    reply = clients.call(clients.office().GetOutreach, office_pb2.GetOutreachRequest(
        caller=auth.current().caller(), request_id=request_id))
    return jsonify(outreach_json(reply))


@bp.get("/v1/offices/<office_id>/outreach-requests")
@auth.required("OFFICER", "SUPERVISOR")
def list_outreach(office_id: str):
    status = fields(dict(request.args), {"status": (str, False, STATUSES)})["status"] or ""
    reply = clients.call(clients.office().ListOutreach, office_pb2.ListOutreachRequest(
        caller=auth.current().caller(), office_id=office_id, status=status))
    return jsonify({"items": [outreach_json(r) for r in reply.items]})


@bp.post("/v1/offices/<office_id>/outreach-requests/<request_id>/decision")
@auth.required("SUPERVISOR")
@idempotent
def decide_outreach(office_id: str, request_id: str):
    body = fields(json_body(), {"approve": (bool, True), "seats": (int, False, schema.INT32), "start_time": (str, False),
                                "reason": (str, True)})
    reply = clients.call(clients.office().DecideOutreach, office_pb2.DecideOutreachRequest(
        caller=auth.current().caller(), office_id=office_id, request_id=request_id, approve=body["approve"],
        seats=body["seats"] or 0, start_time=body["start_time"] or "", reason=body["reason"]))
    return jsonify(outreach_json(reply))


S, I = openapi.S, openapi.I
openapi.SCHEMAS.update({
    "NewOutreachRequest": openapi.obj(["office_id", "organisation", "location", "date", "people", "contact_phone"],
                                      office_id=openapi.text(), organisation=openapi.text(3, 200), location=openapi.text(5, 300),
                                      date=openapi.DATE,
                                      people={"type": "integer", "minimum": 50, "maximum": 1000}, contact_phone=openapi.PHONE),
    "OutreachDecision": openapi.obj(["approve", "reason"], approve=openapi.B, seats={"type": "integer", "minimum": 1, "maximum": 1000},
                                    start_time=S, reason=openapi.text()),
    "OutreachRequest": openapi.obj(request_id=S, office_id=S, organisation=S, location=S, date=S, people=I,
                                   status=openapi.enum(STATUSES), requested_at=S, reason={"type": "string", "nullable": True},
                                   seats=I, slot_id={"type": "string", "nullable": True},
                                   invitation_code={"type": "string", "nullable": True}, contact_phone=S),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/outreach-requests", "Request a collective outreach session (50+ people) at your location",
     "Outreach", "APPLICANT", "NewOutreachRequest", {201: "OutreachRequest", 422: "invalid fields", 404: "unknown office"}),
    ("get", "/v1/outreach-requests/{request_id}", "An outreach request (the organiser sees the invitation code once "
     "approved)", "Outreach", "any", None, {200: "OutreachRequest", 404: "no such request (or not yours)"}),
    ("get", "/v1/offices/{office_id}/outreach-requests", "The office's outreach requests (?status=)", "Outreach",
     "OFFICER or SUPERVISOR", None, {200: "items: OutreachRequest[]", 403: "staff of another office"}),
    ("post", "/v1/offices/{office_id}/outreach-requests/{request_id}/decision",
     "Approve with OUTREACH seats (an audited quota change; draws the invitation code) or reject", "Outreach",
     "SUPERVISOR", "OutreachDecision", {200: "OutreachRequest", 409: "outreach-already-decided",
                                        422: "reason, seats or start_time invalid"}),
])
openapi.EXTRAS[("get", "/v1/offices/{office_id}/outreach-requests")] = {
    "query": [openapi.query("status", openapi.enum(STATUSES))]}
