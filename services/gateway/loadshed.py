"""Load shedding: under overload every request gets a quick answer instead of timing out.

Each gateway worker process admits at most GATEWAY_MAX_INFLIGHT requests to the /v1 API at a
time, fewer while admitted requests end in a service's 503 or their booking call took more than
GATEWAY_SLOW_CALL_MS (700 ms of the 1.2 s answer budget) (an adaptive limit, see Limiter). A
request that finds them all busy waits at most GATEWAY_QUEUE_TIMEOUT_MS for a place, and at most
GATEWAY_MAX_WAITING requests wait at once; anything beyond is answered at once with 503 problem+json `overloaded` and `Retry-After: 1`. Waiting is kept short and bounded on purpose:
a thread that waits is a thread that cannot answer, and gunicorn queues connections in front of
its threads where nobody can see them - so the cheap refusal must stay cheap. Together with the
gRPC deadline of the booking calls (clients.py) an admitted request is answered within ~2 s.

A request that already waited more than GATEWAY_MAX_QUEUE_WAIT_MS for a gunicorn thread (see
worker.py) is refused at once too: most of its client's time is gone, and the work it would start
is what is queued behind it.

Health, readiness, metrics and docs are never shed (probes must see the truth under load).
"""
from __future__ import annotations

import collections
import threading
import time

from flask import Flask, g, request
from prometheus_client import Counter, Gauge

from servicekit.config import env_int
from services.gateway.problems import Problem, response

SHED = Counter("gateway_requests_shed_total", "Requests refused with 503 overloaded by the gateway's "
               "concurrency limit, by route and reason.", ["method", "route", "reason"])
ADMISSION_LIMIT = Gauge("gateway_admission_limit", "The adaptive in-flight limit of /v1 requests, summed "
                        "over the live gateway worker processes.", multiprocess_mode="livesum")
PREFIX = "/v1/"
RETRY_AFTER_S = 1
BUSY = "the service is busy right now; please retry shortly"  # the `overloaded` problem's detail


