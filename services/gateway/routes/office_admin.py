"""Office administration: the audit log, supervisor statistics, and quota release by ballot."""
from __future__ import annotations

import json

from flask import Blueprint, jsonify, request

from passport.v1 import office_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("office_admin", __name__)
BALLOT_LANES = schema.BALLOT_LANES
STAT_FIELDS = ("offered", "booked", "paid", "checked_in", "no_show", "issued")


def _supervisor_of(office_id: str):
    principal = auth.staff_of(office_id)
    if principal.role != "SUPERVISOR":
        raise Problem(403, "forbidden", "only the supervisor of this office may do this")
    return principal


# -- audit -----------------------------------------------------------------------------------
@bp.get("/v1/offices/<office_id>/audit")
@auth.required("SUPERVISOR")
def list_audit(office_id: str):
    supervisor = _supervisor_of(office_id)
    reply = clients.call(clients.office().ListAudit, office_pb2.ListAuditRequest(
        caller=supervisor.caller(), office_id=office_id, to=request.args.get("to", ""),
        **{"from": request.args.get("from", "")}))
    return jsonify({"items": [{
        "seq": e.seq, "at": e.at, "actor_account_id": e.actor_account_id, "actor_role": e.actor_role,
        "office_id": e.office_id, "action": e.action, "details": json.loads(e.details_json or "{}"),
        "prev_hash": e.prev_hash, "hash": e.hash} for e in reply.items]})


@bp.get("/v1/audit/verify")
@auth.required("SUPERVISOR")
def verify_audit():
    reply = clients.call(clients.office().VerifyAudit,
                         office_pb2.VerifyAuditRequest(caller=auth.current().caller()))
    return jsonify({"ok": reply.ok, "entries": reply.entries,
                    "first_broken_seq": reply.first_broken_seq or None, "reason": reply.reason or None})


# -- statistics ------------------------------------------------------------------------------
@bp.get("/v1/offices/<office_id>/statistics")
@auth.required("SUPERVISOR")
def statistics(office_id: str):
    supervisor = _supervisor_of(office_id)
    missing = [f for f in ("from", "to") if not request.args.get(f)]
    if missing:
        raise Problem(422, "validation-error", "the query parameters from=YYYY-MM-DD and to=YYYY-MM-DD are required",
                      [{"field": f, "message": f"{f} is required"} for f in missing])
    reply = clients.call(clients.office().GetStatistics, office_pb2.StatisticsRequest(
        caller=supervisor.caller(), office_id=office_id, to=request.args["to"],
        group=request.args.get("group", "day"), **{"from": request.args["from"]}))

    def row(r):
        return {"period": r.period, **{f: getattr(r, f) for f in STAT_FIELDS}}

    return jsonify({"office_id": reply.office_id, "from": getattr(reply, "from"), "to": reply.to,
                    "group": reply.group, "rows": [row(r) for r in reply.rows],
                    "total": {f: getattr(reply.total, f) for f in STAT_FIELDS}})


# -- ballots ---------------------------------------------------------------------------------
def ballot_json(b) -> dict:
    return {"ballot_id": b.ballot_id, "office_id": b.office_id, "date": b.date, "lane": b.lane,
            "entries_open_at": b.entries_open_at, "entries_close_at": b.entries_close_at, "draw_at": b.draw_at,
            "status": b.status, "commitment": b.commitment or None, "seed": b.seed or None,
            "entries": b.entries, "winners": b.winners, "seats": b.seats}


@bp.get("/v1/offices/<office_id>/ballots")
def list_ballots(office_id: str):
    reply = clients.call(clients.office().ListBallots, office_pb2.ListBallotsRequest(office_id=office_id))
    return jsonify({"items": [ballot_json(b) for b in reply.items]})


@bp.post("/v1/offices/<office_id>/ballots")
@auth.required("SUPERVISOR")
@idempotent
def create_ballot(office_id: str):
    supervisor = _supervisor_of(office_id)
    body = fields(json_body(), {"date": (str, True), "lane": (str, True, BALLOT_LANES),
                                "entries_open_at": (str, True), "entries_close_at": (str, True),
                                "draw_at": (str, False)})
    reply = clients.call(clients.office().CreateBallot, office_pb2.CreateBallotRequest(
        caller=supervisor.caller(), office_id=office_id, date=body["date"], lane=body["lane"],
        entries_open_at=body["entries_open_at"], entries_close_at=body["entries_close_at"],
        draw_at=body["draw_at"] or ""))
    return jsonify(ballot_json(reply)), 201


