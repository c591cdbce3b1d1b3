"""A short cache of the public slot listing in each gateway worker.

During a release rush nearly every request is an applicant re-reading the availability of the same
few days. Each worker answers those from memory for GATEWAY_LISTING_CACHE_SECONDS: no service call,
and no place in the load shedder, which keeps the booking service's capacity for bookings. One
listing per key is fetched at a time (single flight), and while it is, the others get the listing it
replaces (expired at most GATEWAY_LISTING_CACHE_SECONDS ago) instead of waiting for it with a place
in the load shedder each; errors are not cached. The listing is a view:
booking decides on the seats, so an answer a moment old can only cost a `slot-full`. Answers say so
with `Cache-Control: max-age`, so an ingress or CDN in front may cache them too."""
from __future__ import annotations

import math
from typing import Callable

from flask import Flask, Response, request

from servicekit.cache import TtlCache
from servicekit.config import env_float

ENDPOINT = "offices.list_slots"


class ListingCache:
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._bodies = TtlCache(ttl_s, max_entries=5_000)

    @staticmethod
    def key() -> tuple:
        return request.view_args.get("office_id", ""), request.args.get("date", ""), request.args.get("lane", "")

    def answer(self, fetch: Callable[[], bytes]) -> Response:
        """The listing of this request: cached, or fetched (once, for every thread asking) and cached."""
        return self._response(self._bodies.get(self.key(), fetch))

    def cached_answer(self) -> Response | None:
        if request.endpoint != ENDPOINT or request.method != "GET":
            return None
        body = self._bodies.peek(self.key(), stale_while_computing_s=self.ttl_s)
        return None if body is None else self._response(body)

    def _response(self, body: bytes) -> Response:
        resp = Response(body, mimetype="application/json")
        resp.headers["Cache-Control"] = f"public, max-age={math.ceil(self.ttl_s)}" if self.ttl_s > 0 else "no-cache"
        return resp


def install(app: Flask) -> ListingCache:
    """Answer fresh cached listings before the load shedder: register after the request-id hook
    and before loadshed.install."""
    cache = ListingCache(env_float("GATEWAY_LISTING_CACHE_SECONDS", 3.0))
    app.before_request(cache.cached_answer)
    app.extensions["listing_cache"] = cache
    return cache
