"""The gateway's front door: under overload, the load shedder's refusal is answered before Flask (the
same 503 problem+json with Retry-After, in the applicant's language), and only what the shedder
would refuse at once is refused there."""
from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from servicekit.cache import Memo
from services.gateway import admission, front_door, loadshed, waiting_room, worker


@pytest.fixture
def gateway(monkeypatch, tmp_path):
    from servicekit import identity
    from services.gateway import app as gateway_app, auth
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-of-the-front-door-0123456789")
    for name, value in identity.make_local_keys(tmp_path).items():
        monkeypatch.setenv(name, value)
    auth._signer.cache_clear()
    now = time.time()
    room = admission.Room("TBK", f"TBK:s{int(now)}", now - 60, now + 3600, 2.0, 0, "supervisor")
    monkeypatch.setattr(waiting_room, "room_of", lambda office_id, now=None: room if office_id == "TBK" else None)
    monkeypatch.setattr(waiting_room, "_not_before", Memo(100))
    app = gateway_app.create_app()
    token, _ttl = auth.issue("acc-1", "APPLICANT", "")
    yield app, {"Authorization": f"Bearer {token}"}
    identity.current.set(None)
    auth._signer.cache_clear()


def door_refusals(route: str, reason: str) -> float:
    return REGISTRY.get_sample_value("gateway_requests_shed_total", {
        "method": "POST", "route": route, "reason": "door-" + reason}) or 0.0


BOOK = "/v1/applications/<application_id>/appointment"


def fill(app) -> None:
    """Every in-flight place and waiting place of the shedder taken."""
    shedder = app.extensions["loadshed"]
    while shedder.try_acquire() is None:
        pass
    shedder._waiting = shedder.max_waiting


