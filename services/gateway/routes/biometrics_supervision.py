"""Biometrics under a supervisor's eye (issue 16, counter rules): approving a capture with every
finger recorded missing, and reading the office's biometrics access log. The biometrics-capture
service decides; the gateway checks the role, parses and renders."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from passport.v1 import biometrics_pb2
from services.gateway import auth, clients, openapi
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.routes.biometrics import status_json
from services.gateway.validation import fields, json_body

bp = Blueprint("biometrics_supervision", __name__)
ACCESS_LOG_MAX = 500


@bp.post("/v1/applications/<application_id>/biometrics/missing-fingers/approval")
@auth.required("SUPERVISOR")
@idempotent
def approve_missing_fingers(application_id: str):
    values = fields(json_body(), {"reason": (str, True)})
    s = clients.call(clients.biometrics().ApproveMissingFingers, biometrics_pb2.ApproveMissingFingersRequest(
        caller=auth.current().caller(), application_id=application_id, reason=values["reason"]))
    return jsonify({"application_id": s.application_id, **status_json(s),
                    "missing_fingers_approved_by": s.missing_fingers_approved_by or None}), 200


@bp.get("/v1/offices/<office_id>/biometrics/access-log")
@auth.required("SUPERVISOR")
def access_log(office_id: str):
    supervisor = auth.staff_of(office_id)
    raw_limit = request.args.get("limit", "")
    application_id = request.args.get("application_id", "")
    if len(application_id) > 64:
        raise Problem(422, "validation-error", "application_id is at most 64 characters",
                      [{"field": "application_id", "message": "at most 64 characters"}])
    if raw_limit and (not raw_limit.isdigit() or not 1 <= int(raw_limit) <= ACCESS_LOG_MAX):
        raise Problem(422, "validation-error", f"limit must be 1-{ACCESS_LOG_MAX}",
                      [{"field": "limit", "message": f"an integer 1-{ACCESS_LOG_MAX}"}])
    reply = clients.call(clients.biometrics().ListAccessLog, biometrics_pb2.ListAccessLogRequest(
        caller=supervisor.caller(), office_id=office_id, application_id=application_id,
        limit=int(raw_limit or 0)))
    return jsonify({"items": [{
        "at": e.at, "application_id": e.application_id, "action": e.action, "actor_id": e.actor_id,
        "actor_role": e.actor_role, "capture_id": e.capture_id or None, "finger": e.finger or None,
        "reason": e.reason or None, "outcome": e.outcome or None} for e in reply.items]})


O = openapi
openapi.SCHEMAS.update({
    "MissingFingersApproval": O.obj(["reason"], reason=O.text()),
    "BiometricsAccessLogEntry": O.obj(at=O.S, application_id=O.S, action=O.S, actor_id=O.S, actor_role=O.S,
                                      capture_id=O.nullable(O.S), finger=O.nullable(O.I), reason=O.nullable(O.S),
                                      outcome=O.nullable(O.S)),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/applications/{application_id}/biometrics/missing-fingers/approval",
     "Approve a capture with every required finger recorded missing (supervisor of the office)", "Biometrics",
     "SUPERVISOR", "MissingFingersApproval",
     {200: "CaptureStatus", 404: "no such application at your office", 409: "no-missing-fingers-to-approve or "
      "not-checked-in", 422: "reason missing"}),
    ("get", "/v1/offices/{office_id}/biometrics/access-log",
     "Who captured and read biometric data at the office, newest first (?application_id=&limit=1-500)",
     "Biometrics", "SUPERVISOR", None, {200: "items: BiometricsAccessLogEntry[]",
                                        403: "not the supervisor of this office", 422: "bad limit"}),
])
openapi.EXTRAS[("get", "/v1/offices/{office_id}/biometrics/access-log")] = {"query": [
    O.query("application_id", {"type": "string", "maxLength": 64}),
    O.query("limit", {"type": "integer", "minimum": 1, "maximum": ACCESS_LOG_MAX})]}
