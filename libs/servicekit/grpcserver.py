"""The gRPC server every service runs: mutual TLS with a caller allowlist, the end user's identity
from a signed assertion, health (reflection only when enabled), correlation ids, RED metrics,
domain-error mapping, background workers, and a graceful stop on SIGTERM."""
from __future__ import annotations

import contextvars
import logging
import signal
import threading
import time
from concurrent import futures
from typing import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from servicekit import identity, kafka, log, metrics, mongo, tls, tracing
from servicekit.config import env
from servicekit.errors import DomainError, abort_with, status_code

logger = logging.getLogger("servicekit.grpc")

CORRELATION_KEY = "x-correlation-id"
# When the caller of the current call stops waiting (time.monotonic()); None without a deadline. A
# use case checks it before recording what its caller would never hear about.
call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("call_deadline", default=None)


def caller_gone() -> bool:
    deadline = call_deadline.get()
    return deadline is not None and time.monotonic() >= deadline


MAX_MESSAGE_BYTES = 8 * 1024 * 1024


class _TrustInterceptor(grpc.ServerInterceptor):
    """Nothing is believed by position: the peer must hold a certificate of an allowed caller, and
    a request's `caller` is replaced by the signed end-user identity (cleared when there is none)."""

    def __init__(self, server_name: str, mutual_tls: bool, verifier: identity.Verifier | None):
        self.server_name, self.mutual_tls, self.verifier = server_name, mutual_tls, verifier

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.lstrip("/")
        assertion = dict(handler_call_details.invocation_metadata or ()).get(identity.HEADER)
        inner = handler.unary_unary

        def trusted(request, context):
            if self.mutual_tls:
                peer = tls.peer_identity(context)
                if not tls.may_call(self.server_name, method, peer):
                    context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{peer or 'an unknown peer'} may not call {method}")
            principal = self._principal(assertion, context)
            replace_caller(request, principal)
            token = identity.current.set(assertion if principal else None)
            try:
                return inner(request, context)
            finally:
                identity.current.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            trusted, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def _principal(self, assertion: str | None, context) -> identity.Principal | None:
        if not assertion:
            return None
        if self.verifier is None:  # explicit local insecure mode: nothing to verify with
            return None
        try:
            return self.verifier.verify(assertion)
        except identity.InvalidAssertion as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"identity assertion refused: {exc}")


def replace_caller(request, principal: identity.Principal | None) -> None:
    field = request.DESCRIPTOR.fields_by_name.get("caller")
    if field is None or field.message_type is None or field.message_type.name != "Caller":
        return
    request.ClearField("caller")
    if principal is not None:
        request.caller.account_id = principal.account_id
        request.caller.role = principal.role
        request.caller.office_id = principal.office_id