def test_a_full_shedder_is_answered_at_the_door_in_the_applicants_language(gateway, monkeypatch):
    app, headers = gateway
    fill(app)
    views = []
    monkeypatch.setattr(app, "full_dispatch_request", lambda: views.append(1))  # Flask must not be reached
    before = door_refusals(BOOK, "queue-full")
    client = app.test_client()
    body = {"slot_id": "BTM-20270104-REGULAR-0900"}
    refused = client.post("/v1/applications/app-1/appointment", json=body,
                          headers={**headers, "X-Request-Id": "rid-42"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.mimetype == "application/problem+json" and refused.headers["X-Request-Id"] == "rid-42"
    assert refused.json["type"].endswith("/overloaded") and refused.json["title"] == "Layanan sedang sibuk"
    assert refused.headers["Content-Language"] == "id"
    english = client.post("/v1/applications/app-1/appointment", json=body,
                          headers={**headers, "Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 503 and english.json["detail"] == loadshed.BUSY
    assert english.headers["Content-Language"] == "en" and len(english.headers["X-Request-Id"]) == 36
    assert views == [] and door_refusals(BOOK, "queue-full") == before + 2


def test_what_has_a_line_of_its_own_is_not_refused_at_the_door(gateway):
    app, headers = gateway
    fill(app)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    # a booking at an office whose room is open: the room tells it where to queue
    room = client.post("/v1/applications/app-1/appointment", json={"slot_id": "TBK-20270104-REGULAR-0900"},
                       headers=headers)
    assert room.status_code == 429 and room.json["type"].endswith("/waiting-room")
    # a pass holder waits in the pass holders' line (and here is refused by the shedder, not the door)
    before = door_refusals(BOOK, "queue-full")
    holder = client.post("/v1/applications/app-1/appointment", json={"slot_id": "BTM-20270104-REGULAR-0900"},
                         headers={**headers, "X-Admission-Pass": "not-a-pass"})
    assert holder.status_code != 503 or holder.json["type"].endswith("/overloaded")
    assert door_refusals(BOOK, "queue-full") == before
    # unknown paths are Flask's to word (its shedder runs before routing: a 503 from Flask, not the door)
    client.post("/v1/nowhere", json={})
    assert REGISTRY.get_sample_value("gateway_requests_shed_total", {
        "method": "POST", "route": "unmatched", "reason": "queue-full"}) >= 1


def test_a_request_that_waited_too_long_for_a_thread_is_refused_at_the_door(gateway):
    app, headers = gateway
    before = door_refusals(BOOK, "queued-too-long")
    worker._current.arrived_at = time.perf_counter() - 5.0  # as the arrival-stamped worker notes it
    try:
        late = app.test_client().post("/v1/applications/app-1/appointment",
                                      json={"slot_id": "BTM-20270104-REGULAR-0900"}, headers=headers)
    finally:
        worker._current.arrived_at = None
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    assert door_refusals(BOOK, "queued-too-long") == before + 1


def test_request_ids_are_the_clients_when_sane_and_fresh_otherwise():
    assert front_door.request_id("abc-123") == "abc-123"
    fresh = {front_door.request_id("") for _ in range(1000)} | {front_door.request_id("x" * 200)}
    assert len(fresh) == 1001 and all(len(r) == 36 and r[14] == "4" for r in fresh)
    assert front_door.request_id("bad\nid") != "bad\nid"


def test_a_room_that_cannot_be_read_is_left_to_flask(gateway, monkeypatch):
    app, headers = gateway
    fill(app)

    def unreadable(office_id, now=None):
        raise RuntimeError("store gone")
    monkeypatch.setattr(waiting_room, "room_of", unreadable)
    before = door_refusals(BOOK, "queue-full")
    answer = app.test_client().post("/v1/applications/app-1/appointment",
                                    json={"slot_id": "BTM-20270104-REGULAR-0900"}, headers=headers)
    assert door_refusals(BOOK, "queue-full") == before  # not refused at the door
    assert answer.status_code == 500 and answer.json["type"].endswith("/internal-error")  # Flask's guard logged it


def test_what_matches_no_route_is_worded_by_flask_not_refused_at_the_door(gateway):
    """The door matches routes with one adapter bound at the first request (no per-request bind)."""
    app, headers = gateway
    fill(app)
    client = app.test_client()
    before = door_refusals(BOOK, "queue-full")
    wrong_method = client.delete("/v1/applications/app-1/appointment", headers=headers)
    non_ascii = client.post("/v1/applications/%C3%A9%E2%82%AC/appointment",
                            json={"slot_id": "BTM-20270104-REGULAR-0900"}, headers=headers)
    unmatched = client.post("/v1/applications/app-1/appointment/x", json={}, headers=headers)
    assert door_refusals(BOOK, "queue-full") == before + 1  # only the well-formed booking (é€ is an id)
    assert non_ascii.status_code == 503 and non_ascii.json["type"].endswith("/overloaded")
    for answer in (wrong_method, unmatched):  # Flask's shedder or router answers, in problem+json
        assert answer.mimetype == "application/problem+json" and answer.status_code in (404, 405, 503)


def test_a_metric_child_is_looked_up_once():
    from prometheus_client import CollectorRegistry, Counter
    from servicekit.metrics import Children
    counter = Counter("children_probe_total", "probe", ["route"], registry=CollectorRegistry())
    children = Children(counter)
    assert children("/a") is children("/a") is counter.labels("/a")
    children("/a").inc(2)
    assert counter.labels("/a")._value.get() == 2


def booking_environ(office: str = "BTM") -> dict:
    import io
    body = ('{"slot_id": "%s-20270104-REGULAR-0900"}' % office).encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/applications/app-1/appointment",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "HTTP_X_REQUEST_ID": "rid-7"}


def test_an_inline_refusal_never_waits_on_the_store_for_the_room(gateway, monkeypatch):
    """The worker asks the door outside a request thread (may_wait=False): an office whose room it has
    not read yet goes on to a thread, which reads it; one it knows is closed is refused there and then."""
    app, _headers = gateway
    fill(app)
    door = app.wsgi_app
    assert door.busy()
    monkeypatch.setattr(waiting_room, "room_of", lambda *a, **k: pytest.fail("read the room in the poller"))
    monkeypatch.setattr(door, "room_known", lambda office_id: None)
    before = door_refusals(BOOK, "queue-full")
    assert door.refusal(booking_environ(), time.perf_counter(), may_wait=False) is None
    monkeypatch.setattr(door, "room_known", lambda office_id: office_id == "TBK")
    assert door.refusal(booking_environ("TBK"), time.perf_counter(), may_wait=False) is None  # the room's
    status, headers, body = door.refusal(booking_environ(), time.perf_counter(), may_wait=False)
    assert status.startswith("503") and dict(headers)["Retry-After"] == "1" and dict(headers)["X-Request-Id"] == "rid-7"
    assert b"/overloaded" in body and door_refusals(BOOK, "queue-full") == before + 1


def test_a_door_with_free_places_is_not_busy_and_refuses_nothing(gateway):
    app, _headers = gateway
    assert not app.wsgi_app.busy()
    assert app.wsgi_app.refusal(booking_environ(), time.perf_counter(), may_wait=False) is None


def test_the_room_is_known_only_from_what_the_worker_has_read(monkeypatch):
    monkeypatch.setattr(waiting_room, "_switch_cache", waiting_room.TtlCache(60))
    monkeypatch.setattr(waiting_room, "settings", lambda: admission.Settings(
        rate=10, draw_seconds=0, always_on=frozenset(), release_minutes=0, prequeue_minutes=0))
    assert waiting_room.room_known("MKS") is None  # not read yet: the caller must not guess
    waiting_room._switch_cache.get("MKS", lambda: (None,))
    assert waiting_room.room_known("MKS") is False
    now = time.time()
    waiting_room._switch_cache.get("DPS", lambda: ({"active": True, "from": now - 1, "until": now + 60,
                                                     "rate": None, "draw_seconds": None},))
    assert waiting_room.room_known("DPS") is True
