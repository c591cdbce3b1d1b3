"""The first code a request meets, before Flask: it names the request (X-Request-Id) and, under
overload, answers the load shedder's refusal itself.

In a 3x overload most requests are refused with 503 `overloaded`, and a refusal made by Flask (a
request context, every before/after hook, a JSON encoding) cost about as much CPU as the gunicorn
worker's own handling: at ~1,400 requests/s the gateway's workers took both cores, and the
services were left no CPU to finish the bookings that had been admitted (5 bookings in 20 s).
Here the same refusal is a URL match, a look at the shedder and pre-encoded bytes.

The door refuses only what the load shedder would refuse at once: a /v1 request subject to it (not
a password sign-in or the waiting room, which have lanes of their own; not a slot listing, which the
listing cache may answer; not a booking carrying an admission pass, which waits in the pass
holders' line) while the shedder has no free place and no free place to wait, or after it waited
longer than GATEWAY_MAX_QUEUE_WAIT_MS for a thread. A booking for an office whose waiting room is
open goes on to Flask, where the room tells it where to queue (429 `waiting-room`). Everything else
goes on, and the shedder decides as before. A door refusal is counted like any other (metrics, the
access summary) but starts no trace span.

The door is asked twice over: as WSGI middleware, by the request's thread; and, on a kept-alive
connection while the shedder is full, by the gunicorn worker's poller thread before any thread is
involved (worker.py, `refusal(..., may_wait=False)`: the same answer, but a room not read yet is
left to a thread rather than read there).
"""
from __future__ import annotations

import io
import json
import random
import time
import uuid
from typing import Callable

from werkzeug.exceptions import HTTPException

from servicekit.metrics import Children
from services.gateway import listing_cache, loadshed, waiting_room, worker
from services.gateway.problems import BASE, language_of, texts_in

# Endpoints the shedder does not guard itself (each has its own line or cheap answer)
NOT_AT_THE_DOOR = frozenset(loadshed.PASSWORD_ENDPOINTS) | frozenset(waiting_room.ROOM_ENDPOINTS) | {
    listing_cache.ENDPOINT}


def request_id(header: str) -> str:
    """The client's X-Request-Id when it is a sane one, else a new random id. From `random`, not
    uuid4 (os.urandom: a system call per request, ~10% of a worker's time in an overload); a
    correlation id needs to be unique, not secret. Python reseeds `random` in each forked worker."""
    if 0 < len(header) <= 128 and header.isprintable():
        return header
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def _body(lang: str) -> bytes:
    title, detail = texts_in(lang, "overloaded", 503, loadshed.BUSY, {})
    return json.dumps({"type": BASE + "overloaded", "title": title, "status": 503, "detail": detail}).encode()


class FrontDoor:
    """WSGI middleware around the Flask app's wsgi_app. `observe(method, route, status, started)`
    records an answer in the gateway's metrics and access summary; `room_open(office_id)` says
    whether an office's waiting room is open, `room_known(office_id)` the same from what the worker
    has read already (None when a read is due)."""

    def __init__(self, app, limiter: loadshed.Limiter, observe: Callable[[str, str, int, float], None],
                 room_open: Callable[[str], bool], max_queue_wait_s: float,
                 room_known: Callable[[str], bool | None] = lambda office_id: None):
        self.app, self.inner = app, app.wsgi_app
        self.limiter, self.observe, self.room_open, self.room_known = limiter, observe, room_open, room_known
        self.max_queue_wait_s = max_queue_wait_s
        self.bodies = {lang: _body(lang) for lang in ("id", "en")}
        # the URL map bound once (bind_to_environ per request was ~15% of a refusal); rules added
        # later are still matched (the adapter reads the map)
        self._routes = app.url_map.bind("gateway")
        self._shed = Children(loadshed.SHED)

    def __call__(self, environ, start_response):
        environ["passport.request_id"] = request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        arrived = worker.arrived_at()
        answer = self.refusal(environ, arrived if arrived is not None else time.perf_counter())
        if answer is None:
            return self.inner(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def busy(self) -> bool:
        """Whether the door would refuse a request that did not wait for a thread (the shedder has no
        free place nor a place to wait): the worker's inline answers are tried only then."""
        return self.limiter.full()

    def refusal(self, environ, started: float, may_wait: bool = True) -> tuple[str, list, bytes] | None:
        """The door's 503 for this request (status, headers, body; counted as answered), or None when
        it goes on to Flask. `may_wait=False` (the worker's inline answers, outside a request thread):
        never wait on the store, answer None instead when the office's room is not known yet."""
        path = environ.get("PATH_INFO", "")
        if not path.startswith(loadshed.PREFIX) or "HTTP_X_ADMISSION_PASS" in environ:
            return None
        if time.perf_counter() - started > self.max_queue_wait_s:
            reason = "queued-too-long"
        elif self.limiter.full():
            reason = "queue-full"
        else:
            return None
        method = environ.get("REQUEST_METHOD", "")
        rule = self._rule_of(path, method)
        if rule is None or rule.endpoint in NOT_AT_THE_DOOR:
            return None  # 404/405: Flask words those
        if rule.endpoint in waiting_room.BOOKING_ENDPOINTS and self._room_open_for(environ, may_wait) is not False:
            return None
        self._shed(method, rule.rule, "door-" + reason).inc()
        lang = language_of(environ.get("HTTP_ACCEPT_LANGUAGE", ""))
        body = self.bodies[lang]
        headers = [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
                   ("Content-Language", lang), ("Vary", "Accept-Language"),
                   ("Retry-After", str(loadshed.RETRY_AFTER_S)),
                   ("X-Request-Id", environ.get("passport.request_id") or request_id(environ.get("HTTP_X_REQUEST_ID", "")))]
        self.observe(method, rule.rule, 503, started)
        return "503 SERVICE UNAVAILABLE", headers, body

    def _rule_of(self, path: str, method: str):
        """The route a path and method match, or None. The gateway matches no host or subdomain, so
        one adapter serves every request; PATH_INFO is WSGI's latin-1 text, as werkzeug decodes it."""
        try:
            return self._routes.match(path.encode("latin-1").decode("utf-8", "replace"), method,
                                      return_rule=True)[0]
        except (HTTPException, UnicodeEncodeError):
            return None

    def _room_open_for(self, environ, may_wait: bool) -> bool | None:
        """Whether the booking's slot is at an office with an open room (None: not known without a
        read). Reads the (small) body and puts it back for Flask; a body it cannot read goes on to
        Flask, which words the 4xx."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return True
        if not 0 < length <= 4096:
            return True
        data = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(data)
        try:
            slot_id = json.loads(data).get("slot_id")
        except (ValueError, AttributeError):
            return True
        if not isinstance(slot_id, str) or slot_id.count("-") < 3:
            return True
        office_id = slot_id.split("-", 1)[0]
        try:
            return self.room_open(office_id) if may_wait else self.room_known(office_id)
        except Exception:  # noqa: BLE001 - undecided here: Flask's guard asks again and answers (or logs) it
            return True
