"""Whose attempts are counted: the person's address, also behind the web app or an ingress."""
from __future__ import annotations

import pytest
from flask import Flask

from services.gateway import attempts


@pytest.fixture
def trusted(monkeypatch):
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1")
    attempts._trusted_proxies.cache_clear()
    yield
    attempts._trusted_proxies.cache_clear()


@pytest.mark.parametrize("remote, forwarded, person", [
    ("203.0.113.9", "", "203.0.113.9"),                           # straight from the internet
    ("203.0.113.9", "198.51.100.1", "203.0.113.9"),               # an untrusted caller cannot pick its address
    ("10.1.2.3", "198.51.100.1", "198.51.100.1"),                 # the ingress forwarded the person's address
    ("127.0.0.1", "198.51.100.1, 10.4.4.4", "198.51.100.1"),      # web app behind the ingress
    ("10.1.2.3", "", "10.1.2.3"),                                 # nothing forwarded: the proxy itself
])
def test_the_person_behind_trusted_proxies_is_counted(trusted, remote, forwarded, person):
    app = Flask(__name__)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context("/v1/auth/token", headers=headers, environ_base={"REMOTE_ADDR": remote}):
        assert attempts.client() == person


@pytest.mark.parametrize("kind", ["register-client", "reset-client"])
def test_registrations_and_resets_per_client_end_in_429_with_retry_after(monkeypatch, kind):
    from services.gateway.problems import Problem
    from tests.unit.fakemongo import Collection
    store = Collection("attempts")
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-of-at-least-32-characters")
    monkeypatch.setattr(attempts.COUNTERS, "get", lambda _now: store)
    monkeypatch.setattr(attempts, "limits", lambda: {kind: 3})
    monkeypatch.setattr(attempts, "_appenders", {})
    for _ in range(3):
        attempts.spend(kind, "198.51.100.7")
    with pytest.raises(Problem) as refused:
        attempts.spend(kind, "198.51.100.7")
    assert refused.value.status == 429 and refused.value.slug == "too-many-attempts"
    assert 1 <= refused.value.retry_after <= 15 * 60
    attempts.spend(kind, "198.51.100.8")  # another person behind another address is not affected
    assert "198.51.100.7" not in repr(store.docs)  # counted under a keyed hash, not the address


def test_each_attempt_is_its_own_numbered_entry_and_a_refusal_writes_nothing(monkeypatch):
    from services.gateway.problems import Problem
    from tests.unit.fakemongo import Collection
    store = Collection("attempts")
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-of-at-least-32-characters")
    monkeypatch.setattr(attempts.COUNTERS, "get", lambda _now: store)
    monkeypatch.setattr(attempts, "limits", lambda: {"login-account": 5})
    monkeypatch.setattr(attempts, "_appenders", {})
    assert [attempts.record("login-account", "a@example.id") for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(Problem):
        attempts.check("login-account", "A@example.id ")  # the same account however it is typed
    entries = len(store.docs)
    for _ in range(10):
        with pytest.raises(Problem):
            attempts.check("login-account", "a@example.id")
    assert len(store.docs) == entries == 5
    attempts.check("login-account", "b@example.id")  # another account: free
