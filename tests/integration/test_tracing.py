"""One booking is one trace: the gateway's HTTP span, its gRPC call to booking, booking's call to payment,
their store commands, the events they create and the notification consumer that handles them, all
under the trace id the client sent, each span's parent the span that caused it. Read from the JSON
lines the local stack's processes write (TRACES_DIR = <run dir>/traces, servicekit/tracing.py), and
the same trace id in the services' JSON log lines."""
from __future__ import annotations

import json
import secrets
from tests.integration.helpers import applicant_with_application, wait_for



def spans_of(stack, trace_id: str) -> list[dict]:
    out = []
    for f in (stack.run_dir / "traces").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            if trace_id in line:
                span = json.loads(line)
                if span["trace_id"] == trace_id:
                    out.append(span)
    return out


def one(spans: list[dict], **match) -> dict:
    found = [s for s in spans if all(s.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s["service"], s["kind"], s["name"]) for s in spans])
    return found[0]


def test_one_booking_is_one_trace_from_gateway_to_notification(api, stack):
    person, app_id = applicant_with_application(api)
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=8)
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"],
                     headers={"traceparent": f"00-{trace_id}-{client_span}-01"})
    assert reply.status == 201, reply.body
    assert reply.headers.get("traceparent", "").startswith(f"00-{trace_id}-")

    def complete():
        # Each process exports a span when it ends (batched, within a second): wait until notification
        # handled the event and every span's parent is written too (a handler still running has
        # exported its finished store calls but not itself yet).
        spans = spans_of(stack, trace_id)
        ids = {s["span_id"] for s in spans} | {client_span}
        done = any(s["service"] == "notification" and s["kind"] == "CONSUMER" and s["name"] == "AppointmentBooked process"
                   for s in spans) and all(s["parent_span_id"] in ids for s in spans)
        return spans if done else None
    spans = wait_for(complete, timeout_s=60, interval_s=1)
    assert spans, f"trace {trace_id} incomplete: {[(s['service'], s['kind'], s['name']) for s in spans_of(stack, trace_id)]}"
    by_id = {s["span_id"]: s for s in spans}

    route = "POST /v1/applications/<application_id>/appointment"
    http = one(spans, service="gateway", kind="SERVER", name=route)
    assert http["parent_span_id"] == client_span  # the client's traceparent was honoured
    assert http["attributes"]["http.response.status_code"] == 201
    to_booking = one(spans, service="gateway", kind="CLIENT", name="passport.v1.BookingService/BookAppointment")
    assert to_booking["parent_span_id"] == http["span_id"]
    booking = one(spans, service="booking", kind="SERVER", name="passport.v1.BookingService/BookAppointment")
    assert booking["parent_span_id"] == to_booking["span_id"]
    to_payment = one(spans, service="booking", kind="CLIENT", name="passport.v1.PaymentService/IssueBilling")
    assert to_payment["parent_span_id"] == booking["span_id"]
    payment = one(spans, service="payment", kind="SERVER", name="passport.v1.PaymentService/IssueBilling")
    assert payment["parent_span_id"] == to_payment["span_id"]

    # Kafka: the event created inside booking's handling, and notification's handling of it.
    created = one(spans, service="booking", kind="PRODUCER", name="AppointmentBooked create")
    assert created["parent_span_id"] == booking["span_id"]
    assert created["attributes"]["messaging.destination.name"] == "booking.events"
    handled = one(spans, service="notification", kind="CONSUMER", name="AppointmentBooked process")
    assert handled["parent_span_id"] == created["span_id"]
    assert handled["attributes"]["messaging.consumer.group.name"] == "notification"
    assert handled["start"] >= created["start"]

    # Store commands are spans of the handling that made them (inserts of the seat, the transition...).
    store = [s for s in spans if s["attributes"].get("db.system") == "mongodb"]
    assert {s["service"] for s in store} >= {"booking", "payment", "notification"}
    for s in store:
        assert s["kind"] == "CLIENT" and s["parent_span_id"] in by_id, s
    assert any(s["parent_span_id"] == booking["span_id"] and s["attributes"]["db.operation.name"] == "insert"
               for s in store)

    # Every link resolves inside the trace: no span hangs off a parent that was never recorded.
    dangling = [s for s in spans if s["parent_span_id"] not in by_id and s is not http]
    assert dangling == [], dangling
    # No span names or attributes carry the application id (ids and personal data stay out).
    assert app_id not in json.dumps(spans)

    # The JSON log lines written while handling this booking carry its trace id.
    logged = [json.loads(line) for f in (stack.run_dir / "logs").glob("*.log")
              for line in f.read_text(errors="replace").splitlines() if trace_id in line and line.startswith("{")]
    assert logged and all(e.get("trace_id") == trace_id for e in logged if "trace_id" in e)
