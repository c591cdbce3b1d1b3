"""The gateway's access log: one JSON line per answered request through the platform's JSON logger,
so it carries the request's correlation id and trace id like every other line (gunicorn's own
access log is off). It names the route template, never the path (paths hold application ids and
complaint tracking codes), and no client address, query string or user agent.

"Come back later" answers (429 and 503 with Retry-After: shed, told to wait in the waiting room,
too early) are counted instead, and written as one `access summary` line per worker and second
with their counts by method, route and status: in an overload they are most answers, thousands a
second, and a line each would cost the CPU the platform needs to book (their metrics still count
every one)."""
from __future__ import annotations

import collections
import logging
import threading
import time

from flask import Flask, g, request

from servicekit import log

logger = logging.getLogger("gateway.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SUMMARY_EVERY_S = 1.0


class Summary:
    """Counts of summarized answers, handed out at most once per SUMMARY_EVERY_S."""

    def __init__(self, every_s: float = SUMMARY_EVERY_S, clock=time.monotonic):
        self.every_s, self.clock = every_s, clock
        self._counts: collections.Counter = collections.Counter()
        self._since = clock()
        self._lock = threading.Lock()

    def add(self, key: tuple) -> None:
        with self._lock:
            self._counts[key] += 1

    def count(self, method: str, route: str, status: int) -> None:
        """Count a summarized answer (the front door's refusals too); write the summary when due."""
        self.add((method if method in _METHODS else "OTHER", route, status))
        self.write_if_due()

    def write_if_due(self) -> None:
        due = self.due()
        if due is not None:
            covered, counts = due
            log.event(logger, "access summary", seconds=round(covered, 1), answers=[
                {"method": m, "route": r, "status": s, "count": n} for (m, r, s), n in sorted(counts.items())])

    def due(self) -> tuple[float, collections.Counter] | None:
        """(seconds covered, counts) when there are counts and the last summary is old enough."""
        now = self.clock()
        if not self._counts or now - self._since < self.every_s:
            return None
        with self._lock:
            counts, self._counts = self._counts, collections.Counter()
            covered, self._since = now - self._since, now
        return covered, counts


def install(app: Flask) -> Summary:
    summary = Summary()

    @app.after_request
    def access(resp):
        method = request.method if request.method in _METHODS else "OTHER"
        route = request.url_rule.rule if request.url_rule else "unmatched"
        if resp.status_code in (429, 503) and "Retry-After" in resp.headers:
            summary.count(method, route, resp.status_code)
            return resp
        started = g.get("started")
        log.event(logger, "access", method=method, route=route, status=resp.status_code,
                  ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
                  bytes=resp.calculate_content_length())
        summary.write_if_due()
        return resp

    app.extensions["access_summary"] = summary
    return summary
