"""The gateway's access log: one JSON line per answered request through the platform's JSON logger,
so it carries the request's correlation id and trace id like every other line (gunicorn's own
access log is off). It names the route template, never the path (paths hold application ids and
complaint tracking codes), and no client address, query string or user agent."""
from __future__ import annotations

import logging
import time

from flask import Flask, g, request

from servicekit import log

logger = logging.getLogger("gateway.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install(app: Flask) -> None:
    @app.after_request
    def access(resp):
        started = g.get("started")
        log.event(logger, "access", method=request.method if request.method in _METHODS else "OTHER",
                  route=request.url_rule.rule if request.url_rule else "unmatched", status=resp.status_code,
                  ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
                  bytes=resp.calculate_content_length())
        return resp
