"""Staff tokens at the gateway (services/gateway/auth.py): a staff token carries the account's token
version and works only while the account is active and the version current; applicant tokens are
never looked up. The booking service's StaffService is replaced by a fake stub."""
from __future__ import annotations

import pytest
from flask import Flask

from passport.v1 import staff_pb2
from servicekit import identity
from services.gateway import auth, clients
from services.gateway.problems import Problem

APP = Flask(__name__)


class FakeStaff:
    def __init__(self):
        self.state = {"stf_1": (True, 0)}
        self.asked = []

    def GetTokenState(self, request):
        self.asked.append(request.account_id)
        active, version = self.state.get(request.account_id, (False, 0))
        return staff_pb2.TokenState(active=active, token_version=version)


@pytest.fixture
def staff(monkeypatch, tmp_path):
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-of-at-least-32-characters")
    for name, value in identity.make_local_keys(tmp_path).items():  # the gateway signs who is calling
        monkeypatch.setenv(name, value)
    fake = FakeStaff()
    monkeypatch.setattr(clients, "staff", lambda: fake)
    yield fake
    # auth.current() signs the identity into this thread's context, as a gateway worker does per
    # request: leave nothing for the stack tests that later call services from this process.
    identity.current.set(None)


def principal(token: str):
    with APP.test_request_context("/", headers={"Authorization": f"Bearer {token}"}):
        return auth.current()


def test_a_staff_token_works_while_its_version_is_current(staff):
    token, _ = auth.issue("stf_1", "OFFICER", "TBK", 0)
    assert principal(token).office_id == "TBK" and staff.asked == ["stf_1"]
    staff.state["stf_1"] = (True, 1)  # the supervisor reset the password
    with pytest.raises(Problem) as err:
        principal(token)
    assert err.value.status == 401 and err.value.slug == "token-revoked"
    fresh, _ = auth.issue("stf_1", "OFFICER", "TBK", 1)
    assert principal(fresh).account_id == "stf_1"


def test_a_deactivated_account_is_refused_even_with_the_current_version(staff):
    token, _ = auth.issue("stf_1", "SUPERVISOR", "TBK", 2)
    staff.state["stf_1"] = (False, 2)
    with pytest.raises(Problem) as err:
        principal(token)
    assert err.value.slug == "token-revoked"


def test_applicant_tokens_are_not_looked_up(staff):
    token, _ = auth.issue("acc_1", "APPLICANT", "")
    assert principal(token).role == "APPLICANT" and staff.asked == []
