"""Domain errors, and their passage over gRPC to the gateway's problem+json answers.

A service raises DomainError(kind, problem, detail); the gRPC server turns it into a status code
plus trailing metadata naming the problem; the gateway turns that into RFC 9457 problem+json.
This module imports no grpc, so the services' domain rooms can raise DomainError and stay free of it.
"""
from __future__ import annotations

import json

# kind -> gRPC status code name. The gateway maps codes back to HTTP statuses.
KINDS = {
    "invalid": "INVALID_ARGUMENT",        # 422
    "not_found": "NOT_FOUND",             # 404
    "conflict": "FAILED_PRECONDITION",    # 409
    "exists": "ALREADY_EXISTS",           # 409
    "unauthenticated": "UNAUTHENTICATED", # 401
    "forbidden": "PERMISSION_DENIED",     # 403
    "busy": "RESOURCE_EXHAUSTED",         # 429
    "unavailable": "UNAVAILABLE",         # 503
}

PROBLEM_KEY = "x-problem-type"
ERRORS_KEY = "x-problem-errors"
PARAMS_KEY = "x-problem-params"  # the values a detail names (a time, a code), for its translations


class DomainError(Exception):
    """A rule said no. `problem` is the stable slug of the problem type (e.g. "slot-full")."""

    def __init__(self, kind: str, problem: str, detail: str, errors: list[dict] | None = None,
                 params: dict[str, str] | None = None):
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind}")
        super().__init__(detail)
        self.kind, self.problem, self.detail, self.errors = kind, problem, detail, errors or []
        self.params = params or {}


def invalid(detail: str, field: str | None = None, problem: str = "validation-error") -> DomainError:
    errors = [{"field": field, "message": detail}] if field else []
    return DomainError("invalid", problem, detail, errors)


def status_code(kind: str):
    import grpc
    return getattr(grpc.StatusCode, KINDS[kind])


def abort_with(context, err: DomainError):
    """End a gRPC call with the error's status code and the problem in trailing metadata."""
    metadata = [(PROBLEM_KEY, err.problem)]
    if err.errors:
        metadata.append((ERRORS_KEY, json.dumps(err.errors)))
    if err.params:
        metadata.append((PARAMS_KEY, json.dumps(err.params)))
    context.set_trailing_metadata(metadata)
    context.abort(status_code(err.kind), err.detail)


def problem_of(rpc_error) -> tuple[str | None, list[dict]]:
    """The problem slug and field errors a service attached to a failed call, if any."""
    problem, errors = None, []
    for key, value in (rpc_error.trailing_metadata() or ()):
        if key == PROBLEM_KEY:
            problem = value
        elif key == ERRORS_KEY:
            errors = json.loads(value)
    return problem, errors


def params_of(rpc_error) -> dict[str, str]:
    """The values a service's detail names, for the gateway to put into a translated detail."""
    for key, value in (rpc_error.trailing_metadata() or ()):
        if key == PARAMS_KEY:
            return json.loads(value)
    return {}
