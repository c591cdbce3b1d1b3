"""Schemathesis hooks for test_openapi_conformance (loaded through schemathesis.toml).

A 503 must be the designed overload answer (overloaded or service-unavailable, with Retry-After):
schemathesis.toml lets 503 pass its server-error check, this module's check holds it to that.

An Idempotency-Key names one request: reusing it with another body is refused (422
idempotency-key-reused), so whether a request is accepted depends on the requests sent before it.
Schemathesis draws keys from a small space ("0", "00", ...) and would send the same key with
different bodies. Each key gets the body's hash appended, so a key is reused only with the same
body (the replay path is still exercised) and empty or over-long keys stay as drawn.
"""
from __future__ import annotations

import hashlib

import schemathesis
from schemathesis.core.parameters import ParameterLocation

KEY = "Idempotency-Key"
SUFFIX_LENGTH = 13  # "-" and 12 hex digits


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative and \
            getattr(meta.phase.data, "parameter_location", None) == ParameterLocation.HEADER:
        # A case about a header (one left out, one malformed) goes as drawn: editing it would make
        # schemathesis revalidate it as positive and send the very header it meant to leave out.
        return
    key = (case.headers or {}).get(KEY)
    if not isinstance(key, str) or not 1 <= len(key) <= 200 - SUFFIX_LENGTH:
        return
    digest = hashlib.sha256(repr((case.media_type, case.body)).encode()).hexdigest()[:12]
    case.headers[KEY] = f"{key}-{digest}"


# Capacity or a dependency, retryable; a 503 of any other kind (integrity-error, a code space
# exhausted) is a fault and fails.
RETRYABLE_PROBLEMS = ("/overloaded", "/service-unavailable", "/busy", "/booking-interrupted", "/booking-unavailable",
                      "/bank-unavailable", "/store-unavailable", "/payment-unavailable")


@schemathesis.check
def overload_is_answered_with_retry_after(ctx, response, case):
    if response.status_code != 503:
        return None
    assert response.headers.get("retry-after"), "a 503 without Retry-After"  # names come lowercased
    problem_type = response.json().get("type", "")
    assert problem_type.endswith(RETRYABLE_PROBLEMS), f"a 503 of an unexpected kind: {problem_type}"
    return None
