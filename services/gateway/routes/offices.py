"""Offices, slots and quota."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request

from passport.v1 import booking_pb2
from services.gateway import auth, clients, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("offices", __name__)


@bp.get("/v1/offices")
def list_offices():
    reply = clients.call(clients.booking().ListOffices, booking_pb2.ListOfficesRequest())
    return jsonify({"items": [{"office_id": o.office_id, "name": o.name, "timezone": o.timezone,
                               "address": o.address} for o in reply.items]})


@bp.get("/v1/offices/<office_id>/slots")
def list_slots(office_id: str):
    date = request.args.get("date")
    if not date:
        raise Problem(422, "validation-error", "the query parameter date=YYYY-MM-DD is required",
                      [{"field": "date", "message": "date is required"}])
    lane = request.args.get("lane", "")

    def fetch() -> bytes:
        reply = clients.call(clients.booking().ListSlots, booking_pb2.ListSlotsRequest(
            office_id=office_id, date=date, lane=lane))
        return json.dumps({"items": [slot_json(s) for s in reply.items]}).encode()
    return current_app.extensions["listing_cache"].answer(fetch)


def slot_json(s) -> dict:
    return {"slot_id": s.slot_id, "office_id": s.office_id, "date": s.date, "start_time": s.start_time,
            "end_time": s.end_time, "lane": s.lane, "capacity": s.capacity, "remaining": s.remaining}


@bp.put("/v1/offices/<office_id>/quota")
@auth.required("SUPERVISOR")
@idempotent
def set_quota(office_id: str):
    body = fields(json_body(), {"date": (str, True), "lane": (str, True, schema.LANES), "start_time": (str, False),
                                "capacity": (int, True, schema.INT32), "reason": (str, True)})
    reply = clients.call(clients.booking().SetQuota, booking_pb2.SetQuotaRequest(
        caller=auth.current().caller(), office_id=office_id, date=body["date"], lane=body["lane"],
        start_time=body["start_time"] or "", capacity=body["capacity"], reason=body["reason"]))
    return jsonify({"office_id": office_id, "date": body["date"], "lane": body["lane"],
                    "capacity": body["capacity"], "slots_changed": reply.slots_changed})


@bp.post("/v1/offices/<office_id>/check-ins")
@auth.required("OFFICER", "SUPERVISOR")
@idempotent
def check_in(office_id: str):
    body = fields(json_body(), {"application_id": (str, True), "priority_decision": (str, False, schema.PRIORITY_DECISIONS)})
    reply = clients.call(clients.booking().CheckIn, booking_pb2.CheckInRequest(
        caller=auth.current().caller(), office_id=office_id, application_id=body["application_id"],
        priority_decision=body.get("priority_decision") or ""))
    return jsonify({"application_id": reply.application_id, "queue_number": reply.queue_number}), 201
