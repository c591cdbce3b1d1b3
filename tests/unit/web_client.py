"""The web app under test with a fake gateway and sessions on the in-memory store (shared by the
web unit tests)."""
from __future__ import annotations

import re

from services.web import gateway
from services.web.app import create_app
from services.web.sessions import Store
from tests.unit import keys
from tests.unit.fakemongo import Database


def client_with(monkeypatch, fake):
    """A Flask test client whose gateway calls go to `fake` (available as `client.fake`)."""
    monkeypatch.setattr(gateway, "call", fake)
    app = create_app(Store(Database(), keys.RING_1))
    app.testing = True
    c = app.test_client()
    c.fake = fake
    return c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
