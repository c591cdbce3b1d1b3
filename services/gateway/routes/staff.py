"""Staff management by the supervisor of an office (issue 17): list, create an officer, reset its
password, deactivate it. A reset or a deactivation ends the officer's open sessions at once: staff
tokens carry a token version the gateway checks on every request (auth._check_staff_token).

No Idempotency-Key store here on purpose: its record would keep the generated password in clear. A
repeated creation answers 409 email-taken, a repeated reset makes another password, and a repeated
deactivation answers the same account."""
from __future__ import annotations

from flask import Blueprint, jsonify

from passport.v1 import staff_pb2
from services.gateway import auth, clients, openapi
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("staff", __name__)


def _supervisor_of(office_id: str):
    principal = auth.staff_of(office_id)
    if principal.role != "SUPERVISOR":
        raise Problem(403, "forbidden", "only the supervisor of this office manages its staff")
    return principal


def staff_json(a) -> dict:
    out = {"account_id": a.account_id, "full_name": a.full_name, "email": a.email, "role": a.role,
           "office_id": a.office_id, "active": a.active, "created_at": a.created_at or None,
           "deactivated_at": a.deactivated_at or None}
    if a.temporary_password:
        out["temporary_password"] = a.temporary_password  # shown once, to the supervisor
    return out


@bp.get("/v1/offices/<office_id>/staff")
@auth.required("SUPERVISOR")
def list_staff(office_id: str):
    supervisor = _supervisor_of(office_id)
    reply = clients.call(clients.staff().ListOfficeStaff, staff_pb2.ListOfficeStaffRequest(
        caller=supervisor.caller(), office_id=office_id))
    return jsonify({"items": [staff_json(a) for a in reply.items]})


@bp.post("/v1/offices/<office_id>/staff")
@auth.required("SUPERVISOR")
def create_officer(office_id: str):
    supervisor = _supervisor_of(office_id)
    body = fields(json_body(), {"full_name": (str, True), "email": (str, True)})
    account = clients.call(clients.staff().CreateOfficer, staff_pb2.CreateOfficerRequest(
        caller=supervisor.caller(), office_id=office_id, full_name=body["full_name"][:200],
        email=body["email"][:320]))
    return jsonify(staff_json(account)), 201


def _account_action(rpc: str, office_id: str, account_id: str):
    """A supervisor's action on one staff account of their office; answers the account after it."""
    supervisor = _supervisor_of(office_id)
    account = clients.call(getattr(clients.staff(), rpc), staff_pb2.StaffAccountRequest(
        caller=supervisor.caller(), office_id=office_id, account_id=account_id[:64]))
    return jsonify(staff_json(account))


@bp.post("/v1/offices/<office_id>/staff/<account_id>/password-reset")
@auth.required("SUPERVISOR")
def reset_password(office_id: str, account_id: str):
    return _account_action("ResetPassword", office_id, account_id)


@bp.post("/v1/offices/<office_id>/staff/<account_id>/totp-reset")
@auth.required("SUPERVISOR")
def reset_totp(office_id: str, account_id: str):
    return _account_action("ResetTotp", office_id, account_id)


@bp.post("/v1/offices/<office_id>/staff/<account_id>/deactivation")
@auth.required("SUPERVISOR")
def deactivate(office_id: str, account_id: str):
    return _account_action("Deactivate", office_id, account_id)


S, B = openapi.S, openapi.B
openapi.SCHEMAS.update({
    "NewOfficer": openapi.obj(["full_name", "email"], full_name=openapi.text(1, 120, pattern="\\S"), email=openapi.EMAIL),
    "StaffAccount": openapi.obj(
        account_id=S, full_name=S, email=S, role={"enum": ["OFFICER", "SUPERVISOR"]}, office_id=S, active=B,
        created_at=S, deactivated_at={"type": "string", "nullable": True},
        temporary_password={"type": "string", "description": "only in the answer of creating an officer and of "
                                                             "a password reset: tell it to the officer once"}),
})
openapi.OPERATIONS.extend([
    ("get", "/v1/offices/{office_id}/staff", "Officers and supervisors of the office, active or not", "Staff",
     "SUPERVISOR", None, {200: "items: StaffAccount[]", 403: "not the supervisor of this office"}),
    ("post", "/v1/offices/{office_id}/staff", "Create an OFFICER of the office with a generated first password "
     "(audited)", "Staff", "SUPERVISOR", "NewOfficer",
     {201: "StaffAccount with temporary_password", 403: "not the supervisor of this office",
      409: "email-taken", 422: "validation-error"}),
    ("post", "/v1/offices/{office_id}/staff/{account_id}/password-reset",
     "Give an officer a new generated password; its open sessions end at once (audited)", "Staff",
     "SUPERVISOR", None, {200: "StaffAccount with temporary_password", 404: "account-not-found (not an officer "
                                                                              "of this office)"}),
    ("post", "/v1/offices/{office_id}/staff/{account_id}/totp-reset",
     "Remove an officer's authenticator app and recovery codes (a lost phone); it enrols again at its next "
     "sign-in (audited)", "Staff", "SUPERVISOR", None, {200: "StaffAccount", 404: "account-not-found"}),
    ("post", "/v1/offices/{office_id}/staff/{account_id}/deactivation",
     "Deactivate an officer: it cannot sign in, and every token it holds answers 401 token-revoked at once "
     "(audited)", "Staff", "SUPERVISOR", None, {200: "StaffAccount", 404: "account-not-found"}),
])