class Limiter:
    """At most `limit` holders; a newcomer waits up to `queue_timeout_s`, and at most `max_waiting`
    newcomers wait at once (the others are refused without waiting).

    `limit` adapts between `min_inflight` and `max_inflight` (AIMD, as TCP does): it shrinks by
    BACKOFF each time an admitted request ends in a 503 from a service (its call hit the deadline or
    found the service unavailable), and grows back by 1/limit with each request that did not, while
    the limit is in use (every place taken, or someone waiting). Under overload a fixed limit admits
    more requests than the starved services finish within their deadline, so every admitted request
    fails, and late; the adaptive limit admits what can still be finished. It grows only while in use
    as TCP's window does (RFC 7661): a limit nobody reached says nothing about what the services can
    take, and one grown back to the maximum in a quiet spell would let a sudden overload in at once.

    Priority holders (bookings carrying a valid admission pass, issue 19) are served before the
    others: `reserved` of the limit's places are theirs only, they wait in a FIFO line of their own
    (at most `max_priority_waiting`, each for the time it is given), and while one of them waits no
    ordinary request takes a freed place. So a person let in by the waiting room is not out-run by
    whoever retries fastest."""

    BACKOFF = 0.75

    def __init__(self, max_inflight: int, queue_timeout_s: float, max_waiting: int, min_inflight: int = 1,
                 reserved: int = 0, max_priority_waiting: int = 0):
        if max_inflight < 1:
            raise ValueError("max_inflight must be at least 1")
        self.max_inflight, self.queue_timeout_s = max_inflight, max(0.0, queue_timeout_s)
        self.min_inflight = min(max(1, min_inflight), max_inflight)
        self.max_waiting = max(0, max_waiting)
        self.reserved = max(0, reserved)
        self.max_priority_waiting = max(0, max_priority_waiting)
        self._cond = threading.Condition()
        self._waiting = 0
        self._inflight = 0
        self._limit = float(max_inflight)
        self._line: collections.deque = collections.deque()  # priority waiters, first come first served
        self._priority_seen = float("-inf")

    RESERVE_FOR_S = 10.0  # places stay reserved this long after the last priority holder came

    def _ordinary_room(self) -> bool:
        # the reserved places are kept free while priority holders come (a waiting room is open:
        # otherwise they would be idle capacity); at least one place stays ordinary
        limit = int(self._limit)
        if time.monotonic() - self._priority_seen < self.RESERVE_FOR_S:
            limit = max(min(1, limit), limit - self.reserved)
        return not self._line and self._inflight < limit

    def try_acquire(self, priority: bool = False, timeout_s: float | None = None) -> str | None:
        """None when admitted (call release() later); otherwise why not: 'queue-full' or 'timeout'.
        `priority`: a pass holder (see the class), waiting up to `timeout_s` in its own line."""
        if priority:
            return self._acquire_priority(self.queue_timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            if self._ordinary_room():
                self._inflight += 1
                return None
            if self._waiting >= self.max_waiting or self.queue_timeout_s == 0:
                return "queue-full"
            self._waiting += 1
            try:
                if not self._wait_for(self._ordinary_room, self.queue_timeout_s):
                    return "timeout"
                self._inflight += 1
                return None
            finally:
                self._waiting -= 1

    def _wait_for(self, ready, timeout_s: float) -> bool:
        """Wait (holding the condition between wake-ups) until ready() or timeout_s passed."""
        until = time.monotonic() + timeout_s
        while not ready():
            left = until - time.monotonic()
            if left <= 0:
                return False
            self._cond.wait(left)
        return True

    def _acquire_priority(self, timeout_s: float) -> str | None:
        with self._cond:
            self._priority_seen = time.monotonic()
            if not self._line and self._inflight < int(self._limit):
                self._inflight += 1
                return None
            if len(self._line) >= self.max_priority_waiting or timeout_s <= 0:
                return "priority-queue-full"
            me = object()
            self._line.append(me)
            try:
                if not self._wait_for(lambda: self._line[0] is me and self._inflight < int(self._limit), timeout_s):
                    return "priority-timeout"
                self._inflight += 1
                return None
            finally:
                self._line.remove(me)
                self._cond.notify_all()  # the next in line (or an ordinary waiter) may go now

    def full(self) -> bool:
        """Whether an ordinary newcomer would be refused now without waiting (read without the lock:
        a hint for the front door, which refuses before Flask; the shedder decides the others)."""
        return not self._ordinary_room() and (self._waiting >= self.max_waiting or self.queue_timeout_s == 0)

    @property
    def priority_waiting(self) -> int:
        return len(self._line)

    def release(self, overloaded: bool = False) -> None:
        """`overloaded`: the request ended in a service's 503 (shrink the limit)."""
        with self._cond:
            if self._inflight <= 0:
                raise ValueError("released more places than were acquired")
            in_use = self._inflight >= int(self._limit) or self._waiting > 0 or bool(self._line)
            self._inflight -= 1
            if overloaded:
                self._limit = max(float(self.min_inflight), self._limit * self.BACKOFF)
            elif in_use:
                self._limit = min(float(self.max_inflight), self._limit + 1.0 / self._limit)
            self._cond.notify_all()

    @property
    def inflight(self) -> int:
        return self._inflight

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def limit(self) -> int:
        return int(self._limit)


def from_env() -> Limiter:
    return Limiter(max_inflight=env_int("GATEWAY_MAX_INFLIGHT", 6), min_inflight=env_int("GATEWAY_MIN_INFLIGHT", 1),
                   queue_timeout_s=env_int("GATEWAY_QUEUE_TIMEOUT_MS", 250) / 1000.0,
                   max_waiting=env_int("GATEWAY_MAX_WAITING", 2),
                   reserved=env_int("GATEWAY_PASS_RESERVED_INFLIGHT", 2),
                   max_priority_waiting=env_int("GATEWAY_PASS_MAX_WAITING", 24))


def default_max_queue_wait_s() -> float:
    return env_int("GATEWAY_MAX_QUEUE_WAIT_MS", 500) / 1000.0


def install(app: Flask, limiter: Limiter | None = None, max_queue_wait_s: float | None = None) -> Limiter:
    """Guard every /v1 route of `app` with `limiter` (default: from the environment).
    Register after the request-id hook (which notes when the request arrived) so refusals carry
    their X-Request-Id."""
    limiter = limiter or from_env()
    if max_queue_wait_s is None:
        max_queue_wait_s = default_max_queue_wait_s()

    @app.before_request
    def admit():
        if not request.path.startswith(PREFIX) or g.get("loadshed_exempt"):
            return None  # exempt: bounded by a limiter of its own (the waiting room's)
        now = time.perf_counter()
        queued_s = now - g.get("started", now)
        priority_wait = g.get("priority_wait_s")
        if priority_wait is not None:
            # a pass holder (waiting_room.guard): never shed for its queueing in gunicorn, waits in
            # its own line for what is left of the answer's budget
            refused = limiter.try_acquire(priority=True, timeout_s=priority_wait - queued_s)
            g.priority_waited_s = time.perf_counter() - now
            g.budget_from = time.perf_counter()  # the booking call's budget starts now (clients._timeout)
        else:
            refused = "queued-too-long" if queued_s > max_queue_wait_s else limiter.try_acquire()
        if refused is None:
            g.loadshed_admitted = True
            return None
        route = request.url_rule.rule if request.url_rule else "unmatched"
        SHED.labels(request.method, route, refused).inc()
        return response(Problem(503, "overloaded", BUSY,
                                retry_after=RETRY_AFTER_S))

    @app.after_request
    def outcome(resp):
        g.loadshed_status = resp.status_code
        return resp

    shown = [limiter.limit]
    ADMISSION_LIMIT.set(shown[0])

    slow_call_s = env_int("GATEWAY_SLOW_CALL_MS", 700) / 1000.0

    @app.teardown_request
    def release(_exc):
        if g.pop("loadshed_admitted", False):
            # congestion: a service's 503, or a budgeted (booking) call that used most of its answer
            # budget - shrinking then, before calls miss the deadline, wastes no booking's work
            limiter.release(overloaded=g.get("loadshed_status") == 503 or g.get("budgeted_call_s", 0.0) > slow_call_s)
            if limiter.limit != shown[0]:  # only on a change: a multiprocess gauge write is a file write
                shown[0] = limiter.limit
                ADMISSION_LIMIT.set(shown[0])

    app.extensions["loadshed"] = limiter
    return limiter


# Requests that hash a password (scrypt, CPU-bound on purpose: ~0.1-0.5 s of a core each). A burst of
# sign-ins would fill the shared in-flight places and be refused in a fraction of a second while the
# CPU still keeps up; in their own line they wait their turn (a slower sign-in, not a 503), at most
# GATEWAY_LOGIN_MAX_INFLIGHT hashing per worker (as many as booking hashes at once: more only queues
# there, past the call's deadline) and for at most GATEWAY_LOGIN_QUEUE_MS (5 s: below a client's usual
# 10 s timeout, or the wait would end in no answer at all).
PASSWORD_ENDPOINTS = ("accounts.token", "accounts.register", "accounts.start_totp_enrolment",
                      "accounts.confirm_totp_enrolment", "accounts.confirm_password_reset")
LOGIN_RETRY_AFTER_S = 2


def install_lane(app: Flask, name: str, endpoints: tuple[str, ...], limiter: Limiter,
                 retry_after_s: int = RETRY_AFTER_S) -> Limiter:
    """Give `endpoints` a limiter of their own instead of the shared one (register before install()):
    beyond it, 503 overloaded with Retry-After, as the shared one answers."""
    flag = f"lane_{name}"

    @app.before_request
    def lane():
        if request.endpoint not in endpoints:
            return None
        refused = limiter.try_acquire()
        if refused is not None:
            SHED.labels(request.method, request.url_rule.rule, f"{name}-{refused}").inc()
            return response(Problem(503, "overloaded", BUSY,
                                    retry_after=retry_after_s))
        g.setdefault(flag, True)
        g.loadshed_exempt = True
        return None

    @app.teardown_request
    def release(_exc):
        if g.pop(flag, False):
            limiter.release()

    app.extensions[f"lane-{name}"] = limiter
    return limiter


def install_logins(app: Flask) -> Limiter:
    limiter = Limiter(max_inflight=env_int("GATEWAY_LOGIN_MAX_INFLIGHT", 2),
                      queue_timeout_s=env_int("GATEWAY_LOGIN_QUEUE_MS", 5_000) / 1000.0,
                      max_waiting=env_int("GATEWAY_LOGIN_MAX_WAITING", 32))
    return install_lane(app, "logins", PASSWORD_ENDPOINTS, limiter, LOGIN_RETRY_AFTER_S)