class _ObservingInterceptor(grpc.ServerInterceptor):
    """Wraps every unary handler: correlation id in, RED metrics out, DomainError -> status."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        inner = handler.unary_unary
        metadata = dict(handler_call_details.invocation_metadata or ())
        cid = metadata.get(CORRELATION_KEY, "")

        def observed(request, context):
            token = log.correlation_id.set(cid)
            remaining = context.time_remaining()
            deadline_token = call_deadline.set(None if remaining is None else time.monotonic() + remaining)
            started = time.perf_counter()
            metrics.GRPC_SERVER_THREADS_IN_USE.inc()
            code = grpc.StatusCode.OK
            try:
                return inner(request, context)
            except DomainError as err:
                code = status_code(err.kind)
                abort_with(context, err)
            except mongo.STORE_UNREACHABLE:
                code = grpc.StatusCode.UNAVAILABLE
                abort_with(context, mongo.store_unavailable())
            except Exception as exc:  # abort() raises too: keep its code
                code = context.code() or grpc.StatusCode.INTERNAL
                if code == grpc.StatusCode.INTERNAL and not isinstance(exc, grpc.RpcError):
                    logger.exception("unhandled error in %s", method)
                    context.abort(grpc.StatusCode.INTERNAL, "internal error")
                raise
            finally:
                metrics.GRPC_SERVER_HANDLED.labels(service, method, code.name).inc()
                metrics.GRPC_SERVER_SECONDS.labels(service, method).observe(time.perf_counter() - started)
                metrics.GRPC_SERVER_THREADS_IN_USE.dec()
                log.correlation_id.reset(token)
                call_deadline.reset(deadline_token)

        return grpc.unary_unary_rpc_method_handler(
            observed, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


Worker = Callable[[threading.Event], None]


class ServiceRunner:
    """Composition helper: build the server, register servicers, start workers, run until SIGTERM."""

    def __init__(self, name: str, port: int, metrics_port: int, max_workers: int = 16):
        self.name = name
        self.port = port
        self.metrics_port = metrics_port
        self.stop_event = threading.Event()
        self.ready = threading.Event()  # serving: what /readyz on the metrics port answers
        # Checked at start, so a missing secret stops the service at once, naming it (every service
        # publishes events, so each needs its Kafka user).
        self.tls_files = tls.from_env()
        verifier = identity.Verifier.from_env()
        kafka.client_config()
        metrics.GRPC_SERVER_THREADS_MAX.set(max_workers)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name),
            interceptors=[tracing.ServerInterceptor(), _ObservingInterceptor(),
                          _TrustInterceptor(name, self.tls_files is not None, verifier)],
            options=[("grpc.so_reuseport", 0),
                     # uploads (documents up to 5 MB, photos) travel in one message
                     ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     # clients re-resolve the headless Service when told to reconnect: new pods get traffic
                     ("grpc.max_connection_age_ms", 30_000), ("grpc.max_connection_age_grace_ms", 5_000)],
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [health.SERVICE_NAME]
        self._workers: list[tuple[str, Worker]] = []

    def add(self, add_fn: Callable, servicer, full_service_name: str) -> None:
        add_fn(servicer, self.server)
        self._service_names.append(full_service_name)

    def add_worker(self, name: str, worker: Worker) -> None:
        self._workers.append((name, worker))

    def run(self) -> None:
        if tls.reflection_enabled():
            reflection.enable_server_reflection(self._service_names + [reflection.SERVICE_NAME], self.server)
        address = f"{env('GRPC_BIND_HOST', '0.0.0.0')}:{self.port}"
        bound = (self.server.add_secure_port(address, tls.server_credentials(self.tls_files)) if self.tls_files
                 else self.server.add_insecure_port(address))
        if bound == 0:
            raise RuntimeError(f"cannot bind gRPC port {self.port}")
        metrics.serve_metrics(self.metrics_port, ready=self.ready.is_set)
        self.server.start()
        threads = [threading.Thread(target=_guarded(n, w, self.stop_event), name=n, daemon=True)
                   for n, w in self._workers]
        for t in threads:
            t.start()
        for svc in self._service_names:
            self.health.set(svc, health_pb2.HealthCheckResponse.SERVING)
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        self.ready.set()
        log.event(logger, "service started", service=self.name, grpc_port=self.port,
                  metrics_port=self.metrics_port, workers=[n for n, _ in self._workers],
                  mutual_tls=self.tls_files is not None)

        def on_term(signum, _frame):
            log.event(logger, "stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        self.stop_event.wait()
        # Graceful: report NOT_SERVING so balancers drain us, finish in-flight calls, stop workers.
        self.ready.clear()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace=5).wait()
        deadline = time.monotonic() + 10  # one join deadline for all workers: the stop fits the pod's grace
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        log.event(logger, "service stopped", service=self.name)


def _guarded(name: str, worker: Worker, stop: threading.Event):
    """Run a worker; if it crashes, log and restart it after a pause instead of dying silently."""

    def run():
        while not stop.is_set():
            try:
                worker(stop)
                return
            except Exception:
                logger.exception("worker %s crashed; restarting in 2s", name)
                stop.wait(2)

    return run


def every(interval_s: float, name: str, cycle: Callable[[], None]) -> Worker:
    """A worker that runs `cycle` every interval until stopped; records its last success."""

    def worker(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                cycle()
                metrics.WORKER_LAST_RUN.labels(name).set_to_current_time()
            except Exception:
                logger.exception("%s cycle failed", name)
            stop.wait(interval_s)

    return worker


def wait_healthy(address: str, timeout_s: float = 30, tls_files: tls.TlsFiles | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    with (grpc.secure_channel(address, tls.channel_credentials(tls_files)) if tls_files
          else grpc.insecure_channel(address)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    return False

