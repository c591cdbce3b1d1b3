"""The office counter's day (issue 17): today's appointments, finding an application, reading its
documents, and the queue with its public display list. Staff of the office only (another office's
answers 404), except the display list of called numbers (numbers only)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from passport.v1 import booking_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.validation import fields, iso_date, json_body

bp = Blueprint("counter", __name__)
ROW_FIELDS = ("application_id", "full_name", "nik", "service_type", "priority_group", "lane", "start_time", "date",
              "status", "step", "queue_number", "billing_code", "passport_number")


def row_json(r) -> dict:
    return {f: getattr(r, f) or None for f in ROW_FIELDS}


def _int_arg(name: str, default: int, bounds: range = schema.INT32) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    return fields({name: int(raw) if raw.isdigit() else raw}, {name: (int, True, bounds)})[name]


@bp.get("/v1/offices/<office_id>/appointments")
@auth.required("OFFICER", "SUPERVISOR")
def appointments(office_id: str):
    args = fields(dict(request.args), {"date": (str, False), "lane": (str, False, schema.LANES)})
    reply = clients.call(clients.counter().ListAppointments, booking_pb2.ListAppointmentsRequest(
        caller=auth.current().caller(), office_id=office_id, date=iso_date(args["date"], "date"), lane=args["lane"] or "",
        page=_int_arg("page", 1, range(1, 2 ** 31)), page_size=_int_arg("page_size", 50, range(1, 201))))
    return jsonify({"office_id": reply.office_id, "date": reply.date, "total": reply.total, "page": reply.page,
                    "page_size": reply.page_size, "items": [row_json(r) for r in reply.items]})


@bp.get("/v1/offices/<office_id>/applications")
@auth.required("OFFICER", "SUPERVISOR")
def find_applications(office_id: str):
    q = fields(dict(request.args), {"q": (str, True)})["q"]
    reply = clients.call(clients.counter().FindApplications, booking_pb2.FindApplicationsRequest(
        caller=auth.current().caller(), office_id=office_id, query=q))
    return jsonify({"items": [row_json(r) for r in reply.items]})


@bp.get("/v1/applications/<application_id>/documents/<document_id>")
@auth.required("OFFICER", "SUPERVISOR")
def read_document(application_id: str, document_id: str):
    reply = clients.call(clients.counter().ReadDocument, booking_pb2.ReadDocumentRequest(
        caller=auth.current().caller(), application_id=application_id, document_id=document_id))
    return Response(reply.content, mimetype=reply.content_type, headers={
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Content-SHA256": reply.sha256,
        "Content-Disposition": f'inline; filename="{reply.kind.lower()}"'})


@bp.get("/v1/applications/<application_id>/document-reads")
@auth.required("SUPERVISOR")
def document_reads(application_id: str):
    reply = clients.call(clients.counter().ListDocumentReads, booking_pb2.GetApplicationRequest(
        caller=auth.current().caller(), application_id=application_id))
    return jsonify({"items": [{"document_id": r.document_id, "kind": r.kind, "reader": r.reader, "role": r.role,
                               "at": r.at} for r in reply.items]})


def call_json(c) -> dict:
    return {"number": c.number, "action": c.action, "desk": c.desk or None, "at": c.at}


@bp.post("/v1/offices/<office_id>/queue/next")
@auth.required("OFFICER", "SUPERVISOR")
@idempotent
def call_next(office_id: str):
    body = fields(json_body(optional=True), {"desk": (str, False)})
    reply = clients.call(clients.counter().CallNext, booking_pb2.QueueCallRequest(
        caller=auth.current().caller(), office_id=office_id, desk=body["desk"] or ""))
    return jsonify(call_json(reply)), 201


@bp.post("/v1/offices/<office_id>/queue/<number>/recall")
@auth.required("OFFICER", "SUPERVISOR")
def recall(office_id: str, number: str):
    return _again(clients.counter().Recall, office_id, number)


@bp.post("/v1/offices/<office_id>/queue/<number>/skip")
@auth.required("OFFICER", "SUPERVISOR")
def skip(office_id: str, number: str):
    return _again(clients.counter().Skip, office_id, number)


def _again(method, office_id: str, number: str):
    body = fields(json_body(optional=True), {"desk": (str, False)})
    reply = clients.call(method, booking_pb2.QueueCallRequest(
        caller=auth.current().caller(), office_id=office_id, number=number, desk=body["desk"] or ""))
    return jsonify(call_json(reply))


@bp.get("/v1/offices/<office_id>/queue")
def called_numbers(office_id: str):
    date = iso_date(request.args.get("date"), "date")
    reply = clients.call(clients.counter().ListCalls, booking_pb2.ListCallsRequest(office_id=office_id, date=date))
    resp = jsonify({"office_id": reply.office_id, "date": reply.date, "items": [call_json(c) for c in reply.items]})
    resp.headers["Cache-Control"] = "no-cache"
    return resp


S, I = openapi.S, openapi.I
openapi.SCHEMAS.update({
    "CounterRow": openapi.obj(**{f: {"type": "string", "nullable": True} for f in ROW_FIELDS}),
    "QueueCall": openapi.obj(number=S, action=openapi.enum(schema.QUEUE_ACTIONS),
                             desk={"type": "string", "nullable": True}, at=S),
    "Desk": openapi.obj(desk=S),
    "DocumentRead": openapi.obj(document_id=S, kind=S, reader=S, role=S, at=S),
    "Appointments": openapi.obj(["items"], office_id=S, date=S, total=I, page=I, page_size=I,
                                items={"type": "array", "items": {"$ref": "#/components/schemas/CounterRow"}}),
    "CalledNumbers": openapi.obj(["items"], office_id=S, date=S,
                                 items={"type": "array", "items": {"$ref": "#/components/schemas/QueueCall"}}),
})
openapi.OPERATIONS.extend([
    ("get", "/v1/offices/{office_id}/appointments",
     "The appointments of a date (?date=, default today; ?lane=; ?page=&page_size=, at most 200) by time and "
     "lane, with where each stands at the counter", "At the office", "OFFICER", None,
     {200: "Appointments", 404: "not your office", 422: "bad date, lane or page"}),
    ("get", "/v1/offices/{office_id}/applications",
     "Find an application (?q=): application id (the proof's QR code), billing code, NIK, or 3+ letters of "
     "the name; this office's only", "At the office", "OFFICER", None,
     {200: "items: CounterRow[]", 404: "not your office", 422: "q missing or too short"}),
    ("get", "/v1/applications/{application_id}/documents/{document_id}",
     "An uploaded document's bytes (staff of the application's office; every read is recorded)",
     "At the office", "OFFICER or SUPERVISOR", None,
     {200: openapi.binary("the file", "image/jpeg", "image/png", "application/pdf"), 404: "no such document (or another office's)"}),
    ("get", "/v1/applications/{application_id}/document-reads", "Who read the application's documents, when",
     "At the office", "SUPERVISOR", None, {200: "items: DocumentRead[]", 403: "not a supervisor", 404: "another office's"}),
    ("post", "/v1/offices/{office_id}/queue/next", "Call the next checked-in number (priority lane first)",
     "At the office", "OFFICER", "Desk", {201: "QueueCall", 404: "queue-empty, or not your office"}),
    ("post", "/v1/offices/{office_id}/queue/{number}/recall", "Call a called number again", "At the office",
     "OFFICER", "Desk", {200: "QueueCall", 404: "number-not-called"}),
    ("post", "/v1/offices/{office_id}/queue/{number}/skip", "Skip a called number that did not come",
     "At the office", "OFFICER", "Desk", {200: "QueueCall", 404: "number-not-called"}),
    ("get", "/v1/offices/{office_id}/queue", "Public: the numbers called today, latest first (the waiting-room "
     "display)", "At the office", None, None, {200: "CalledNumbers", 404: "unknown office"}),
])
DESK_OPTIONAL = {"body_optional": True}  # an empty body is an empty object (no desk)
openapi.EXTRAS.update({
    ("get", "/v1/offices/{office_id}/appointments"): {"query": [
        openapi.query("date", openapi.DATE_OR_EMPTY, description="default (absent or empty): today at the office"),
        openapi.query("lane", openapi.enum(schema.LANES)),
        openapi.query("page", {"type": "integer", "minimum": 1, "maximum": schema.INT32.stop - 1}),
        openapi.query("page_size", {"type": "integer", "minimum": 1, "maximum": 200})]},
    ("get", "/v1/offices/{office_id}/applications"): {"query": [
        openapi.query("q", {"type": "string", "minLength": 3}, required=True,
                      description="application id, billing code, NIK, or 3+ letters of the name")]},
    ("get", "/v1/offices/{office_id}/queue"): {"query": [openapi.query("date", openapi.DATE_OR_EMPTY)]},
    ("post", "/v1/offices/{office_id}/queue/next"): DESK_OPTIONAL,
    ("post", "/v1/offices/{office_id}/queue/{number}/recall"): DESK_OPTIONAL,
    ("post", "/v1/offices/{office_id}/queue/{number}/skip"): DESK_OPTIONAL,
})
