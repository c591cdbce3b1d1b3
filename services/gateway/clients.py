"""gRPC stubs of the services, one channel per process (created lazily, after gunicorn forks)."""
from __future__ import annotations

import time

import grpc
from flask import g, has_request_context

from passport.v1 import (accounts_pb2_grpc, biometrics_pb2_grpc, booking_pb2_grpc, complaint_pb2_grpc,
                         notification_pb2_grpc, office_pb2_grpc, payment_pb2_grpc, staff_pb2_grpc)
from servicekit import grpcclient
from servicekit.config import GRPC_PORTS, env_float, service_address
from services.gateway.problems import from_rpc_error

DEADLINE_S = env_float("GATEWAY_RPC_DEADLINE_SECONDS", 5.0)
# Booking calls answer within the 2 s the release rush allows (load shedding; see loadshed.py): each
# call gets BOOKING_DEADLINE_S, but never past ANSWER_BUDGET_S after the request reached the gateway
# (time spent waiting for a gunicorn thread, for admission or in earlier calls comes off the deadline).
BOOKING_DEADLINE_S = env_float("GATEWAY_BOOKING_RPC_DEADLINE_SECONDS", 1.3)
ANSWER_BUDGET_S = env_float("GATEWAY_ANSWER_BUDGET_SECONDS", 1.2)
MIN_CALL_S = 0.05


def _channel(service: str):
    return grpcclient.channel(service_address(service, GRPC_PORTS[service]), deadline_s=DEADLINE_S, peer=service)


def accounts():
    return accounts_pb2_grpc.AccountServiceStub(_channel("booking"))


def booking():
    # the booking service's one channel; every call of this stub carries its own (budgeted) timeout
    return _WithinBudget(booking_pb2_grpc.BookingServiceStub(_channel("booking")), BOOKING_DEADLINE_S)


class _WithinBudget:
    """A stub whose calls end by the request's answer budget (or their own deadline, if sooner)."""

    def __init__(self, stub, deadline_s: float):
        self._stub, self._deadline_s = stub, deadline_s

    def __getattr__(self, name):
        method = getattr(self._stub, name)

        def budgeted(request):
            started = time.perf_counter()
            try:
                return method(request, timeout=_timeout(self._deadline_s))
            finally:
                if has_request_context():  # the load shedder reads a slow call as congestion
                    g.budgeted_call_s = g.get("budgeted_call_s", 0.0) + time.perf_counter() - started
        return budgeted


def _timeout(deadline_s: float) -> float:
    if not has_request_context() or "started" not in g:
        return deadline_s
    # a pass holder's budget starts when it got its place in the load shedder (its wait in the pass
    # holders' line is deliberate and bounded there): otherwise that wait would leave the booking call
    # no time, the seat held by a call that timed out and the holder answered 503
    left = ANSWER_BUDGET_S - (time.perf_counter() - g.get("budget_from", g.started))
    return max(MIN_CALL_S, min(deadline_s, left))


def office():
    return office_pb2_grpc.OfficeServiceStub(_channel("booking"))


def staff():
    return staff_pb2_grpc.StaffServiceStub(_channel("booking"))


def counter():
    return booking_pb2_grpc.CounterServiceStub(_channel("booking"))


def payment():
    return payment_pb2_grpc.PaymentServiceStub(_channel("payment"))


def notification():
    return notification_pb2_grpc.NotificationServiceStub(_channel("notification"))


def biometrics():
    return biometrics_pb2_grpc.BiometricsServiceStub(_channel("biometrics-capture"))


def complaint():
    return complaint_pb2_grpc.ComplaintServiceStub(_channel("complaint"))


def call(method, request):
    """Call a stub method; a service's refusal becomes the matching problem+json answer."""
    try:
        return method(request)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None
