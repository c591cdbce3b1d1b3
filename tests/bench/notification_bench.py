"""Notification benchmark: a burst of events through the real pipeline and the local SMTP and SMS sinks.

Starts its own stack (Kafka, FerretDB, services, gateway, sinks) on a block of 100 ports from BENCH_NOTIFY_PORT_BASE (default
23500), registers a few applicants, then produces BENCH_NOTIFY_EVENTS (default 10,000)
AppointmentBooked events to booking.events at once. Each event becomes an EMAIL and an SMS; the
latency of a message is the sink's receipt time (`X-Sink-Received-At` / `received_at`) minus the
event's `occurred_at`. Prints a table: per channel p50/p99 latency, messages/s (delivered
messages / time from the first event to the last delivery) and duplicates (copies beyond the first
of a message at the sink), then the time of the applicant's delivery-log read (ListNotifications
over gRPC) after the burst.

    BENCH_NOTIFY_EVENTS=1000 python -m tests.bench.notification_bench
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import random
import mailbox
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from kafka import KafkaProducer

from deploy.local.client import Api
from passport.v1 import notification_pb2, notification_pb2_grpc
from servicekit import grpcclient
from deploy.local.stack import Ports, Stack
from tests.integration.synthetic import appointment_booked
from servicekit.clock import Clock
from servicekit.events import TOPICS


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def _sms(run_dir: Path, copies: collections.Counter | None = None) -> dict[str, dt.datetime]:
    path = run_dir / "sms.jsonl"
    out: dict[str, dt.datetime] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            out.setdefault(r["reference"], dt.datetime.fromisoformat(r["received_at"]))
            if copies is not None:
                copies[r["reference"]] += 1
    return out


def _mail(run_dir: Path, copies: collections.Counter | None = None) -> dict[str, dt.datetime]:
    out: dict[str, dt.datetime] = {}
    for msg in mailbox.Maildir(str(run_dir / "mail"), create=True):
        mid, stamp = msg["Message-ID"], msg["X-Sink-Received-At"]
        if mid and stamp:  # <event_id.EMAIL@notification.passport>
            event_id = mid.strip("<>").split(".EMAIL@")[0]
            out.setdefault(event_id, dt.datetime.fromisoformat(stamp))
            if copies is not None:
                copies[event_id] += 1
    return out


def _arrived(run_dir: Path) -> int:
    """Messages at the sinks so far, copies included (both sinks serve only this benchmark)."""
    sms = run_dir / "sms.jsonl"
    lines = sms.read_bytes().count(b"\n") if sms.exists() else 0
    return lines + sum(len(os.listdir(run_dir / "mail" / d)) for d in ("new", "cur") if (run_dir / "mail" / d).exists())


def _log_read_ms(stack: Stack, app_ids: list[str]) -> list[float]:
    """Milliseconds per ListNotifications (the applicant's delivery log) for the given applications."""
    stub = notification_pb2_grpc.NotificationServiceStub(
        grpcclient.channel(f"127.0.0.1:{stack.ports.grpc('notification')}", 30.0, tls_files=stack.tls("gateway")))
    out = []
    for app_id in app_ids:
        started = time.perf_counter()
        reply = stub.ListNotifications(notification_pb2.ListNotificationsRequest(application_id=app_id))
        out.append((time.perf_counter() - started) * 1000)
        if len(reply.items) != 2 or any(i.status != "SENT" for i in reply.items):
            print(f"delivery log of {app_id} not as expected: {[(i.channel, i.status) for i in reply.items]}")
    return out


def run(events: int, port_base: int, timeout_s: float) -> dict:
    run_dir = Path(tempfile.mkdtemp(prefix="passport-notify-bench-"))
    stack = Stack(run_dir, Ports(base=port_base, booking_replicas=1), gateway_workers=2)
    try:
        try:
            stack.up()
        except RuntimeError:  # a loaded machine: services take longer than up()'s 60 s to be healthy
            stack.wait_healthy(300)
        api = Api(stack.gateway_url)
        accounts = [api.register_applicant()["account_id"] for _ in range(10)]
        tag, clock, sent_at, app_ids = uuid.uuid4().hex[:8], Clock(), {}, []
        producer = KafkaProducer(**stack.kafka_config("booking"), linger_ms=20)
        start = time.monotonic()
        for i in range(events):
            app_id, event = appointment_booked(f"bench-{tag}", i, accounts[i % len(accounts)], clock)
            sent_at[event.event_id] = event.occurred_at.ToDatetime(tzinfo=dt.timezone.utc)
            app_ids.append(app_id)
            producer.send(TOPICS["booking"], key=app_id.encode(), value=event.SerializeToString())
        producer.flush(120)
        producer.close()
        produced_s = time.monotonic() - start
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # Counting files and lines is cheap; parsing 10,000 mails every poll would take CPU from the stack.
            if _arrived(run_dir) >= 2 * events:
                break
            time.sleep(2)
        time.sleep(5)  # a late duplicate, if any, lands now
        sms_copies, mail_copies = collections.Counter(), collections.Counter()
        sms, mail = _sms(run_dir, sms_copies), _mail(run_dir, mail_copies)
        first = min(sent_at.values())
        result = {"events": events, "produce_s": produced_s,
                  "log_read_ms": _log_read_ms(stack, random.Random(7).sample(app_ids, min(20, len(app_ids))))}
        for channel, got, copies in (
                ("EMAIL", {e: mail[e] for e in sent_at if e in mail}, {e: mail_copies[e] for e in sent_at}),
                ("SMS", {e: sms[f"{e}:SMS"] for e in sent_at if f"{e}:SMS" in sms},
                 {e: sms_copies[f"{e}:SMS"] for e in sent_at})):
            lat = [(got[e] - sent_at[e]).total_seconds() for e in got]
            span = (max(got.values()) - first).total_seconds() if got else float("nan")
            result[channel] = {"delivered": len(got), "p50_s": percentile(lat, 50) if lat else float("nan"),
                               "p99_s": percentile(lat, 99) if lat else float("nan"),
                               "per_s": len(got) / span if got and span > 0 else float("nan"),
                               "duplicates": sum(max(0, n - 1) for n in copies.values())}
        return result
    finally:
        stack.down()
        shutil.rmtree(run_dir, ignore_errors=True)


def main() -> dict:
    events = int(os.environ.get("BENCH_NOTIFY_EVENTS", "10000"))
    port_base = int(os.environ.get("BENCH_NOTIFY_PORT_BASE", "23500"))
    timeout_s = float(os.environ.get("BENCH_NOTIFY_TIMEOUT_S", "3600"))
    r = run(events, port_base, timeout_s)
    print(f"burst of {r['events']} AppointmentBooked events (produced in {r['produce_s']:.1f}s), "
          f"one EMAIL + one SMS each")
    print("| channel | delivered | p50 event->delivery | p99 event->delivery | messages/s | duplicates |")
    print("|---|---:|---:|---:|---:|---:|")
    for ch in ("EMAIL", "SMS"):
        c = r[ch]
        print(f"| {ch} | {c['delivered']} | {c['p50_s']:.1f} s | {c['p99_s']:.1f} s | {c['per_s']:.1f} "
              f"| {c['duplicates']} |")
    reads = r["log_read_ms"]
    print(f"delivery log read after the burst ({len(reads)} applications): p50 {percentile(reads, 50):.0f} ms, "
          f"max {max(reads):.0f} ms")
    return r


if __name__ == "__main__":
    main()