@bp.post("/v1/offices/<office_id>/ballots/<ballot_id>/entries")
@auth.required("APPLICANT")
@idempotent
def enter_ballot(office_id: str, ballot_id: str):
    body = fields(json_body(), {"application_id": (str, True)})
    reply = clients.call(clients.office().EnterBallot, office_pb2.EnterBallotRequest(
        caller=auth.current().caller(), office_id=office_id, ballot_id=ballot_id,
        application_id=body["application_id"]))
    return jsonify({"entry_id": reply.entry_id, "ballot_id": reply.ballot_id,
                    "application_id": reply.application_id, "entered_at": reply.entered_at}), 201


@bp.get("/v1/applications/<application_id>/ballot-entries")
@auth.required("APPLICANT")
def application_ballot_entries(application_id: str):
    reply = clients.call(clients.office().ListApplicationBallotEntries, office_pb2.ListApplicationBallotEntriesRequest(
        caller=auth.current().caller(), application_id=application_id))
    return jsonify({"items": [{"entry_id": e.entry.entry_id, "ballot_id": e.entry.ballot_id,
                               "application_id": e.entry.application_id, "entered_at": e.entry.entered_at,
                               "ballot": ballot_json(e.ballot), "outcome": e.outcome or None,
                               "slot_id": e.slot_id or None} for e in reply.items]})


@bp.get("/v1/offices/<office_id>/ballots/<ballot_id>/result")
def ballot_result(office_id: str, ballot_id: str):
    r = clients.call(clients.office().GetBallotResult,
                     office_pb2.GetBallotResultRequest(office_id=office_id, ballot_id=ballot_id))
    return jsonify({"ballot_id": r.ballot_id, "commitment": r.commitment or None, "seed": r.seed, "secret": r.secret,
                    "entry_ids": list(r.entry_ids),
                    "order": list(r.order), "drawn_at": r.drawn_at, "complete": r.complete,
                    "outcomes": [{"entry_id": o.entry_id, "position": o.position, "outcome": o.outcome,
                                  "slot_id": o.slot_id or None} for o in r.outcomes]})


@bp.get("/v1/offices/<office_id>/releases")
def releases(office_id: str):
    reply = clients.call(clients.office().ListReleases, office_pb2.ListReleasesRequest(office_id=office_id))
    return jsonify({"items": [{"opens_at": r.opens_at or None, "mode": r.mode, "dates": list(r.dates),
                               "status": r.status, "ballots": [ballot_json(b) for b in r.ballots]}
                              for r in reply.items]})


