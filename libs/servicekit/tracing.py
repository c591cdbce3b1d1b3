"""Distributed tracing with OpenTelemetry: one trace follows a request from the gateway through gRPC
calls, store commands and Kafka events to the consumers that react to it.

- Where spans go (decided once per process by `setup`, called from log.setup):
  OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: OTLP over HTTP (a cluster's
  collector; the other standard OTEL_* variables apply, e.g. OTEL_TRACES_SAMPLER);
  else TRACES_DIR set (the local stack sets it to <run dir>/traces): one JSON object per span and
  line, in a file per process; else (or OTEL_SDK_DISABLED=true) no spans are recorded, and a
  traceparent that arrives is still passed on.
- Propagation is W3C trace context: the `traceparent` gRPC metadata key, and the `traceparent`
  field of the event envelope (set when the event is created, so the outbox relay's delay between
  the state change and the publish does not cut the trace).
- Spans: the gateway's HTTP request (SERVER), each outgoing RPC (CLIENT) and its handling (SERVER),
  each store command (CLIENT, from pymongo's command monitoring), each event created (PRODUCER) and
  handled (CONSUMER). Attributes carry names and codes only, never ids or personal data.
"""
from __future__ import annotations

import json
import os
import threading
import time
import grpc
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACEPARENT = "traceparent"
_tracer = trace.get_tracer("servicekit")
_setup_done = False
_lock = threading.Lock()


# -- setup --------------------------------------------------------------------------------------
def setup(service: str) -> None:
    """Install the exporter chosen by the environment; once per process, later calls do nothing."""
    global _setup_done
    with _lock:
        if _setup_done:
            return
        _setup_done = True
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    directory = os.environ.get("TRACES_DIR", "")
    if not otlp and not directory:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(directory, service),
                                                       schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    from pymongo import monitoring
    monitoring.register(StoreSpans())  # every MongoClient created from now on reports its commands


