"""One real stack per test session: Kafka, FerretDB, the services and the gateway, on their own
ports (a block of 100 from PASSPORT_TEST_PORT_BASE, default 20000) and run directory, stopped afterwards.

The booking service runs as two processes behind the gateway (gRPC round-robin over both), and
the gateway with several workers, so races are real. Tests that need a differently configured
platform (a shifted clock, fast retries) start their own with `running_stack`."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pymongo
import pytest

from deploy.local.client import Api
from deploy.local.stack import DEMO_STAFF, Ports, Stack

PORT_BASE = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000"))

# Functional tests run next to other load on 2 cores: booking calls get the general deadline and
# in-app load shedding is off (one slot per gunicorn thread, a fixed limit, a 5 s allowance for waiting
# on a thread); the release-rush answer budget and the shedding are exercised by `make bench`.
# Tests book "the first free slot" one after another, so they read availability fresh: the
# listing caches (booking's 2 s, the gateway's 3 s) and the seat hints (covered by unit tests and
# exercised by `make bench`) are off.
# Payment's safety-net scan of billings and complaint's scan of complaints past a deadline run every
# 5 s (hourly in production), so a test that moves a deadline in the store sees it acted on.
TEST_ENV = {"SLOT_HORIZON_DAYS": "24", "GATEWAY_BOOKING_RPC_DEADLINE_SECONDS": "5",
            "GATEWAY_ANSWER_BUDGET_SECONDS": "5", "GATEWAY_MAX_QUEUE_WAIT_MS": "5000",
            "GATEWAY_THREADS": "8", "GATEWAY_MAX_INFLIGHT": "8", "GATEWAY_MIN_INFLIGHT": "8", "WAITLIST_INTERVAL_SECONDS": "1",
            "SLOT_LIST_CACHE_SECONDS": "0", "SEAT_HINT_SECONDS": "0", "FREE_SEAT_HINT_SECONDS": "0",
            "GATEWAY_LISTING_CACHE_SECONDS": "0", "PAYMENT_SWEEP_SCAN_SECONDS": "5",
            "COMPLAINT_SWEEP_SCAN_SECONDS": "5",
            "NOTIFY_REMINDER_POLL_S": "1",
            # Tests register and sign in hundreds of accounts on 2 shared cores: scrypt at the pre-OWASP
            # cost (N=2^14, p=1, ~4x cheaper) here only; the booking service logs it as below OWASP.
            "PASSWORD_SCRYPT_N": "16384", "PASSWORD_SCRYPT_P": "1"}


@contextlib.contextmanager
def running_stack(prefix: str, port_base: int, extra_env: dict | None = None, booking_replicas: int = 1,
                  gateway_workers: int = 2, healthy_within_s: float = 300, watch: bool = False):
    """A whole platform in a temporary run directory, seeded, stopped and removed afterwards.
    `watch`: with the watcher that restarts crashed processes, as `make up` runs it."""
    run_dir = Path(tempfile.mkdtemp(prefix=prefix))
    stack = Stack(run_dir, Ports(base=port_base, booking_replicas=booking_replicas),
                  gateway_workers=gateway_workers, extra_env={**TEST_ENV, **(extra_env or {})}, watch=watch)
    try:
        try:
            stack.up()
        except RuntimeError:  # a loaded machine: services may need longer than up()'s 60 s
            stack.wait_healthy(healthy_within_s)
            if watch:
                stack.start_watcher()
        stack.seed_demo()
        yield stack
    finally:
        stack.down()
        if os.environ.get("KEEP_TEST_RUN_DIR"):
            print(f"test run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    with running_stack("passport-it-", PORT_BASE, booking_replicas=2, gateway_workers=3) as s:
        yield s


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.gateway_url)


@pytest.fixture(scope="session")
def booking_db(stack):
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    yield client["passport_booking"]
    client.close()


def staff_token(api: Api, role: str) -> str:
    staff = next(s for s in DEMO_STAFF if s["role"] == role)
    return api.login(staff["email"], staff["password"])


@pytest.fixture(scope="session")
def supervisor_token(api) -> str:
    return staff_token(api, "SUPERVISOR")


@pytest.fixture(scope="session")
def officer_token(api) -> str:
    return staff_token(api, "OFFICER")
