"""The waiting room of an office: its state (public), a place in it (applicants), the supervisor's switch."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify

from passport.v1 import booking_pb2
from servicekit.cache import TtlCache
from services.gateway import admission, auth, clients, openapi, waiting_room
from services.gateway.problems import Problem
from services.gateway.validation import fields, json_body

bp = Blueprint("waiting_room", __name__)
_offices = TtlCache(300, max_entries=10)


def _known(office_id: str) -> None:
    """404 for an office booking does not know (the list is cached five minutes per worker)."""
    def read():
        reply = clients.call(clients.booking().ListOffices, booking_pb2.ListOfficesRequest())
        return frozenset(o.office_id for o in reply.items)
    if office_id not in _offices.get("all", read):
        raise Problem(404, "office-not-found", "no such office")


def _time(epoch: float | None) -> str | None:
    """RFC 3339 in UTC to the millisecond: admissions are often less than a second apart."""
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="milliseconds")


def _room_json(office_id: str, room: admission.Room | None) -> dict:
    if room is None:
        return {"office_id": office_id, "active": False}
    return {"office_id": office_id, "active": True, "room_id": room.room_id, "source": room.source,
            "opened_at": _time(room.opened_at), "until": _time(room.until),
            "draw_closes_at": _time(room.draw_closes_at) if room.draw_seconds > 0 else None,
            "admissions_per_minute": round(room.rate * 60, 3),
            "pace_per_minute": round(waiting_room.ROOMS.clock(room, admission.now_s())[1] * 60, 3),
            "pass_seconds": int(waiting_room.pass_ttl_s())}


@bp.get("/v1/offices/<office_id>/waiting-room")
def room_state(office_id: str):
    _known(office_id)
    return jsonify(_room_json(office_id, waiting_room.room_of(office_id)))


@bp.post("/v1/offices/<office_id>/waiting-room")
@auth.required("APPLICANT")
def take_place(office_id: str):
    """Idempotent by nature: one place per account and room, the same on every ask."""
    _known(office_id)
    now = admission.now_s()
    room = waiting_room.room_of(office_id, now)
    if room is None:
        raise Problem(409, "waiting-room-closed", f"{office_id} has no waiting room open now; book directly",
                      params={"office_id": office_id})
    place = waiting_room.ROOMS.ask(room, auth.current().account_id, now)
    body = {"office_id": office_id, "room_id": room.room_id, "status": place.status, "position": place.position,
            "estimated_wait_seconds": int(round(place.wait_s)), "admit_at": _time(place.admit_at),
            "poll_after_seconds": place.poll_after, "poll_after_ms": place.poll_after_ms,
            "admission_pass": place.admission_pass,
            "pass_expires_at": _time(place.pass_expires_at), "moved_back": place.moved_back}
    resp = jsonify(body)
    if place.status in ("waiting", "drawing"):
        resp.headers["Retry-After"] = str(place.poll_after)  # asking sooner moves nobody forward
    return resp


@bp.put("/v1/offices/<office_id>/waiting-room")
@auth.required("SUPERVISOR")
def switch(office_id: str):
    principal = auth.staff_of(office_id)
    body = fields(json_body(), {"active": (bool, True), "minutes": (int, True, range(1, 1441)),
                                "admissions_per_minute": (int, False, range(1, 60001)),
                                "draw_seconds": (int, False, range(0, 3601)), "reason": (str, True)})
    if not body["reason"].strip():
        raise Problem(422, "validation-error", "some fields are missing or invalid",
                      [{"field": "reason", "message": "reason must not be empty"}])
    rate = body["admissions_per_minute"] / 60.0 if body["admissions_per_minute"] else None
    waiting_room.set_switch(office_id, body["active"], body["minutes"], rate, body["draw_seconds"],
                            principal.account_id)
    return jsonify(_room_json(office_id, waiting_room.room_of(office_id)))


@bp.delete("/v1/offices/<office_id>/waiting-room")
@auth.required("SUPERVISOR")
def clear(office_id: str):
    auth.staff_of(office_id)
    waiting_room.clear_switch(office_id)
    return "", 204


S, I, B = openapi.S, openapi.I, openapi.B
NULLABLE_S = {"type": "string", "nullable": True}
openapi.SCHEMAS.update({
    "WaitingRoom": openapi.obj(["office_id", "active"], office_id=S, active=B, room_id=S,
                               source=openapi.enum(("supervisor", "release", "config")), opened_at=S, until=S,
                               draw_closes_at=NULLABLE_S,
                               admissions_per_minute={"type": "number", "description": "the pace's ceiling"},
                               pace_per_minute={"type": "number", "description": "admissions per minute now: "
                                                "what booking completes, between a floor and the ceiling"},
                               pass_seconds=I),
    "WaitingRoomPlace": openapi.obj(
        ["office_id", "room_id", "status", "estimated_wait_seconds", "poll_after_seconds"], office_id=S, room_id=S,
        status=openapi.enum(("drawing", "waiting", "admitted", "expired")),
        position={"type": "integer", "nullable": True,
                  "description": "people ahead + 1 while waiting; 0 admitted; null until the draw is made"},
        estimated_wait_seconds=I, admit_at=NULLABLE_S, poll_after_seconds=I,
        poll_after_ms={"type": "integer", "description": "when to ask again, to the millisecond: within 2 s "
                       "of admission, the moment itself (Retry-After and poll_after_seconds are whole seconds)"},
        admission_pass={"type": "string", "nullable": True,
                        "description": "send it as X-Admission-Pass with POST/PUT .../appointment"},
        pass_expires_at=NULLABLE_S,
        moved_back={"type": "boolean", "description": "the place was asked for before its "
                    "poll_after time again and again (more than WAITING_ROOM_EARLY_ASK_LIMIT times in a window) and "
                    "went to the back of the line; it goes back again each window while that goes on"}),
    "WaitingRoomSwitch": openapi.obj(["active", "minutes", "reason"], active=B,
                                     minutes={"type": "integer", "minimum": 1, "maximum": 1440},
                                     admissions_per_minute={"type": "integer", "minimum": 1, "maximum": 60000},
                                     draw_seconds={"type": "integer", "minimum": 0, "maximum": 3600},
                                     reason=openapi.text(pattern=r"\S")),
})
openapi.OPERATIONS.extend([
    ("get", "/v1/offices/{office_id}/waiting-room", "Whether booking at the office goes through its waiting room "
     "now, and at what pace", "Waiting room", None, None, {200: "WaitingRoom", 404: "unknown office"}),
    ("post", "/v1/offices/{office_id}/waiting-room", "Take a place in the office's waiting room, or read it again "
     "(one per account and room; asking more often moves nobody forward). Admitted: an admission pass for the "
     "booking", "Waiting room", "APPLICANT", None,
     {200: "WaitingRoomPlace", 404: "unknown office", 409: "waiting-room-closed: book directly"}),
    ("put", "/v1/offices/{office_id}/waiting-room", "Turn the office's waiting room on or off for a time "
     "(on again: everybody keeps their place)", "Waiting room", "SUPERVISOR", "WaitingRoomSwitch",
     {200: "WaitingRoom", 403: "not the supervisor of this office"}),
    ("delete", "/v1/offices/{office_id}/waiting-room", "Remove the supervisor's switch: the schedule (release "
     "openings, configuration) decides again", "Waiting room", "SUPERVISOR", None,
     {204: "removed", 403: "not the supervisor of this office"}),
])