class JsonLinesExporter:
    """Spans as JSON lines in <directory>/<service>-<pid>.jsonl: a trace readable with grep and jq,
    without a collector. The pid is taken at each export, so forked gunicorn workers keep apart."""

    def __init__(self, directory: str, service: str):
        self.directory, self.service = directory, service

    def export(self, spans) -> "SpanExportResult":
        from opentelemetry.sdk.trace.export import SpanExportResult
        os.makedirs(self.directory, exist_ok=True)
        lines = []
        for s in spans:
            parent = s.parent
            lines.append(json.dumps({
                "trace_id": f"{s.context.trace_id:032x}", "span_id": f"{s.context.span_id:016x}",
                "parent_span_id": f"{parent.span_id:016x}" if parent else "",
                "name": s.name, "kind": s.kind.name, "service": self.service,
                "start": s.start_time / 1e9, "end": (s.end_time or s.start_time) / 1e9,
                "status": s.status.status_code.name, "attributes": dict(s.attributes or {}),
            }, default=str))
        path = os.path.join(self.directory, f"{self.service}-{os.getpid()}.jsonl")
        with open(path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# -- helpers used by log, events and consumers -------------------------------------------------
def log_fields() -> dict:
    """trace_id and span_id of the current span, for every log line (empty when there is none)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def event_created(event_type: str, topic: str = "") -> str:
    """A PRODUCER span for an event being created; returns its traceparent for the envelope."""
    with _tracer.start_as_current_span(f"{event_type} create", kind=SpanKind.PRODUCER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.operation.type": "create", "event_type": event_type}):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier.get(TRACEPARENT, "")


def consumer_span(envelope, topic: str, group: str):
    """Start a CONSUMER span, child of the span that created the event, and make it current (the
    handler's calls, store commands and log lines belong to it); hand the result to `end`."""
    parent = propagate.extract({TRACEPARENT: envelope.traceparent}) if envelope.traceparent else None
    span = _tracer.start_span(f"{envelope.event_type} process", context=parent, kind=SpanKind.CONSUMER, attributes={
        "messaging.system": "kafka", "messaging.destination.name": topic, "messaging.consumer.group.name": group,
        "messaging.operation.type": "process", "event_type": envelope.event_type})
    return span, context.attach(trace.set_span_in_context(span))


def end(started) -> None:
    span, token = started
    context.detach(token)
    span.end()


def mark_error(description: str) -> None:
    """Mark the current span failed (e.g. an event sent to the dead-letter topic)."""
    trace.get_current_span().set_status(Status(StatusCode.ERROR, description))


# -- gRPC ---------------------------------------------------------------------------------------
class ServerInterceptor(grpc.ServerInterceptor):
    """A SERVER span per unary call, child of the caller's traceparent metadata."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        service, _, method = handler_call_details.method.lstrip("/").rpartition("/")
        metadata = {k: v for k, v in (handler_call_details.invocation_metadata or ()) if k == TRACEPARENT}
        inner = handler.unary_unary

        def traced(request, grpc_context):
            parent = propagate.extract(metadata) if metadata else None
            with _tracer.start_as_current_span(f"{service}/{method}", context=parent, kind=SpanKind.SERVER,
                                               record_exception=False, set_status_on_exception=False,
                                               attributes={"rpc.system": "grpc", "rpc.service": service,
                                                           "rpc.method": method}) as span:
                try:
                    return inner(request, grpc_context)
                except Exception as exc:
                    span.set_attribute("error.type", type(exc).__name__)
                    raise
                finally:
                    code = grpc_context.code() if hasattr(grpc_context, "code") else None
                    if code is not None:
                        span.set_attribute("rpc.grpc.status_code", code.value[0])
                        if code in _SERVER_FAULTS:
                            span.set_status(Status(StatusCode.ERROR, code.name))

        return grpc.unary_unary_rpc_method_handler(
            traced, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


_SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS,
                  grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class ClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """A CLIENT span per outgoing unary call; its traceparent goes along in the metadata."""

    def intercept_unary_unary(self, continuation, details, request):
        service, _, method = details.method.lstrip("/").rpartition("/")
        with _tracer.start_as_current_span(f"{service}/{method}", kind=SpanKind.CLIENT, attributes={
                "rpc.system": "grpc", "rpc.service": service, "rpc.method": method}) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            if TRACEPARENT in carrier:
                details = _with_metadata(details, list(details.metadata or []) + [(TRACEPARENT, carrier[TRACEPARENT])])
            outcome = continuation(details, request)
            code = outcome.code() or grpc.StatusCode.OK  # waits for the answer: the span covers the call
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in _SERVER_FAULTS:
                span.set_status(Status(StatusCode.ERROR, code.name))
            return outcome


class _Details(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression


def _with_metadata(details, metadata):
    return _Details(details.method, details.timeout, metadata, details.credentials,
                    getattr(details, "wait_for_ready", None), getattr(details, "compression", None))


# -- the store ----------------------------------------------------------------------------------
try:
    from pymongo import monitoring as _monitoring
    _Listener = _monitoring.CommandListener
except ImportError:  # pragma: no cover - pymongo is a dependency of every service
    _Listener = object


class StoreSpans(_Listener):
    """A CLIENT span per store command, child of whatever span the calling thread is in. Commands
    outside any trace (background sweeps, relays) start no trace of their own: they are not spans."""

    def __init__(self):
        self._open: dict[tuple, object] = {}

    def started(self, event):
        if not trace.get_current_span().get_span_context().is_valid:
            return
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        span = _tracer.start_span(f"{event.command_name} {collection}".strip(), kind=SpanKind.CLIENT, attributes={
            "db.system": "mongodb", "db.operation.name": event.command_name,
            "db.collection.name": collection, "db.namespace": event.database_name})
        self._open[(event.connection_id, event.request_id)] = span

    def _finish(self, event, error: bool):
        span = self._open.pop((event.connection_id, event.request_id), None)
        if span is not None:
            if error:
                span.set_status(Status(StatusCode.ERROR, str(getattr(event, "failure", {}).get("codeName", ""))))
            span.end()

    def succeeded(self, event):
        self._finish(event, False)

    def failed(self, event):
        self._finish(event, True)


# -- the gateway (Flask) -------------------------------------------------------------------------
def install_flask(app) -> None:
    """A SERVER span per HTTP request, child of the client's traceparent header if it sent one;
    named by the route template, never the raw path (it holds ids)."""
    from flask import g, request

    @app.before_request
    def _start_span():
        parent = propagate.extract({TRACEPARENT: request.headers[TRACEPARENT]}) if TRACEPARENT in request.headers else None
        route = request.url_rule.rule if request.url_rule else "unmatched"
        span = _tracer.start_span(f"{request.method} {route}", context=parent, kind=SpanKind.SERVER, attributes={
            "http.request.method": request.method, "http.route": route})
        g._trace_span = span
        g._trace_token = context.attach(trace.set_span_in_context(span))

    @app.after_request
    def _status(resp):
        span = g.get("_trace_span")
        if span is not None:
            span.set_attribute("http.response.status_code", resp.status_code)
            if resp.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            ctx = span.get_span_context()
            if ctx.is_valid:  # lets a client or a support desk find the trace of an answer
                resp.headers["traceparent"] = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
        return resp

    @app.teardown_request
    def _end_span(_exc):
        span = g.pop("_trace_span", None)
        token = g.pop("_trace_token", None)
        if token is not None:
            context.detach(token)
        if span is not None:
            span.end(end_time=time.time_ns())
