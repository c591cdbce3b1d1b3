"""Applicant pages of the web app without servers (the gateway replaced by a fake, sessions on the
shared fake store): ballot dates in the calendar, ballot entries read back from the API, the office
named in the header, and a logged-out cookie that opens nothing."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from services.web import gateway
from services.web.app import create_app
from services.web.sessions import Store
from tests.unit import keys
from tests.unit.fakemongo import Database
from tests.unit.web_client import client_with, csrf_of

ZONE = ZoneInfo("Asia/Makassar")
TOMORROW = dt.datetime.now(ZONE).date() + dt.timedelta(days=1)
OPEN_DAY, LATER_DAY = TOMORROW + dt.timedelta(days=3), TOMORROW + dt.timedelta(days=5)
NOW = dt.datetime.now(dt.timezone.utc)


def ballot(day: dt.date, status: str, open_now: bool) -> dict:
    opens = NOW - dt.timedelta(hours=1) if open_now else NOW + dt.timedelta(days=1)
    return {"ballot_id": f"DPS-{day:%Y%m%d}-REGULAR", "office_id": "DPS", "date": day.isoformat(), "lane": "REGULAR",
            "entries_open_at": opens.isoformat(), "entries_close_at": (opens + dt.timedelta(hours=2)).isoformat(),
            "draw_at": (opens + dt.timedelta(hours=2)).isoformat(), "status": status, "commitment": "ab" * 32,
            "seed": None, "entries": 1, "winners": 0, "seats": 4}


BALLOTS = [ballot(OPEN_DAY, "OPEN", True), ballot(LATER_DAY, "SCHEDULED", False)]


class FakeGateway:
    def __init__(self):
        self.calls = []

    def __call__(self, method, path, body=None, token=None, idempotency_key=None, **kw):
        bare = path.split("?")[0]
        self.calls.append((method, bare, token))
        if bare == "/v1/auth/token":
            return gateway.Answer(200, {"access_token": "tok-siti"}, {})
        if bare == "/v1/offices":
            return gateway.Answer(200, {"items": [
                {"office_id": "DPS", "name": "Kantor Imigrasi Kelas I Khusus TPI Ngurah Rai", "timezone": "Asia/Makassar",
                 "address": ""}]}, {})
        if bare == "/v1/offices/DPS/ballots":  # public reads: no token
            return gateway.Answer(200, {"items": BALLOTS}, {})
        if bare == "/v1/offices/DPS/slots":
            day = re.search(r"date=([0-9-]+)", path).group(1)
            return gateway.Answer(200, {"items": [{"slot_id": f"DPS-{day}-0800-REGULAR", "start_time": "08:00",
                                                   "end_time": "09:00", "remaining": 3}]}, {})
        if token != "tok-siti":
            return gateway.Answer(401, {"type": "https://passport.example/problems/unauthenticated"}, {})
        if bare == "/v1/applications/app_1":
            return gateway.Answer(200, {"application_id": "app_1", "office_id": "DPS", "status": "DRAFT",
                                        "service_type": "NEW", "passport_type": "ELECTRONIC", "validity_years": 10,
                                        "express": False, "priority_group": None, "created_at": NOW.isoformat(),
                                        "history": []}, {})
        if bare == "/v1/applications/app_1/ballot-entries":
            b = BALLOTS[0]
            return gateway.Answer(200, {"items": [{"entry_id": "ent_1", "ballot_id": b["ballot_id"],
                                                   "application_id": "app_1", "entered_at": NOW.isoformat(),
                                                   "ballot": b, "outcome": None, "slot_id": None}]}, {})
        if bare == "/v1/applications/app_1/notifications":
            return gateway.Answer(200, {"items": []}, {})
        return gateway.Answer(404, {"type": "https://passport.example/problems/not-found"}, {})


@pytest.fixture
def client(monkeypatch):
    return client_with(monkeypatch, FakeGateway())


def log_in(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    answer = client.post("/login", data={"csrf": csrf_of(page), "email": "siti@example.id", "password": "p"})
    assert answer.status_code == 303


def test_ballot_dates_say_by_ballot_and_link_to_entering_instead_of_counting_seats(client):
    log_in(client)
    html = client.get("/applications/app_1/slots").get_data(as_text=True)
    open_id, later_id = BALLOTS[0]["ballot_id"], BALLOTS[1]["ballot_id"]
    cell = re.search(rf'<a href="#ballot-{open_id}">(.*?)</a>', html, re.S)
    assert cell and "Undian: ikut" in cell.group(1) and "kursi" not in cell.group(1)
    later = re.search(rf'<td class="ballot">\s*<span class="d">{LATER_DAY.day}/{LATER_DAY.month}</span>'
                      r'<span class="n">([^<]*)</span>', html)
    assert later and later.group(1) == "Lewat undian"  # not open for entries yet: no link, no seats
    assert f'id="ballot-{open_id}"' in html and f"#ballot-{later_id}" not in html
    assert "Anda sudah terdaftar di undian ini." in html  # read back from the API, not the session
    assert ("GET", "/v1/applications/app_1/ballot-entries", "tok-siti") in client.fake.calls
    assert "Ngurah Rai" in re.search(r'class="brand"[^>]*>.*?</a>', html, re.S).group(0)

    chosen = client.get(f"/applications/app_1/slots?date={LATER_DAY.isoformat()}").get_data(as_text=True)
    assert "lewat undian" in chosen and 'id="book"' not in chosen


def test_the_status_page_reads_the_entry_back_from_the_api(client):
    log_in(client)
    html = client.get("/applications/app_1").get_data(as_text=True)
    assert re.search(r'id="ballot">Terdaftar di undian ' + OPEN_DAY.strftime("%d-%m-%Y"), html)


def test_a_page_of_no_office_names_none_and_a_cookie_replayed_after_logout_opens_nothing(client):
    landing = client.get("/").get_data(as_text=True)
    assert "Tanjung Balai Karimun" not in landing and "Layanan paspor Imigrasi Indonesia" in landing
    log_in(client)
    cookie = client.get_cookie("sid").value
    page = client.get("/applications/app_1").get_data(as_text=True)
    assert client.post("/logout", data={"csrf": csrf_of(page)}).status_code == 303
    assert client.get_cookie("sid").value != cookie
    client.set_cookie("sid", cookie)
    again = client.get("/applications/app_1")
    assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_an_unreachable_session_store_answers_503_with_retry_after(monkeypatch):
    from pymongo.errors import ServerSelectionTimeoutError

    monkeypatch.setattr(gateway, "call", FakeGateway())
    store = Store(Database(), keys.RING_1)
    app = create_app(store)
    client = app.test_client()

    def down(*_a, **_kw):
        raise ServerSelectionTimeoutError("no server")
    monkeypatch.setattr(store.sessions, "find_one", down)
    client.set_cookie("sid", "a" * 43)
    answer = client.get("/applications")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "Tidak ada yang diproses" in answer.get_data(as_text=True)
