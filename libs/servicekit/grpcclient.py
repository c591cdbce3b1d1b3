"""gRPC channels to peer services: mutual TLS, round-robin over replicas, a deadline on every call,
the correlation id and the end user's signed identity passed along, transparent retries of
UNAVAILABLE, and client-side metrics."""
from __future__ import annotations

import json
import os
import threading
import time

import grpc

from servicekit import identity, log, metrics, tls, tracing
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
        assertion = identity.assertion()
        if assertion:
            metadata.append((identity.HEADER, assertion))
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
_UNSET = object()
_own_tls = _UNSET  # this process's certificate, read once


def own_tls() -> tls.TlsFiles | None:
    global _own_tls
    if _own_tls is _UNSET:
        _own_tls = tls.from_env()
    return _own_tls


def channel(address: str, deadline_s: float = DEFAULT_DEADLINE_S, peer: str = "",
            tls_files: tls.TlsFiles | None = None) -> grpc.Channel:
    """One shared channel per address and process (re-created after fork: gunicorn workers).
    `peer`: the service identity the server's certificate must name (else the address's host);
    `tls_files`: another certificate than this process's own (tests acting as a given peer)."""
    global _pid
    with _lock:
        if _pid != os.getpid():
            _channels.clear()
            _pid = os.getpid()
        files = tls_files or own_tls()
        key = f"{address}|{deadline_s}|{peer}|{files}"
        if key not in _channels:
            options = _options(address, peer)
            target = target_of(address)
            raw = (grpc.secure_channel(target, tls.channel_credentials(files), options=options) if files
                   else grpc.insecure_channel(target, options=options))
            _channels[key] = grpc.intercept_channel(raw, _Interceptor(deadline_s), tracing.ClientInterceptor())
        return _channels[key]


def _options(address: str, peer: str) -> list[tuple]:
    options = [
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.enable_retries", 1),
        ("grpc.keepalive_time_ms", 30000),
        # a restarted peer is found again within seconds, not gRPC's default of up to 2 min
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 3000),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    # A list of replicas has no single host name to check the certificate against: name one.
    host = peer or (address.split(",")[0].strip().rpartition(":")[0] if "," in address else "")
    if host:
        options.append(("grpc.ssl_target_name_override", host))
    return options
