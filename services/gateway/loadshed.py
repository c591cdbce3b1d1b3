"""Load shedding: under overload every request gets a quick answer instead of timing out.

Each gateway worker process admits at most GATEWAY_MAX_INFLIGHT requests to the /v1 API at a
time. A request that finds them all busy waits at most GATEWAY_QUEUE_TIMEOUT_MS for a place, and
at most GATEWAY_MAX_WAITING requests wait at once; anything beyond is answered at once with
503 problem+json `overloaded` and `Retry-After: 1`. Waiting is kept short and bounded on purpose:
a thread that waits is a thread that cannot answer, and gunicorn queues connections in front of
its threads where nobody can see them - so the cheap refusal must stay cheap. Together with the
gRPC deadline of the booking calls (clients.py) an admitted request is answered within ~2 s.

Health, readiness, metrics and docs are never shed (probes must see the truth under load).
"""
from __future__ import annotations

import threading
import time

from flask import Flask, g, request
from prometheus_client import Counter

from servicekit.config import env_int
from services.gateway.problems import Problem, response

SHED = Counter("gateway_requests_shed_total", "Requests refused with 503 overloaded by the gateway's "
               "concurrency limit, by route and reason.", ["method", "route", "reason"])
PREFIX = "/v1/"
RETRY_AFTER_S = 1


class Limiter:
    """At most `max_inflight` holders; a newcomer waits up to `queue_timeout_s`, and at most
    `max_waiting` newcomers wait at once (the others are refused without waiting)."""

    def __init__(self, max_inflight: int, queue_timeout_s: float, max_waiting: int):
        if max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        self.max_inflight, self.queue_timeout_s = max_inflight, max(0.0, queue_timeout_s)
        self.max_waiting = max(0, max_waiting)
        self._slots = threading.BoundedSemaphore(max_inflight)
        self._lock = threading.Lock()
        self._waiting = 0
        self._inflight = 0

    def try_acquire(self) -> str | None:
        """None when admitted (call release() later); otherwise why not: 'queue-full' or 'timeout'."""
        if self._slots.acquire(blocking=False):
            self._count(+1)
            return None
        with self._lock:
            if self._waiting >= self.max_waiting or self.queue_timeout_s == 0:
                return "queue-full"
            self._waiting += 1
        try:
            admitted = self._slots.acquire(timeout=self.queue_timeout_s)
        finally:
            with self._lock:
                self._waiting -= 1
        if not admitted:
            return "timeout"
        self._count(+1)
        return None

    def release(self) -> None:
        self._count(-1)
        self._slots.release()

    def _count(self, delta: int) -> None:
        with self._lock:
            self._inflight += delta

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def waiting(self) -> int:
        return self._waiting


def from_env() -> Limiter:
    return Limiter(max_inflight=env_int("GATEWAY_MAX_INFLIGHT", 6),
                   queue_timeout_s=env_int("GATEWAY_QUEUE_TIMEOUT_MS", 250) / 1000.0,
                   max_waiting=env_int("GATEWAY_MAX_WAITING", 2))


def install(app: Flask, limiter: Limiter | None = None) -> Limiter:
    """Guard every /v1 route of `app` with `limiter` (default: from the environment).
    Register after the request-id hook so refusals carry their X-Request-Id."""
    limiter = limiter or from_env()

    @app.before_request
    def admit():
        if not request.path.startswith(PREFIX):
            return None
        started = time.perf_counter()
        refused = limiter.try_acquire()
        if refused is None:
            g.loadshed_admitted = True
            g.loadshed_wait_s = time.perf_counter() - started
            return None
        route = request.url_rule.rule if request.url_rule else "unmatched"
        SHED.labels(request.method, route, refused).inc()
        return response(Problem(503, "overloaded", "the service is busy right now; please retry shortly",
                                retry_after=RETRY_AFTER_S))

    @app.teardown_request
    def release(_exc):
        if g.pop("loadshed_admitted", False):
            limiter.release()

    app.extensions["loadshed"] = limiter
    return limiter
