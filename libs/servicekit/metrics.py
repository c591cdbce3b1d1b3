"""Prometheus metrics shared by all services. Labels are bounded: never ids or personal data."""
from __future__ import annotations

import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

GRPC_SERVER_HANDLED = Counter(
    "grpc_server_handled_total", "RPCs completed on the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"])
GRPC_SERVER_SECONDS = Histogram(
    "grpc_server_handling_seconds", "Time to handle an RPC on the server.",
    ["grpc_service", "grpc_method"], buckets=LATENCY_BUCKETS)
GRPC_CLIENT_HANDLED = Counter(
    "grpc_client_handled_total", "RPCs this process made, by target method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"])
GRPC_CLIENT_SECONDS = Histogram(
    "grpc_client_handling_seconds", "Time of outgoing RPCs as seen by the caller.",
    ["grpc_service", "grpc_method"], buckets=LATENCY_BUCKETS)

GRPC_SERVER_THREADS_IN_USE = Gauge(
    "grpc_server_threads_in_use", "Threads of the gRPC server's pool handling a call right now.")
GRPC_SERVER_THREADS_MAX = Gauge(
    "grpc_server_threads_max", "Size of the gRPC server's thread pool: calls beyond it wait.")

MONGO_COMMANDS = Counter(
    "mongodb_client_commands_total", "Commands sent to the store, by command, collection and outcome.",
    ["command", "collection", "outcome"])
MONGO_COMMAND_SECONDS = Histogram(
    "mongodb_client_command_seconds", "Round trip of a store command as seen by the client.",
    ["command", "collection"], buckets=LATENCY_BUCKETS)

OUTBOX_PUBLISHED = Counter(
    "outbox_events_published_total", "Events relayed from the outbox to Kafka.", ["topic", "event_type"])
OUTBOX_PENDING = Gauge(
    "outbox_pending_events", "Events stored but not yet published, as of the relay's last scan.")
OUTBOX_OLDEST_PENDING_SECONDS = Gauge(
    "outbox_oldest_pending_seconds", "Age of the oldest unpublished event at the relay's last scan.")
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Failed attempts to publish outbox events (Kafka down, ...).")

CONSUMER_EVENTS = Counter(
    "consumer_events_total", "Events handled by a consumer group, by outcome.",
    ["group", "topic", "event_type", "outcome"])  # outcome: handled|duplicate|skipped|dead_lettered|retried|wrong_topic
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_messages", "Messages between the group's position and the end of a partition.",
    ["group", "topic", "partition"])
CONSUMER_HANDLE_SECONDS = Histogram(
    "consumer_handle_seconds", "Time to handle one event.", ["group", "event_type"],
    buckets=LATENCY_BUCKETS)

WORKER_LAST_RUN = Gauge(
    "background_worker_last_success_timestamp_seconds",
    "When a background worker (relay, sweeper, consumer) last completed a cycle.", ["worker"])


class Children:
    """A labelled metric's children by label values, each looked up once: `labels()` takes a lock and
    builds a key on every call, a cost that shows at thousands of answers a second (the gateway's
    refusals). The label values stay as bounded as the metric's own."""

    def __init__(self, metric):
        self.metric, self._children = metric, {}

    def __call__(self, *values: str):
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # scrapes and probes every few seconds: not worth a log line
        pass


def serve_metrics(port: int, ready: Callable[[], bool] = lambda: True) -> None:
    """/metrics and /readyz on their own plain-HTTP port, kept off the gRPC port: the kubelet's
    probes cannot present the client certificate that the gRPC port requires."""
    metrics_app = make_wsgi_app()

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/readyz":
            ok = ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if ok else b"not ready\n"]
        return metrics_app(environ, start_response)

    server = make_server("0.0.0.0", port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
