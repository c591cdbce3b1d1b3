"""After creation: documents, cancel, reschedule, waitlist, and the counter's issuance/handover."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from passport.v1 import booking_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.routes.applications import application_json
from services.gateway.validation import fields, json_body

bp = Blueprint("appointments", __name__)
DOCUMENT_KINDS = schema.DOCUMENT_KINDS


@bp.post("/v1/applications/<application_id>/documents")
@auth.required("APPLICANT")
@idempotent
def upload_document(application_id: str):
    if not request.content_type or not request.content_type.startswith("multipart/form-data"):
        raise Problem(415, "unsupported-media-type", "send multipart/form-data with fields kind and file")
    kind, upload = request.form.get("kind"), request.files.get("file")
    errors = []
    if kind not in DOCUMENT_KINDS:
        errors.append({"field": "kind", "message": "kind must be one of " + ", ".join(DOCUMENT_KINDS)})
    if upload is None:
        errors.append({"field": "file", "message": "file is required (JPEG, PNG or PDF, at most 5 MB)"})
    if errors:
        raise Problem(422, "validation-error", "some fields are missing or invalid", errors)
    content = upload.read(5 * 1024 * 1024 + 1)
    doc = clients.call(clients.booking().UploadDocument, booking_pb2.UploadDocumentRequest(
        caller=auth.current().caller(), application_id=application_id, kind=kind, content=content))
    return jsonify({"document_id": doc.document_id, "kind": doc.kind, "sha256": doc.sha256,
                    "content_type": doc.content_type, "size": doc.size, "uploaded_at": doc.uploaded_at}), 201


@bp.get("/v1/applications/<application_id>/documents")
@auth.required()
def list_documents(application_id: str):
    reply = clients.call(clients.booking().ListDocuments, booking_pb2.GetApplicationRequest(
        caller=auth.current().caller(), application_id=application_id))
    return jsonify({"items": [{"document_id": d.document_id, "kind": d.kind, "sha256": d.sha256,
                               "content_type": d.content_type, "size": d.size, "uploaded_at": d.uploaded_at}
                              for d in reply.items]})


@bp.delete("/v1/applications/<application_id>/appointment")
@auth.required("APPLICANT")
def cancel_appointment(application_id: str):
    clients.call(clients.booking().CancelAppointment, booking_pb2.GetApplicationRequest(
        caller=auth.current().caller(), application_id=application_id))
    return "", 204


@bp.put("/v1/applications/<application_id>/appointment")
@auth.required("APPLICANT")
def reschedule_appointment(application_id: str):
    body = fields(json_body(), {"slot_id": (str, True)})
    app = clients.call(clients.booking().RescheduleAppointment, booking_pb2.BookAppointmentRequest(
        caller=auth.current().caller(), application_id=application_id, slot_id=body["slot_id"]))
    return jsonify(application_json(app))


@bp.post("/v1/applications/<application_id>/waitlist")
@auth.required("APPLICANT")
@idempotent
def join_waitlist(application_id: str):
    body = fields(json_body(), {"date": (str, True), "lane": (str, True, schema.LANES)})
    reply = clients.call(clients.booking().JoinWaitlist, booking_pb2.JoinWaitlistRequest(
        caller=auth.current().caller(), application_id=application_id, date=body["date"], lane=body["lane"]))
    return jsonify({"application_id": application_id, "date": body["date"], "lane": body["lane"],
                    "position": reply.position}), 201


@bp.get("/v1/applications/<application_id>/waitlist")
@auth.required("APPLICANT")
def waitlist_position(application_id: str):
    reply = clients.call(clients.booking().GetWaitlistPosition, booking_pb2.GetApplicationRequest(
        caller=auth.current().caller(), application_id=application_id))
    return jsonify({"application_id": application_id, "waiting": reply.position > 0,
                    "date": reply.date or None, "lane": reply.lane or None, "position": reply.position})


@bp.post("/v1/offices/<office_id>/day-reschedules")
@auth.required("SUPERVISOR")
@idempotent
def reschedule_office_day(office_id: str):
    body = fields(json_body(), {"date": (str, True), "to_date": (str, True), "reason": (str, True)})
    reply = clients.call(clients.booking().RescheduleOfficeDay, booking_pb2.RescheduleOfficeDayRequest(
        caller=auth.current().caller(), office_id=office_id, **body))
    return jsonify({"office_id": office_id, "date": body["date"], "to_date": body["to_date"],
                    "moved": reply.moved, "cancelled": reply.cancelled})


@bp.post("/v1/applications/<application_id>/issuance")
@auth.required("OFFICER", "SUPERVISOR")
@idempotent
def issue_passport(application_id: str):
    body = fields(json_body(), {"passport_number": (str, True), "delivery": (str, True, schema.DELIVERIES),
                                "address": (str, False)})
    app = clients.call(clients.booking().IssuePassport, booking_pb2.IssuePassportRequest(
        caller=auth.current().caller(), application_id=application_id, passport_number=body["passport_number"],
        delivery=body["delivery"], address=body["address"] or ""))
    return jsonify(application_json(app))


@bp.post("/v1/applications/<application_id>/handover")
@auth.required("OFFICER", "SUPERVISOR")
@idempotent
def hand_over(application_id: str):
    body = fields(json_body(), {"tracking_number": (str, False)})
    app = clients.call(clients.booking().HandOver, booking_pb2.HandOverRequest(
        caller=auth.current().caller(), application_id=application_id, tracking_number=body["tracking_number"] or ""))
    return jsonify(application_json(app))


openapi.SCHEMAS.update({
    "Waitlist": openapi.obj(["date", "lane"], date=openapi.DATE, lane=openapi.enum(schema.LANES)),
    "WaitlistPosition": openapi.obj(["application_id", "date", "lane", "position"], application_id=openapi.S,
                                    date=openapi.S, lane=openapi.S, position=openapi.I),
    "WaitlistState": openapi.obj(["application_id", "waiting", "date", "lane", "position"], application_id=openapi.S,
                                 waiting=openapi.B, date=openapi.nullable(openapi.S), lane=openapi.nullable(openapi.S),
                                 position=openapi.I),
    "DayReschedule": openapi.obj(["date", "to_date", "reason"], date=openapi.DATE, to_date=openapi.DATE,
                                 reason=openapi.text()),
    "DayRescheduled": openapi.obj(office_id=openapi.S, date=openapi.S, to_date=openapi.S, moved=openapi.I,
                                  cancelled=openapi.I),
    "Issuance": openapi.obj(["passport_number", "delivery"], passport_number={"type": "string", "pattern": "^[A-Z]{1,2}[0-9]{6,7}$",
                                                             "description": "e.g. X1234567"},
                            delivery=openapi.enum(schema.DELIVERIES), address=openapi.S),
    "Handover": openapi.obj(tracking_number=openapi.S),
    "DocumentUpload": openapi.obj(["kind", "file"], kind=openapi.enum(schema.DOCUMENT_KINDS),
                                  file=openapi.FILE),
    "Document": openapi.obj(["document_id", "kind"], document_id=openapi.S, kind=openapi.S, sha256=openapi.S,
                            content_type=openapi.S, size=openapi.I, uploaded_at=openapi.S),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/applications/{application_id}/documents", "Upload a document (multipart kind + file: JPEG, PNG or PDF, at most 5 MB)",
     "Applications", "APPLICANT", "DocumentUpload", {201: "Document", 422: "wrong type, too large or unknown kind"}),
    ("get", "/v1/applications/{application_id}/documents", "Documents of an application", "Applications", "any",
     None, {200: "list of Document"}),
    ("delete", "/v1/applications/{application_id}/appointment", "Cancel: the seat is released at once; the application closes",
     "Applications", "APPLICANT", None, {204: "cancelled", 409: "nothing to cancel"}),
    ("put", "/v1/applications/{application_id}/appointment", "Reschedule once, after payment, at the latest the day before",
     "Applications", "APPLICANT", "Reschedule", {200: "Application", 409: "reschedule-not-allowed or slot-full",
                                                 429: "waiting-room: the office's waiting room is active and no "
                                                      "X-Admission-Pass was sent", 403: "admission-pass-invalid"}),
    ("post", "/v1/applications/{application_id}/waitlist", "Wait for a seat on a full date; freed seats are offered in order",
     "Applications", "APPLICANT", "Waitlist", {201: "WaitlistPosition", 409: "seats-available"}),
    ("get", "/v1/applications/{application_id}/waitlist",
     "Where the application waits now (position 1 is offered the next freed seat); waiting false once "
     "offered a seat or never in line", "Applications", "APPLICANT", None,
     {200: "WaitlistState", 404: "application-not-found: no such application of the caller"}),
    ("post", "/v1/offices/{office_id}/day-reschedules", "Move every appointment of a day (force majeure); audited",
     "Offices", "SUPERVISOR", "DayReschedule", {200: "DayRescheduled"}),
    ("post", "/v1/applications/{application_id}/issuance", "Issue the passport (APPROVED -> ISSUED)", "At the office",
     "OFFICER or SUPERVISOR", "Issuance", {200: "Application", 409: "not-approved"}),
    ("post", "/v1/applications/{application_id}/handover", "Hand over: {} for pickup -> COLLECTED, {tracking_number} for Pos -> SHIPPED",
     "At the office", "OFFICER or SUPERVISOR", "Handover", {200: "Application", 409: "not-issued"}),
])
openapi.EXTRAS[("post", "/v1/applications/{application_id}/documents")] = {"content": "multipart/form-data"}
