"""Applications, appointments, billing view and the delivery log of notifications."""
from __future__ import annotations

from flask import Blueprint, jsonify

from passport.v1 import booking_pb2, notification_pb2, payment_pb2
from services.gateway import auth, clients, openapi, schema, waiting_room
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("applications", __name__)


@bp.post("/v1/applications")
@auth.required("APPLICANT")
@idempotent
def create_application():
    body = fields(json_body(), {
        "office_id": (str, True), "passport_type": (str, True, schema.PASSPORT_TYPES),
        "validity_years": (int, True, schema.VALIDITY_YEARS), "service_type": (str, True, schema.SERVICE_TYPES),
        "express": (bool, False), "priority_group": (str, False, schema.PRIORITY_GROUPS)})
    app = clients.call(clients.booking().CreateApplication, booking_pb2.CreateApplicationRequest(
        caller=auth.current().caller(), office_id=body["office_id"], passport_type=body["passport_type"],
        validity_years=body["validity_years"], service_type=body["service_type"],
        express=bool(body["express"]), priority_group=body["priority_group"] or ""))
    return jsonify(application_json(app)), 201


@bp.get("/v1/applications")
@auth.required("APPLICANT")
def list_applications():
    reply = clients.call(clients.booking().ListApplications,
                         booking_pb2.ListApplicationsRequest(caller=auth.current().caller()))
    return jsonify({"items": [application_json(a) for a in reply.items]})


@bp.get("/v1/applications/<application_id>")
@auth.required()
def get_application(application_id: str):
    return jsonify(application_json(_get(application_id)))


def _get(application_id: str):
    """The application if the caller may see it; 404 otherwise (never 403: no enumeration)."""
    return clients.call(clients.booking().GetApplication, booking_pb2.GetApplicationRequest(
        caller=auth.current().caller(), application_id=application_id))


@bp.post("/v1/applications/<application_id>/appointment")
@auth.required("APPLICANT")
@idempotent
def book_appointment(application_id: str):
    body = fields(json_body(), {"slot_id": (str, True), "invitation_code": (str, False)})
    app = clients.call(clients.booking().BookAppointment, booking_pb2.BookAppointmentRequest(
        caller=auth.current().caller(), application_id=application_id, slot_id=body["slot_id"],
        invitation_code=body["invitation_code"] or ""))
    view = application_json(app)
    return jsonify({"application_id": app.application_id, "status": app.status,
                    "appointment": view["appointment"], "billing": view["billing"]}), 201


@bp.get("/v1/applications/<application_id>/billing")
@auth.required("APPLICANT")
def get_billing(application_id: str):
    return jsonify(billing_json(billing_of(application_id, clients.payment().GetBilling)))


def billing_of(application_id: str, method):
    """The caller's application's billing through `method` (GetBilling or RecheckBilling). The
    application exists (else 404), so a missing billing is a state, not a missing resource: 409
    no-billing-yet until an appointment is booked, as the proof answers no-appointment."""
    app = _get(application_id)
    try:
        return clients.call(method, payment_pb2.GetBillingRequest(application_id=application_id))
    except Problem as problem:
        if problem.slug != "billing-not-found":
            raise
        raise Problem(409, "no-billing-yet", f"the application is {app.status}: no billing has been issued",
                      params={"status": app.status}) from None


def billing_json(b) -> dict:
    out = {"billing_code": b.billing_code, "amount": b.amount.amount, "currency": b.amount.currency,
           "status": b.status, "expires_at": b.expires_at,
           "items": [{"code": i.code, "label": i.label, "amount": i.amount} for i in b.items],
           "refunds": [{"reason": r.reason, "amount": r.amount.amount, "status": r.status, "recorded_at": r.recorded_at,
                        **({"paid_out_at": r.paid_out_at} if r.paid_out_at else {})} for r in b.refunds]}
    if b.paid_at:
        out["paid_at"] = b.paid_at
    return out


@bp.get("/v1/applications/<application_id>/notifications")
@auth.required("APPLICANT")
def list_notifications(application_id: str):
    _get(application_id)
    reply = clients.call(clients.notification().ListNotifications,
                         notification_pb2.ListNotificationsRequest(application_id=application_id))
    items = []
    for n in reply.items:
        item = {"channel": n.channel, "template": n.template, "language": n.language, "status": n.status,
                "event_type": n.event_type, "created_at": n.created_at}
        if n.sent_at:
            item["sent_at"] = n.sent_at
        items.append(item)
    return jsonify({"items": items})


def application_json(app) -> dict:
    out = {"application_id": app.application_id, "office_id": app.office_id, "status": app.status,
           "service_type": app.service_type, "passport_type": app.passport_type,
           "validity_years": app.validity_years, "express": app.express,
           "priority_group": app.priority_group or None, "created_at": app.created_at,
           "appointment": None, "billing": None,
           "timeline": [{"status": t.status, "at": t.at, **({"note": t.note} if t.note else {})}
                        for t in app.timeline]}
    if app.HasField("appointment"):
        a = app.appointment
        out["appointment"] = {"appointment_id": a.appointment_id, "slot_id": a.slot_id, "date": a.date,
                              "start_time": a.start_time, "end_time": a.end_time, "lane": a.lane,
                              "status": a.status, "pay_before": a.pay_before, "rescheduled": a.rescheduled}
        if a.queue_number:
            out["appointment"]["queue_number"] = a.queue_number
    if app.HasField("billing"):
        b = app.billing
        out["billing"] = {"billing_code": b.billing_code, "amount": b.amount.amount,
                          "currency": b.amount.currency, "expires_at": b.expires_at}
    for name in ("passport_number", "delivery", "tracking_number", "ready_by"):
        if getattr(app, name):
            out[name] = getattr(app, name)
    return out


# While an office's waiting room is active, booking there needs the pass the room gives (waiting_room.py).
ADMISSION_PASS = {"headers": [openapi.header(waiting_room.PASS_HEADER, {"type": "string"}, description=(
    "the admission pass from POST /v1/offices/{office_id}/waiting-room; required while the slot's office has an "
    "active waiting room (GET /v1/offices/{office_id}/waiting-room), ignored otherwise"))]}
openapi.EXTRAS[("post", "/v1/applications/{application_id}/appointment")] = ADMISSION_PASS
openapi.EXTRAS[("put", "/v1/applications/{application_id}/appointment")] = ADMISSION_PASS
