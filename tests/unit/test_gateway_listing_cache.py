"""The gateway's cache of the public slot listing: repeated listings of a day within the TTL cost
one booking call, answer without taking a place in the load shedder, and errors are not cached."""
from __future__ import annotations

import grpc
import pytest

from passport.v1 import booking_pb2
from services.gateway import app as gateway_app
from services.gateway import clients


class FakeBooking:
    def __init__(self):
        self.calls = []
        self.fail = None

    def ListSlots(self, req, timeout=None):
        self.calls.append((req.office_id, req.date, req.lane))
        if self.fail:
            raise self.fail
        return booking_pb2.ListSlotsResponse(items=[booking_pb2.Slot(
            slot_id=f"{req.office_id}-{req.date}-0800", office_id=req.office_id, date=req.date,
            start_time="08:00", end_time="08:30", lane="REGULAR", capacity=4, remaining=len(self.calls))])


class NotFound(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.NOT_FOUND

    def details(self):
        return "no office 'NOPE'"

    def trailing_metadata(self):
        return ()


@pytest.fixture
def api(monkeypatch):
    def make(ttl: str, max_inflight: str = "6"):
        monkeypatch.setenv("GATEWAY_LISTING_CACHE_SECONDS", ttl)
        monkeypatch.setenv("GATEWAY_MAX_INFLIGHT", max_inflight)
        fake = FakeBooking()
        monkeypatch.setattr(clients, "booking", lambda: fake)
        app = gateway_app.create_app()
        return app, app.test_client(), fake
    return make


def test_a_day_listed_again_within_the_ttl_is_answered_from_the_cache(api):
    _, client, fake = api("30")
    first = client.get("/v1/offices/BTM/slots?date=2030-01-02&lane=REGULAR")
    again = client.get("/v1/offices/BTM/slots?date=2030-01-02&lane=REGULAR")
    other_day = client.get("/v1/offices/BTM/slots?date=2030-01-03&lane=REGULAR")
    assert first.status_code == again.status_code == other_day.status_code == 200
    assert again.get_json() == first.get_json()
    assert first.get_json()["items"][0]["remaining"] == 1
    assert fake.calls == [("BTM", "2030-01-02", "REGULAR"), ("BTM", "2030-01-03", "REGULAR")]
    assert again.headers["Cache-Control"] == "public, max-age=30"
    assert again.headers["X-Request-Id"]


def test_with_ttl_zero_every_listing_asks_booking(api):
    _, client, fake = api("0")
    for _ in range(3):
        assert client.get("/v1/offices/BTM/slots?date=2030-01-02").status_code == 200
    assert len(fake.calls) == 3


def test_errors_are_not_cached(api):
    _, client, fake = api("30")
    fake.fail = NotFound()
    for _ in range(2):
        resp = client.get("/v1/offices/NOPE/slots?date=2030-01-02")
        assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert len(fake.calls) == 2


def test_a_cached_listing_needs_no_place_in_the_load_shedder(api):
    app, client, fake = api("30", max_inflight="1")
    assert client.get("/v1/offices/BTM/slots?date=2030-01-02").status_code == 200
    limiter = app.extensions["loadshed"]
    assert limiter.try_acquire() is None  # the only place is now taken
    try:
        assert client.get("/v1/offices/BTM/slots?date=2030-01-02").status_code == 200
        refused = client.get("/v1/offices/BTM/slots?date=2030-01-03")  # not cached: needs a place
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    finally:
        limiter.release()
    assert len(fake.calls) == 1


def test_a_booking_call_gets_what_is_left_of_the_answer_budget(monkeypatch):
    """Time spent before the call (admission wait, earlier calls) comes off its deadline."""
    import time
    from flask import Flask, g
    seen = []

    class Stub:
        def ListSlots(self, req, timeout=None):
            seen.append(timeout)

    monkeypatch.setattr(clients, "ANSWER_BUDGET_S", 1.5)
    budgeted = clients._WithinBudget(Stub(), 1.3)
    budgeted.ListSlots(booking_pb2.ListSlotsRequest())  # outside a request: the call's own deadline
    with Flask(__name__).test_request_context("/"):
        g.started = time.perf_counter()
        budgeted.ListSlots(booking_pb2.ListSlotsRequest())  # a fresh request: the call's deadline
        g.started = time.perf_counter() - 0.5  # waited 0.5 s for admission
        budgeted.ListSlots(booking_pb2.ListSlotsRequest())
        g.started = time.perf_counter() - 5  # the budget is spent: a last short try, not a hang
        budgeted.ListSlots(booking_pb2.ListSlotsRequest())
    assert seen[0] == seen[1] == 1.3
    assert 0.9 < seen[2] <= 1.0
    assert seen[3] == clients.MIN_CALL_S
