"""gRPC channels to peer services: round-robin over replicas, a deadline on every call,
the correlation id passed along, transparent retries of UNAVAILABLE, and client-side metrics."""
from __future__ import annotations

import json
import os
import threading
import time

import grpc

from servicekit import log, metrics, tracing
from servicekit.grpcserver import CORRELATION_KEY, MAX_MESSAGE_BYTES

DEFAULT_DEADLINE_S = 3.0

# Our RPCs are idempotent by design (keyed on application / appointment ids), so retrying a call
# that never reached a healthy replica is safe.
_SERVICE_CONFIG = json.dumps({
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [{
        "name": [{}],
        "retryPolicy": {
            "maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.5s",
            "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"],
        },
    }],
})


def target_of(address: str) -> str:
    """'h:p' -> dns:///h:p ; 'ip:p,ip:p' -> ipv4:ip:p,ip:p (round-robin over the listed replicas)."""
    parts = [a.strip() for a in address.split(",") if a.strip()]
    if len(parts) > 1:
        return "ipv4:" + ",".join(parts)
    return "dns:///" + parts[0]


class _Interceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, deadline_s: float):
        self.deadline_s = deadline_s

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or [])
        cid = log.correlation_id.get()
        if cid:
            metadata.append((CORRELATION_KEY, cid))
        timeout = details.timeout if details.timeout is not None else self.deadline_s
        details = _Details(details.method, timeout, metadata, details.credentials,
                           details.wait_for_ready, details.compression)
        service, _, method = details.method.lstrip("/").rpartition("/")
        started = time.perf_counter()
        outcome = continuation(details, request)
        code = outcome.code() or grpc.StatusCode.OK
        metrics.GRPC_CLIENT_HANDLED.labels(service, method, code.name).inc()
        metrics.GRPC_CLIENT_SECONDS.labels(service, method).observe(time.perf_counter() - started)
        return outcome


class _Details(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression


_channels: dict[str, grpc.Channel] = {}
_lock = threading.Lock()
_pid = None


def channel(address: str, deadline_s: float = DEFAULT_DEADLINE_S) -> grpc.Channel:
    """One shared channel per address and process (re-created after fork: gunicorn workers)."""
    global _pid
    with _lock:
        if _pid != os.getpid():
            _channels.clear()
            _pid = os.getpid()
        key = f"{address}|{deadline_s}"
        if key not in _channels:
            raw = grpc.insecure_channel(target_of(address), options=[
                ("grpc.service_config", _SERVICE_CONFIG),
                ("grpc.enable_retries", 1),
                ("grpc.keepalive_time_ms", 30000),
                # a restarted peer is found again within seconds, not gRPC's default of up to 2 min
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 3000),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ])
            _channels[key] = grpc.intercept_channel(raw, _Interceptor(deadline_s), tracing.ClientInterceptor())
        return _channels[key]
