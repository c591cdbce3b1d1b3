"""RFC 9457 problem+json answers, and the mapping of service errors (gRPC statuses) onto them."""
from __future__ import annotations

import logging

import grpc
from flask import has_request_context, jsonify, request

from servicekit import log
from servicekit.errors import params_of, problem_of
from services.gateway.problem_texts import indonesian, indonesian_errors

BASE = "https://passport.example/problems/"
logger = logging.getLogger("gateway.problems")

GRPC_TO_HTTP = {
    grpc.StatusCode.INVALID_ARGUMENT: 422, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 409, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    # The gateway never cancels its own calls (its limit is the deadline): CANCELLED is a server
    # that stopped mid-call (a pod rolled or deleted), so the caller is told to retry, as for UNAVAILABLE.
    grpc.StatusCode.CANCELLED: 503,
}
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
DEFAULT_SLUG = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 409: "conflict",
                422: "validation-error", 429: "too-many-requests", 503: "service-unavailable",
                500: "internal-error"}


class Problem(Exception):
    """Raise anywhere in a request to answer with problem+json."""

    def __init__(self, status: int, slug: str, detail: str, errors: list[dict] | None = None,
                 retry_after: int | None = None, params: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.headers = headers or {}  # e.g. Link: where to go instead
        self.status, self.slug, self.detail, self.errors, self.retry_after = status, slug, detail, errors, retry_after
        self.params = params or {}  # what the detail names, for the translated detail


def title_of(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def language() -> str:
    """`id` or `en` from the request's Accept-Language; Indonesian by default and outside a request."""
    return language_of(request.headers.get("Accept-Language", "") if has_request_context() else "")


def language_of(header: str) -> str:
    """`id` or `en` from an Accept-Language header (highest q wins, ties by order); Indonesian by default."""
    best, best_q = "id", 0.0
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip()[2:]) if params.strip().startswith("q=") else 1.0
        except ValueError:
            q = 0.0
        if lang in ("id", "en") and q > best_q:
            best, best_q = lang, q
    return best


def texts(slug: str, status: int, detail: str, params: dict | None = None) -> tuple[str, str]:
    """(title, detail) in the request's language: English keeps the service's detail; Indonesian
    comes from the one catalogue (problem_texts.py), with the values the detail names. The `type`
    URI never changes."""
    return texts_in(language(), slug, status, detail, params)


def texts_in(lang: str, slug: str, status: int, detail: str, params: dict | None = None) -> tuple[str, str]:
    if lang == "en":
        return title_of(slug), detail
    return indonesian(slug, status, detail, params or {})


def response(problem: Problem):
    title, detail = texts(problem.slug, problem.status, problem.detail, problem.params)
    body = {"type": BASE + problem.slug, "title": title, "status": problem.status, "detail": detail}
    if problem.errors:
        # each message in the answer's language too; `field` is the API's name and never changes
        body["errors"] = problem.errors if language() == "en" else indonesian_errors(problem.errors)
    resp = jsonify(body)
    resp.status_code = problem.status
    resp.mimetype = "application/problem+json"
    resp.headers["Content-Language"] = language()
    resp.headers.add("Vary", "Accept-Language")
    if problem.retry_after is not None:
        resp.headers["Retry-After"] = str(problem.retry_after)
    for name, value in problem.headers.items():
        resp.headers[name] = value
    return resp


def from_rpc_error(err: grpc.RpcError) -> Problem:
    status = GRPC_TO_HTTP.get(err.code(), 500)
    slug, errors = problem_of(err)
    if status == 500:
        # the code only: a service's details may carry what the applicant sent
        log.event(logger, "service call failed", level=logging.ERROR, grpc_code=err.code().name)
        return Problem(500, "internal-error", "an internal error occurred; it has been logged")
    detail = err.details() or title_of(DEFAULT_SLUG[status])
    if err.code() in TRANSIENT and not slug:
        detail = "a service is temporarily unavailable; please retry shortly"
    return Problem(status, slug or DEFAULT_SLUG[status], detail, errors,
                   retry_after=2 if status in (429, 503) else None, params=params_of(err))
