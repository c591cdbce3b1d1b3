"""One real stack per test session: Kafka, FerretDB, the services and the gateway, on their own
ports (PASSPORT_TEST_PORT_OFFSET, default 10000) and run directory, stopped afterwards.

The booking service runs as two processes behind the gateway (gRPC round-robin over both), and
the gateway with several workers, so races are real."""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from deploy.local.stack import Ports, Stack
from deploy.local.client import Api

OFFSET = int(os.environ.get("PASSPORT_TEST_PORT_OFFSET", "10000"))


@pytest.fixture(scope="session")
def stack():
    run_dir = Path(tempfile.mkdtemp(prefix="passport-it-"))
    s = Stack(run_dir, Ports(offset=OFFSET, booking_replicas=2), gateway_workers=3,
              # Functional tests run next to other load on 2 cores: give booking calls the general
              # deadline; the 1.5 s release-rush budget is exercised by `make bench`.
              # In-app load shedding is off here (one slot per gunicorn thread) for the same reason.
              extra_env={"SLOT_HORIZON_DAYS": "10", "GATEWAY_BOOKING_RPC_DEADLINE_SECONDS": "5",
                         "GATEWAY_MAX_INFLIGHT": "8", "WAITLIST_INTERVAL_SECONDS": "1"})
    try:
        s.up()
        s.seed_demo()
        yield s
    finally:
        s.down()
        if os.environ.get("KEEP_TEST_RUN_DIR"):
            print(f"test run directory kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.gateway_url)


@pytest.fixture()
def unique() -> str:
    return uuid.uuid4().hex[:8]
