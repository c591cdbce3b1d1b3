"""The gateway's load shedding: a bounded number of requests in flight, a bounded wait, and a
503 overloaded with Retry-After for the rest (never a hang)."""
from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, g, jsonify

from services.gateway import loadshed
from services.gateway.problems import Problem, response


def test_admits_up_to_the_limit_then_refuses_without_waiting_when_no_queue():
    limiter = loadshed.Limiter(max_inflight=2, queue_timeout_s=0.0, max_waiting=0)
    assert limiter.try_acquire() is None
    assert limiter.try_acquire() is None
    assert limiter.inflight == 2
    assert limiter.try_acquire() == "queue-full"
    limiter.release()
    assert limiter.try_acquire() is None
    limiter.release()
    limiter.release()
    assert limiter.inflight == 0


def test_a_waiter_is_admitted_when_a_place_frees_up():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=5.0, max_waiting=1)
    assert limiter.try_acquire() is None
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(limiter.try_acquire()))
    waiter.start()
    while limiter.waiting == 0:  # the waiter is queued
        threading.Event().wait(0.005)
    assert limiter.try_acquire() == "queue-full"  # only one may wait
    limiter.release()
    waiter.join(5)
    assert outcome == [None]
    assert limiter.inflight == 1 and limiter.waiting == 0
    limiter.release()


def test_a_waiter_gives_up_after_the_queue_timeout():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=0.05, max_waiting=4)
    assert limiter.try_acquire() is None
    assert limiter.try_acquire() == "timeout"
    assert limiter.waiting == 0 and limiter.inflight == 1
    limiter.release()


def test_releasing_more_than_acquired_is_a_bug_not_a_bigger_limit():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=0.0, max_waiting=0)
    with pytest.raises(ValueError):
        limiter.release()


def test_limits_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_MAX_INFLIGHT", "3")
    monkeypatch.setenv("GATEWAY_QUEUE_TIMEOUT_MS", "120")
    monkeypatch.setenv("GATEWAY_MAX_WAITING", "5")
    limiter = loadshed.from_env()
    assert (limiter.max_inflight, limiter.queue_timeout_s, limiter.max_waiting) == (3, 0.12, 5)
    with pytest.raises(ValueError):
        loadshed.Limiter(max_inflight=0, queue_timeout_s=0.1, max_waiting=1)


def _app(limiter):
    app = Flask(__name__)
    entered, proceed = threading.Event(), threading.Event()

    @app.get("/v1/slow")
    def slow():
        entered.set()
        proceed.wait(5)
        return jsonify({"ok": True})

    @app.get("/v1/boom")
    def boom():
        raise Problem(409, "slot-full", "full")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    app.register_error_handler(Problem, response)
    loadshed.install(app, limiter)
    return app, entered, proceed


def test_the_gateway_answers_503_overloaded_with_retry_after_and_frees_places():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=0.0, max_waiting=0)
    app, entered, proceed = _app(limiter)
    before = loadshed.SHED.labels("GET", "/v1/slow", "queue-full")._value.get()
    results = []
    t = threading.Thread(target=lambda: results.append(app.test_client().get("/v1/slow").status_code))
    t.start()
    assert entered.wait(5)
    client = app.test_client()
    refused = client.get("/v1/slow")
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"].endswith("/overloaded")
    assert loadshed.SHED.labels("GET", "/v1/slow", "queue-full")._value.get() == before + 1
    assert client.get("/healthz").status_code == 200  # probes are never shed
    proceed.set()
    t.join(5)
    assert results == [200]
    assert limiter.inflight == 0
    # an error answer releases its place too
    assert client.get("/v1/boom").status_code == 409
    assert limiter.inflight == 0
    assert client.get("/v1/slow").status_code == 200


def test_the_limit_shrinks_while_admitted_requests_fail_with_503_and_grows_back():
    limiter = loadshed.Limiter(max_inflight=6, queue_timeout_s=0.0, max_waiting=0)
    assert limiter.limit == 6
    for _ in range(10):  # admitted requests whose service calls hit their deadline
        assert limiter.try_acquire() is None
        limiter.release(overloaded=True)
    assert limiter.limit == 1  # never below one: something must probe whether the service recovered
    assert limiter.try_acquire() is None
    assert limiter.try_acquire() == "queue-full"  # only one place now
    limiter.release()
    for _ in range(20):  # answers come in time again, every place taken
        held = 0
        while limiter.try_acquire() is None:
            held += 1
        assert held == limiter.limit
        for _ in range(held):
            limiter.release()
    assert limiter.limit == 6


