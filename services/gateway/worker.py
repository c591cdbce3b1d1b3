"""gunicorn's gthread worker, noting when each request arrived.

A request waits in gunicorn's queue for a free thread before the app sees it; under overload that
wait can be long, and the app would count its answer budget from too late. This worker stamps a
connection when it is handed to the thread pool (accepted, or readable again after keep-alive), and
`arrived_at()` gives the app that stamp, so the budget and the load shedder count the wait too.
Run it with `--worker-class services.gateway.worker.ArrivalStampedWorker`; without it, `arrived_at()`
is None and the app counts from when it saw the request.
"""
from __future__ import annotations

import threading
import time

from gunicorn.workers.gthread import ThreadWorker

_current = threading.local()


def arrived_at() -> float | None:
    """time.perf_counter() when the request this thread is handling arrived, if the worker knows."""
    return getattr(_current, "arrived_at", None)


class ArrivalStampedWorker(ThreadWorker):
    def enqueue_req(self, conn):
        conn.arrived_at = time.perf_counter()
        super().enqueue_req(conn)

    def handle_request(self, req, conn):
        _current.arrived_at = getattr(conn, "arrived_at", None)
        try:
            return super().handle_request(req, conn)
        finally:
            _current.arrived_at = None
