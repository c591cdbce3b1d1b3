"""Idempotency-Key for mutating POSTs: a retry with the same key and body gets the first answer.

The first request inserts `pending` under the key (unique _id, atomic on FerretDB and MongoDB);
only that request later writes the answer, so there is one writer per record. A concurrent retry
sees `pending` and gets 409 with Retry-After; a key reused with another body gets 422. A pending
record whose request died (process killed) is given up after PENDING_TIMEOUT; the services' own
keys (one seat per application, one billing per appointment) keep the retry from doubling work.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib

from flask import Response, make_response, request

from servicekit import mongo
from servicekit.config import env_float
from servicekit.mongo import insert_unique
from services.gateway import auth
from services.gateway.expiring import ExpiringCollection
from services.gateway.problems import Problem, response
from services.gateway.schema import IDEMPOTENCY_KEY_MAX

# Longer than any request runs (answer budget, RPC deadlines), so a pending record this old belongs
# to a request that died with its worker.
PENDING_TIMEOUT = dt.timedelta(seconds=10)
RETENTION = dt.timedelta(hours=env_float("IDEMPOTENCY_RETENTION_HOURS", 24))
RECORDS = ExpiringCollection("idempotency")  # answers can hold personal data: none kept past RETENTION


def idempotent(view):
    @functools.wraps(view)
    def inner(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
            raise Problem(422, "validation-error", f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
        principal = auth.current()
        who = principal.account_id if principal else "anonymous"
        record_id = hashlib.sha256(f"{who}|{request.method}|{request.path}|{key}".encode()).hexdigest()
        body_hash = hashlib.sha256(request.get_data()).hexdigest()
        now = dt.datetime.now(dt.timezone.utc)
        store = RECORDS.get(now)
        if not insert_unique(store, {"_id": record_id, "body": body_hash, "state": "pending", "at": now,
                                    "expires": now + RETENTION}):
            seen = store.find_one({"_id": record_id}) or {}
            if seen.get("body") != body_hash:
                raise Problem(422, "idempotency-key-reused",
                              "this Idempotency-Key was used with a different request body")
            if seen.get("state") == "done" and seen.get("expires") and _aware(seen["expires"]) <= now:
                store.delete_one({"_id": record_id, "state": "done"})  # the TTL monitor had not run yet
                return inner(*args, **kwargs)
            if seen.get("state") == "done":
                return Response(seen["response"], status=seen["status"], mimetype=seen["mimetype"],
                                headers={"Idempotent-Replayed": "true"})
            if now - seen["at"] < PENDING_TIMEOUT:
                raise Problem(409, "request-in-progress", "the first request with this key is still running",
                              retry_after=1)
            store.delete_one({"_id": record_id, "at": seen["at"]})
            if not insert_unique(store, {"_id": record_id, "body": body_hash, "state": "pending", "at": now,
                                    "expires": now + RETENTION}):
                raise Problem(409, "request-in-progress", "a retry with this key is running", retry_after=1)
        try:
            resp = view(*args, **kwargs)
        except Problem as problem:
            if problem.status >= 500 or problem.status == 429:
                _forget(store, record_id)  # transient: let a retry try again
                raise
            resp = response(problem)
        except Exception:
            _forget(store, record_id)
            raise
        resp = make_response(resp)
        store.update_one({"_id": record_id}, {"$set": {
            "state": "done", "status": resp.status_code, "mimetype": resp.mimetype,
            "response": resp.get_data(as_text=True), "expires": now + RETENTION}})
        return resp

    inner.idempotent = True  # read by openapi.spec(): the header is declared exactly where it is honoured
    return inner


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _forget(store, record_id: str) -> None:
    """Drop the pending record of a request that ends without an answer worth replaying; when the
    store is unreachable it stays, and a retry after PENDING_TIMEOUT takes it over."""
    try:
        store.delete_one({"_id": record_id, "state": "pending"})
    except mongo.STORE_UNREACHABLE:
        pass

