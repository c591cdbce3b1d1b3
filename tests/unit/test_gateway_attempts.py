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
