"""One real stack for the attack replays, on its own ports (the integration block + 900)."""
from __future__ import annotations

import pytest

from deploy.local.client import Api
from tests.integration.conftest import PORT_BASE, running_stack

SECURITY_PORT_BASE = PORT_BASE + 900


@pytest.fixture(scope="session")
def stack():
    with running_stack("passport-sec-", SECURITY_PORT_BASE) as s:
        yield s


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack.gateway_url)