def test_the_limit_grows_only_while_it_is_in_use():
    """A quiet spell must not grow the limit back to the maximum: a sudden overload would get in at
    once (RFC 7661's congestion window validation, for the same reason)."""
    limiter = loadshed.Limiter(max_inflight=6, queue_timeout_s=0.0, max_waiting=0)
    for _ in range(3):
        assert limiter.try_acquire() is None
        limiter.release(overloaded=True)
    assert limiter.limit == 2  # 6 * 0.75^3 = 2.5
    for _ in range(50):  # one request at a time: the limit of 2 is never reached
        assert limiter.try_acquire() is None
        limiter.release()
    assert limiter.limit == 2
    for _ in range(2):  # every place taken: the first release of each round finds the limit in use
        held = 0
        while limiter.try_acquire() is None:
            held += 1
        assert held == 2
        for _ in range(held):
            limiter.release()
    assert limiter.limit == 3  # 2.53 + 1/2.53 + 1/2.92


def test_a_service_503_shrinks_the_limit_of_the_gateway():
    limiter = loadshed.Limiter(max_inflight=4, queue_timeout_s=0.0, max_waiting=0)
    app = Flask(__name__)

    @app.get("/v1/late")
    def late():
        raise Problem(503, "service-unavailable", "a service is temporarily unavailable", retry_after=2)

    app.register_error_handler(Problem, response)
    loadshed.install(app, limiter)
    client = app.test_client()
    assert client.get("/v1/late").status_code == 503
    assert limiter.limit == 3 and limiter.inflight == 0
    assert loadshed.ADMISSION_LIMIT._value.get() == 3  # what SREs see of the adaptive limit


def test_a_booking_call_that_used_most_of_its_budget_shrinks_the_limit_before_calls_miss_it():
    """Shrinking only on deadline 503s let a third of the admitted bookings in an overload run out of
    time after booking had done their work; a slow answer is the earlier sign."""
    from services.gateway import clients
    limiter = loadshed.Limiter(max_inflight=4, queue_timeout_s=0.0, max_waiting=0)
    app = Flask(__name__)
    delays = iter([0.01, 0.8, 0.01])

    class Stub:
        def Book(self, request, timeout):
            time.sleep(next(delays))
            return "booked"

    @app.post("/v1/book")
    def book():
        return clients._WithinBudget(Stub(), 1.3).Book(None)

    loadshed.install(app, limiter)
    client = app.test_client()
    assert client.post("/v1/book").status_code == 200 and limiter.limit == 4  # quick: no change
    assert client.post("/v1/book").status_code == 200 and limiter.limit == 3  # slow success: shrinks
    assert client.post("/v1/book").status_code == 200 and limiter.limit == 3  # quick: grows by 1/3


def test_a_request_that_waited_too_long_for_a_thread_is_refused_without_taking_a_place():
    limiter = loadshed.Limiter(max_inflight=4, queue_timeout_s=0.0, max_waiting=0)
    app = Flask(__name__)
    waited = {"s": 0.0}

    @app.before_request
    def arrived():  # as the gateway's request-id hook does with the worker's arrival stamp
        g.started = time.perf_counter() - waited["s"]

    @app.get("/v1/work")
    def work():
        return jsonify({"ok": True})

    app.register_error_handler(Problem, response)
    loadshed.install(app, limiter, max_queue_wait_s=0.5)
    client = app.test_client()
    assert client.get("/v1/work").status_code == 200
    waited["s"] = 0.8
    before = loadshed.SHED.labels("GET", "/v1/work", "queued-too-long")._value.get()
    refused = client.get("/v1/work")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert loadshed.SHED.labels("GET", "/v1/work", "queued-too-long")._value.get() == before + 1
    assert limiter.inflight == 0 and limiter.limit == 4  # no place taken, the limit untouched


def test_the_worker_hands_the_app_the_time_a_request_arrived(monkeypatch):
    from gunicorn.workers.gthread import ThreadWorker

    from services.gateway import worker
    seen = []
    monkeypatch.setattr(ThreadWorker, "enqueue_req", lambda self, conn: None)
    monkeypatch.setattr(ThreadWorker, "handle_request", lambda self, req, conn: seen.append(worker.arrived_at()))
    w = worker.ArrivalStampedWorker.__new__(worker.ArrivalStampedWorker)  # no gunicorn arbiter needed
    conn = type("Conn", (), {})()
    before = time.perf_counter()
    w.enqueue_req(conn)
    time.sleep(0.01)
    w.handle_request(None, conn)
    assert seen and before <= seen[0] <= before + 0.01
    assert worker.arrived_at() is None  # cleared once the request is answered


# -- pass holders (issue 19): admitted means served ------------------------------------------------
def _waiter(limiter, outcome, **kwargs):
    t = threading.Thread(target=lambda: outcome.append(limiter.try_acquire(**kwargs)))
    t.start()
    return t


