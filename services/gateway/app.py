"""The gateway's composition root: `create_app()` wires blueprints, errors, request ids, metrics."""
from __future__ import annotations

import logging
import os
import time

import grpc
from flask import Flask, Response, current_app, g, jsonify, request
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from servicekit import grpcclient, log, mongo, tracing
from servicekit.config import GRPC_PORTS, service_address
from servicekit.metrics import LATENCY_BUCKETS, Children
from services.gateway import accesslog, auth, front_door, listing_cache, loadshed, openapi, waiting_room, worker
from services.gateway.problems import Problem, response
from services.gateway.validation import query_parameters
from services.gateway.routes import accounts, applications, appointments, offices
from services.gateway.routes import payments
from services.gateway.routes import biometrics as biometrics_routes
from services.gateway.routes import biometrics_supervision
from services.gateway.routes import complaints as complaint_routes
from services.gateway.routes import counter, office_admin, outreach, proof, staff
from services.gateway.routes import waiting_room as waiting_room_routes

logger = logging.getLogger("gateway")

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests answered by the gateway.",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("http_request_duration_seconds", "Time to answer an HTTP request.",
                         ["method", "route"], buckets=LATENCY_BUCKETS)
# The booking SLO (an applicant's booking answered, not 5xx, within 2 s): its own buckets around 2 s.
BOOKING_SECONDS = Histogram("gateway_booking_duration_seconds", "Time to answer POST .../appointment "
                            "(book a seat), by outcome: success (2xx), refused (4xx), error (5xx).",
                            ["outcome"], buckets=(0.25, 0.5, 1, 1.5, 2, 3, 5, 10))
BOOKING_ROUTE = "/v1/applications/<application_id>/appointment"
_requests, _seconds, _booking_seconds = Children(HTTP_REQUESTS), Children(HTTP_SECONDS), Children(BOOKING_SECONDS)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BLUEPRINTS = [accounts.bp, offices.bp, applications.bp, appointments.bp, complaint_routes.bp, payments.bp, biometrics_routes.bp,
              office_admin.bp, proof.bp, outreach.bp, counter.bp, biometrics_supervision.bp, staff.bp,
              waiting_room_routes.bp]


def create_app() -> Flask:
    log.setup("gateway")
    app = Flask(__name__, static_folder=None)  # no static files: /docs is one inline page
    app.config["MAX_CONTENT_LENGTH"] = 6 * 1024 * 1024  # documents are at most 5 MB
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)

    @app.before_request
    def start():
        g.request_id = request.environ.get("passport.request_id") or front_door.request_id(
            request.headers.get("X-Request-Id", ""))
        g.log_token = log.correlation_id.set(g.request_id)
        auth.start_request()
        arrived = worker.arrived_at()  # includes the wait for a gunicorn thread, when the worker knows it
        g.started = arrived if arrived is not None else time.perf_counter()
        if request.url_rule is not None:  # the contract's query rules hold for every route, in one place
            query_parameters(openapi.query_parameters_of(request.method, request.url_rule.rule))

    @app.after_request
    def finish(resp):
        resp.headers["X-Request-Id"] = g.get("request_id", "")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        observe(request.method, route, resp.status_code, g.get("started", time.perf_counter()))
        return resp

    @app.teardown_request
    def reset(_exc):
        if "log_token" in g:
            log.correlation_id.reset(g.log_token)

    @app.errorhandler(Problem)
    def on_problem(problem: Problem):
        return response(problem)

    @app.errorhandler(HTTPException)
    def on_http(exc: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
                400: "bad-request"}.get(exc.code, "http-error")
        resp = response(Problem(exc.code, slug, exc.description or exc.name))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110: a 405 names what is allowed
        return resp

    @app.errorhandler(Exception)
    def on_error(exc: Exception):
        if isinstance(exc, mongo.STORE_UNREACHABLE):  # the gateway's own store blinked: nothing was done
            err = mongo.store_unavailable()
            return response(Problem(503, err.problem, err.detail, retry_after=2))
        logger.exception("unhandled error")
        return response(Problem(500, "internal-error", "an internal error occurred; it has been logged"))

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        # Readiness is about this process only: a failing service must not take every gateway pod
        # out of its Service (dependencies: /readyz/dependencies, metrics and alerts).
        return jsonify({"status": "ready"})

    @app.get("/readyz/dependencies")
    def readyz_dependencies():
        checks = {s: _serving(s) for s in GRPC_PORTS}
        checks["mongodb"] = mongo.ping(mongo.database("gateway"))
        ready = all(checks.values())
        return jsonify({"status": "ready" if ready else "not-ready", "checks": checks}), 200 if ready else 503

    @app.get("/metrics")
    def metrics():
        registry = None
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry) if registry else generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    def openapi_json():
        return jsonify(openapi.spec(current_app))

    @app.get("/docs")
    def docs():
        return Response(openapi.DOCS_HTML, mimetype="text/html")

    tracing.install_flask(app)  # first of the hooks below: cached and shed answers get their span too
    accesslog.install(app)
    listing_cache.install(app)  # fresh cached listings are answered before admission: they cost no call
    waiting_room.install(app)  # before the shedder: bookings without a pass are refused without a place in it
    loadshed.install_logins(app)  # password hashing waits in a line of its own, not among the bookings
    limiter = loadshed.install(app)  # after the request-id hook: refusals carry their X-Request-Id
    summary = app.extensions["access_summary"]

    def observe_refusal(method: str, route: str, status: int, started: float) -> None:
        observe(method, route, status, started)
        summary.count(method, route, status)

    # last: the door wraps everything above and answers an overload's refusals without Flask
    app.wsgi_app = front_door.FrontDoor(app, limiter, observe_refusal,
                                        room_open=lambda office_id: waiting_room.room_of(office_id) is not None,
                                        room_known=waiting_room.room_known,
                                        max_queue_wait_s=loadshed.default_max_queue_wait_s())
    return app


def observe(method: str, route: str, status: int, started: float) -> None:
    """An answer in the HTTP metrics (and the booking SLO's histogram)."""
    # gunicorn accepts any upper-case word as a method: keep the label set bounded
    method = method if method in KNOWN_METHODS else "OTHER"
    seconds = time.perf_counter() - started
    _requests(method, route, str(status)).inc()
    _seconds(method, route).observe(seconds)
    if route == BOOKING_ROUTE and method == "POST":
        _booking_seconds({2: "success", 4: "refused"}.get(status // 100, "error")).observe(seconds)


def _serving(service: str) -> bool:
    stub = health_pb2_grpc.HealthStub(grpcclient.channel(service_address(service, GRPC_PORTS[service]), 1.0))
    try:
        return stub.Check(health_pb2.HealthCheckRequest(service="")).status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False
