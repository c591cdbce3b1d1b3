"""servicekit.tracing without servers: trace ids reach the JSON log lines, a traceparent is passed on even
when this process records no spans, and the local exporter writes one parent-linked JSON line per span."""
from __future__ import annotations

import json
import logging

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from servicekit import log, tracing


def record(msg: str) -> dict:
    rec = logging.LogRecord("t", logging.INFO, __file__, 1, msg, None, None)
    return json.loads(log.JsonFormatter("booking").format(rec))


def test_log_lines_carry_the_current_trace_id_and_only_inside_a_span():
    tracer = TracerProvider().get_tracer("test")
    assert "trace_id" not in record("outside")
    with tracer.start_as_current_span("handling") as span:
        entry = record("inside")
    ctx = span.get_span_context()
    assert entry["trace_id"] == f"{ctx.trace_id:032x}" and entry["span_id"] == f"{ctx.span_id:016x}"


def test_an_event_carries_the_callers_trace_even_when_nothing_is_recorded_here():
    # No tracer provider is installed in this process: the PRODUCER span is not recorded, but the
    # envelope's traceparent still names the caller's trace, so the consumer joins it.
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    token = tracing.context.attach(propagate.extract({"traceparent": caller}))
    try:
        carried = tracing.event_created("AppointmentBooked", "booking.events")
    finally:
        tracing.context.detach(token)
    assert carried.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert tracing.event_created("AppointmentBooked") == ""  # no trace at hand: none invented


def test_the_file_exporter_writes_one_json_line_per_span_with_its_parent(tmp_path):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(tracing.JsonLinesExporter(str(tmp_path), "payment")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("passport.v1.PaymentService/IssueBilling", kind=trace.SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("insert billings", kind=trace.SpanKind.CLIENT, attributes={"db.system": "mongodb"}):
            pass
    (path,) = tmp_path.glob("payment-*.jsonl")
    child, root = [json.loads(line) for line in path.read_text().splitlines()]
    assert root["name"] == "passport.v1.PaymentService/IssueBilling" and root["kind"] == "SERVER"
    assert child["parent_span_id"] == root["span_id"] == f"{parent.get_span_context().span_id:016x}"
    assert child["trace_id"] == root["trace_id"] and child["attributes"] == {"db.system": "mongodb"}
    assert root["service"] == "payment" and root["end"] >= root["start"]