S, I, B = openapi.S, openapi.I, openapi.B
openapi.SCHEMAS.update({
    "AuditEntry": openapi.obj(seq=I, at=S, actor_account_id=S, actor_role=S, office_id=S, action={
        "type": "string", "description": "e.g. QUOTA_SET, BALLOT_CREATED, OUTREACH_REJECTED, OFFICE_DAY_RESCHEDULED, "
        "PASSPORT_ISSUED, priority-confirmed, priority-refused, STAFF_CREATED; from other services' events: "
        "PHOTO_OVERRIDDEN, FINGER_RECORDED_MISSING, MISSING_FINGERS_APPROVED, INTERVIEW_RECORDED (biometrics), "
        "REFUND_PAID_OUT, STATEMENT_RECONCILED (payment), whose details carry source_event"},
                              details={"type": "object"}, prev_hash=S, hash=S),
    "AuditVerification": openapi.obj(ok=B, entries=I, first_broken_seq={"type": "integer", "nullable": True},
                                     reason={"type": "string", "nullable": True}),
    "StatisticsRow": openapi.obj(period=S, offered=I, booked=I, paid=I, checked_in=I, no_show=I, issued=I),
    "NewBallot": openapi.obj(["date", "lane", "entries_open_at", "entries_close_at"], date=openapi.DATE,
                             lane=openapi.enum(BALLOT_LANES), entries_open_at=openapi.DATE_TIME,
                             entries_close_at=openapi.DATE_TIME, draw_at=openapi.DATE_TIME),
    "BallotEntry": openapi.obj(entry_id=S, ballot_id=S, application_id=S, entered_at=S),
    "Statistics": openapi.obj(office_id=S, to=S, group=S, rows={"type": "array", "items": {
        "$ref": "#/components/schemas/StatisticsRow"}}, total={"type": "object", "additionalProperties": I},
        **{"from": S}),
    "Ballot": openapi.obj(ballot_id=S, office_id=S, date=S, lane=S, entries_open_at=S, entries_close_at=S,
                          draw_at=S, status=openapi.enum(schema.BALLOT_STATUSES),
                          commitment={"type": "string", "nullable": True,
                                      "description": "sha256(secret), published when the ballot is scheduled"},
                          seed={"type": "string", "nullable": True}, entries=I, winners=I, seats=I),
    "Release": openapi.obj(opens_at={"type": "string", "nullable": True}, mode=openapi.enum(schema.RELEASE_MODES),
                           dates={"type": "array", "items": S}, status=openapi.enum(schema.RELEASE_STATUSES),
                           ballots={"type": "array", "items": {"$ref": "#/components/schemas/Ballot"}}),
    "BallotEntryRequest": openapi.obj(["application_id"], application_id=openapi.text()),
    "ApplicationBallotEntry": openapi.obj(
        entry_id=S, ballot_id=S, application_id=S, entered_at=S, ballot={"$ref": "#/components/schemas/Ballot"},
        outcome={"type": "string", "nullable": True,  # a plain string: OpenAPI 3.0 has no nullable enum
                 "description": " | ".join(schema.BALLOT_OUTCOMES) + "; null until the draw has decided this entry"},
        slot_id={"type": "string", "nullable": True, "description": "the seat won (WON only)"}),
    "BallotResult": openapi.obj(ballot_id=S, commitment={"type": "string", "nullable": True}, seed=S, secret=S, entry_ids={"type": "array", "items": S},
                                order={"type": "array", "items": S}, drawn_at=S, complete=B,
                                outcomes={"type": "array", "items": openapi.obj(
                                    entry_id=S, position=I, outcome=openapi.enum(schema.BALLOT_OUTCOMES),
                                    slot_id=openapi.nullable(S))}),
})
openapi.OPERATIONS.extend([
    ("get", "/v1/offices/{office_id}/audit", "Audit entries of the office (?from=&to= YYYY-MM-DD)", "Audit",
     "SUPERVISOR", None, {200: "items: AuditEntry[]", 403: "not the supervisor of this office",
                          422: "bad from/to"}),
    ("get", "/v1/audit/verify", "Verify the hash chain of the audit log; reports the first broken link", "Audit",
     "SUPERVISOR", None, {200: "AuditVerification"}),
    ("get", "/v1/offices/{office_id}/statistics",
     "Offered, booked, paid, checked in, no-show, issued (?from=&to=YYYY-MM-DD, group=day|month|year; "
     "at most 366 days)", "Offices", "SUPERVISOR", None,
     {200: "Statistics", 403: "not the supervisor of this office", 422: "bad range"}),
    ("get", "/v1/offices/{office_id}/releases",
     "The release calendar: the dates of the slot horizon grouped by when they open (office time), FCFS or "
     "ballot, with the ballots' windows, draw times and seed commitments; booking a date before it opens "
     "answers 409 not-yet-released", "Offices", None, None, {200: "items: Release[]", 404: "unknown office"}),
    ("get", "/v1/offices/{office_id}/ballots", "Ballots of the office (commitment at once, seed once drawn)", "Ballots", None,
     None, {200: "items: Ballot[]", 404: "unknown office"}),
    ("post", "/v1/offices/{office_id}/ballots", "Schedule a ballot for a date and lane (BALLOT-mode office; audited)",
     "Ballots", "SUPERVISOR", "NewBallot",
     {201: "Ballot", 409: "office-not-in-ballot-mode, ballot-exists, no-seats", 422: "bad date, lane or times"}),
    ("post", "/v1/offices/{office_id}/ballots/{ballot_id}/entries",
     "Enter a ballot with a DRAFT application (once per NIK)", "Ballots", "APPLICANT", "BallotEntryRequest",
     {201: "BallotEntry", 409: "ballot-not-open, already-entered, lane-not-allowed, application-not-draft",
      404: "no such ballot or application"}),
    ("get", "/v1/applications/{application_id}/ballot-entries",
     "The ballot entries made with one of the caller's applications, each with its ballot (status, draw time) "
     "and, once the draw decided it, the outcome", "Ballots", "APPLICANT", None,
     {200: "items: ApplicationBallotEntry[]", 404: "application-not-found: no such application of the caller"}),
    ("get", "/v1/offices/{office_id}/ballots/{ballot_id}/result",
     "The drawn result: seed, secret, entries, order and outcomes (re-run it with "
     "`python -m services.booking.releases verify-draw`)", "Ballots", None, None,
     {200: "BallotResult", 409: "not-drawn-yet", 404: "ballot-not-found"}),
])
openapi.EXTRAS.update({
    ("get", "/v1/offices/{office_id}/audit"): {"query": [openapi.query("from", openapi.DATE),
                                                        openapi.query("to", openapi.DATE)]},
    ("get", "/v1/offices/{office_id}/statistics"): {"query": [
        openapi.query("from", openapi.DATE, required=True), openapi.query("to", openapi.DATE, required=True),
        openapi.query("group", openapi.enum(schema.STATISTICS_GROUPS), description="default: day")]},
})
