"""The applicant's queue page (services/web): what it says when the room moved the place back, and
that reloads before the time the room gave are answered from the session, never sent to the room
(asking early again and again is what moves a place back). A fake gateway: no store, no browser."""
from __future__ import annotations

import os
from pathlib import Path

from services.web import gateway
from tests.unit.web_client import client_with, csrf_of

SLOT = "TBK-20270104-REGULAR-0900"


class FakeGateway:
    def __init__(self, moved_back: bool):
        self.moved_back, self.room_asks = moved_back, 0

    def __call__(self, method, path, body=None, token=None, idempotency_key=None, **kw):
        if path == "/v1/auth/token":
            return gateway.Answer(200, {"access_token": "tok-applicant"}, {})
        if path == "/v1/applications/app-1/appointment":
            return gateway.Answer(429, {"type": "https://passport.example/problems/waiting-room",
                                        "title": "Ruang tunggu aktif", "status": 429}, {"Retry-After": "5"})
        if path == "/v1/offices/TBK/waiting-room":
            self.room_asks += 1
            return gateway.Answer(200, {"office_id": "TBK", "room_id": "TBK:s1", "status": "waiting", "position": 12,
                                        "estimated_wait_seconds": 30, "poll_after_seconds": 15,
                                        "poll_after_ms": 15_000, "admission_pass": None,
                                        "moved_back": self.moved_back}, {})
        if path.startswith("/v1/offices"):
            return gateway.Answer(200, {"items": [{"office_id": "TBK", "name": "Kantor Imigrasi TBK",
                                                   "timezone": "Asia/Jakarta", "address": ""}]}, {})
        return gateway.Answer(404, {"type": "https://passport.example/problems/not-found"}, {})


def keep(html: str, name: str) -> None:
    """WEB_PAGES_DIR=<dir>: the page's HTML with its stylesheet inlined, to look at in a browser."""
    where = os.environ.get("WEB_PAGES_DIR")
    if where:
        css = (Path(__file__).parents[2] / "services/web/static/app.css").read_text()
        html = html.replace('<link rel="stylesheet"', f'<style>{css}</style><link rel="alternate"', 1)
        Path(where, name + ".html").write_text(html)


def queued(monkeypatch, moved_back: bool):
    client = client_with(monkeypatch, FakeGateway(moved_back))
    login = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"csrf": csrf_of(login), "email": "a@x", "password": "p"}).status_code == 303
    csrf = csrf_of(client.get("/preferences").get_data(as_text=True))  # a new one after signing in
    booked = client.post("/applications/app-1/book", data={"csrf": csrf, "slot_id": SLOT, "idem": "k-1"})
    assert booked.status_code == 303 and booked.headers["Location"].endswith("/applications/app-1/queue")
    return client


def test_the_queue_page_says_plainly_when_the_place_was_moved_back(monkeypatch):
    client = queued(monkeypatch, moved_back=True)
    page = client.get("/applications/app-1/queue").get_data(as_text=True)
    keep(page, "queue-moved-back-id")
    assert "Posisi Anda dalam antrean: 12" in page
    assert 'id="queue-moved-back"' in page and "dipindah ke belakang antrean" in page
    assert "tempat Anda tetap tersimpan" not in page  # "your place is kept" would contradict it
    client.get("/lang/en")
    english = client.get("/applications/app-1/queue").get_data(as_text=True)
    keep(english, "queue-moved-back-en")
    assert "Your place in the queue: 12" in english and "moved to the back of the line" in english


def test_reloads_before_the_time_told_are_answered_from_the_session(monkeypatch):
    client = queued(monkeypatch, moved_back=False)
    pages = [client.get("/applications/app-1/queue").get_data(as_text=True) for _ in range(12)]
    assert client.fake.room_asks == 1  # one ask; the other eleven reloads never reached the room
    assert all("Posisi Anda dalam antrean: 12" in p for p in pages)
    assert not any('id="queue-moved-back"' in p for p in pages)