def test_pass_holders_have_reserved_places_while_they_come():
    limiter = loadshed.Limiter(max_inflight=4, queue_timeout_s=0.0, max_waiting=0, reserved=2,
                               max_priority_waiting=4)
    assert [limiter.try_acquire() for _ in range(4)] == [None, None, None, None]  # no pass holder yet: all 4
    for _ in range(4):
        limiter.release()
    assert limiter.try_acquire(priority=True, timeout_s=0) is None
    assert [limiter.try_acquire() for _ in range(2)] == [None, "queue-full"]  # 2 of 4 kept for pass holders
    assert limiter.try_acquire(priority=True, timeout_s=0) is None  # the reserved places
    assert limiter.try_acquire(priority=True, timeout_s=0) is None
    assert limiter.try_acquire(priority=True, timeout_s=0) == "priority-queue-full"


def test_a_pass_holder_waits_its_turn_first_in_first_out_and_before_ordinary_waiters():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=5.0, max_waiting=4, max_priority_waiting=2)
    assert limiter.try_acquire() is None
    order: list[str] = []
    ordinary = _waiter(limiter, order)  # an ordinary request waits first
    while limiter.waiting == 0:
        time.sleep(0.005)
    first: list = []
    second: list = []
    t1 = _waiter(limiter, first, priority=True, timeout_s=5.0)
    while limiter.priority_waiting < 1:
        time.sleep(0.005)
    t2 = _waiter(limiter, second, priority=True, timeout_s=5.0)
    while limiter.priority_waiting < 2:
        time.sleep(0.005)
    assert limiter.try_acquire(priority=True, timeout_s=5.0) == "priority-queue-full"  # its line is bounded
    limiter.release()
    t1.join(5)
    assert first == [None] and second == [] and order == []  # the first pass holder, not the ordinary waiter
    limiter.release()
    t2.join(5)
    assert second == [None] and order == []
    limiter.release()
    ordinary.join(5)
    assert order == [None]
    limiter.release()


def test_a_pass_holder_is_answered_within_its_wait():
    limiter = loadshed.Limiter(max_inflight=1, queue_timeout_s=0.0, max_waiting=0, max_priority_waiting=2)
    assert limiter.try_acquire() is None
    started = time.monotonic()
    assert limiter.try_acquire(priority=True, timeout_s=0.1) == "priority-timeout"
    assert time.monotonic() - started < 1.0 and limiter.priority_waiting == 0


# -- sign-ins wait in a line of their own (issue 19) ------------------------------------------------
def test_a_burst_of_sign_ins_waits_in_its_own_line_instead_of_being_refused():
    app = Flask(__name__)
    gate = threading.Event()

    @app.post("/v1/auth/token")
    def token():
        gate.wait(5)  # the password hash
        return jsonify(ok=True)

    @app.get("/v1/other")
    def other():
        return jsonify(ok=True)

    lane = loadshed.install_lane(app, "logins", ("token",),
                                 loadshed.Limiter(max_inflight=1, queue_timeout_s=5.0, max_waiting=3), 2)
    shared = loadshed.install(app, loadshed.Limiter(max_inflight=1, queue_timeout_s=0.0, max_waiting=0))
    answers: list = []
    senders = [threading.Thread(target=lambda: answers.append(app.test_client().post("/v1/auth/token").status_code))
               for _ in range(4)]
    for t in senders:
        t.start()
    while lane.inflight + lane.waiting < 4:
        time.sleep(0.005)
    beyond = app.test_client().post("/v1/auth/token")  # the line is full: told when to come back
    assert beyond.status_code == 503 and beyond.headers["Retry-After"] == "2"
    assert app.test_client().get("/v1/other").status_code == 200  # sign-ins take no shared place
    assert shared.inflight == 0
    gate.set()
    for t in senders:
        t.join(5)
    assert answers == [200, 200, 200, 200]  # one hash at a time, every one answered


def test_a_pass_holders_call_budget_starts_after_its_wait_in_line():
    """The wait in the pass holders' line must not come off the booking call's deadline (it did once:
    every call of a holder that had waited timed out after booking had held its seat)."""
    from services.gateway import clients
    app = Flask(__name__)
    with app.test_request_context("/v1/x"):
        g.started = time.perf_counter() - 1.0  # arrived a second ago, most of it in the line
        assert clients._timeout(1.3) == pytest.approx(max(clients.MIN_CALL_S, clients.ANSWER_BUDGET_S - 1.0), abs=0.05)
        g.budget_from = time.perf_counter()  # got its place now
        assert clients._timeout(1.3) == pytest.approx(min(1.3, clients.ANSWER_BUDGET_S), abs=0.05)
