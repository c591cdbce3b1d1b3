"""The staff console of the web app (services/web/console.py, supervisor.py, charts.py) without servers:
its catalogue keys, the SVG chart, the independent ballot check, and sign-out when the gateway
refuses the token (a deactivated officer), with the gateway replaced by a fake."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.booking.domain import ballots as releases
from services.web import charts, console_messages, gateway, messages, supervisor
from tests.unit.web_client import client_with, csrf_of

WEB = Path(__file__).resolve().parents[2] / "services" / "web"


def test_every_key_the_console_uses_exists_in_both_languages():
    assert set(console_messages.ID) == set(console_messages.EN)
    used = set()
    for f in list((WEB / "templates" / "console").glob("*.html")) + [WEB / "console.py", WEB / "supervisor.py"]:
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z0-9_.-]+)['"]""", f.read_text()))
        used |= set(re.findall(r"""flash\(\s*['"]([a-z0-9_.-]+)['"]""", f.read_text()))
    missing = {k for k in used if not k.endswith((".", "_")) and (k not in messages.ID or k not in messages.EN)}
    assert used and not missing, sorted(missing)
    for n in range(1, 11):
        assert messages.text("id", f"finger.{n}") and messages.text("en", f"finger.{n}") != f"finger.{n}"


def test_the_console_never_replaces_an_applicant_text():
    assert messages.ID["p.not-found"] == "Tidak ditemukan."
    assert messages.EN["lane.REGULAR"] == "Regular"


def test_the_chart_is_plain_svg_with_a_bar_per_value_and_no_inline_style():
    svg = str(charts.grouped_bars("Statistik", ["2026-12-01", "2026-12-02"], [("booked", [3, 7]), ("paid", [2, 0])]))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title id=\"chart-title\">Statistik</title>" in svg
    assert svg.count("<rect") == 4 and "style=" not in svg
    assert "2026-12-02 · booked: 7" in svg
    assert [charts.nice_step(p) for p in (1, 5, 6, 11, 30, 99, 1234)] == [1, 1, 2, 5, 10, 20, 500]
    assert charts.short("2026-12-03") == "03-12" and charts.short("2026-12") == "12-2026"


def test_the_ballot_check_agrees_with_the_published_draw_and_catches_a_changed_order():
    secret, ballot_id = "s3cr3t", "bal_1"
    seed = releases.seed_of(ballot_id, secret)
    entries = [f"ent_{i}" for i in range(12)]
    result = {"ballot_id": ballot_id, "secret": secret, "seed": seed, "commitment": releases.commitment_of(secret),
              "entry_ids": entries, "order": releases.draw_order(seed, entries)}
    assert supervisor.verify_draw(result) == {"ok": True, "checks": [("commitment", True), ("seed", True),
                                                                      ("order", True)]}
    swapped = {**result, "order": result["order"][1:] + result["order"][:1]}
    assert supervisor.verify_draw(swapped)["ok"] is False


def test_office_time_from_a_datetime_input():
    assert supervisor.local_to_rfc3339("2026-12-03T09:00", "Asia/Jakarta") == "2026-12-03T09:00:00+07:00"
    assert supervisor.local_to_rfc3339("not a time", "Asia/Jakarta") == "not a time"


class FakeGateway:
    """Answers the few gateway calls of signing in and of today's queue; `refuse` makes it a 401."""

    def __init__(self):
        self.refuse = False
        self.calls = []

    def __call__(self, method, path, body=None, token=None, idempotency_key=None, **kw):
        self.calls.append((method, path.split("?")[0], token))
        if self.refuse and token:
            return gateway.Answer(401, {"type": "https://passport.example/problems/unauthenticated"}, {})
        if path == "/v1/auth/token":
            return gateway.Answer(200, {"access_token": "tok-officer"}, {})
        if path == "/v1/me":
            return gateway.Answer(200, {"account_id": "acc_1", "full_name": "Petugas Satu", "role": "OFFICER",
                                        "office_id": "TBK"}, {})
        if path == "/v1/offices":
            return gateway.Answer(200, {"items": [{"office_id": "TBK", "name": "Kantor Imigrasi TBK",
                                                   "timezone": "Asia/Jakarta", "address": ""}]}, {})
        if path.startswith("/v1/offices/TBK/appointments"):
            return gateway.Answer(200, {"office_id": "TBK", "date": "2026-12-04", "total": 0, "page": 1,
                                        "page_size": 50, "items": []}, {})
        if path.startswith("/v1/offices/TBK/queue"):
            return gateway.Answer(200, {"office_id": "TBK", "date": "2026-12-04", "items": []}, {})
        return gateway.Answer(404, {"type": "https://passport.example/problems/not-found"}, {})


@pytest.fixture
def client(monkeypatch):
    return client_with(monkeypatch, FakeGateway())


def test_a_refused_staff_token_signs_the_officer_out_on_the_next_request(client):
    page = client.get("/petugas/login").get_data(as_text=True)
    signed_in = client.post("/petugas/login", data={"csrf": csrf_of(page), "email": "o@x", "password": "p"})
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/petugas")
    today = client.get("/petugas")
    assert today.status_code == 200 and "Antrean hari ini" in today.get_data(as_text=True)
    assert ("GET", "/v1/offices/TBK/appointments", "tok-officer") in client.fake.calls

    client.fake.refuse = True  # the supervisor deactivated the account: the gateway refuses its token
    refused = client.get("/petugas")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/petugas/login")
    client.fake.refuse = False
    again = client.get("/petugas")
    assert again.status_code == 302, "the token is gone from the session, not only refused once"
    login = client.get("/petugas/login").get_data(as_text=True)
    assert "akun dinonaktifkan" in login


def test_an_applicant_account_is_not_let_into_the_console(client, monkeypatch):
    fake = client.fake
    original = fake.__class__.__call__

    def applicant(self, method, path, *a, **kw):
        if path == "/v1/me":
            return gateway.Answer(200, {"account_id": "acc_2", "full_name": "Siti", "role": "APPLICANT"}, {})
        return original(self, method, path, *a, **kw)
    monkeypatch.setattr(FakeGateway, "__call__", applicant)
    page = client.get("/petugas/login").get_data(as_text=True)
    answer = client.post("/petugas/login", data={"csrf": csrf_of(page), "email": "a@x", "password": "p"})
    assert answer.status_code == 200 and "bukan akun petugas" in answer.get_data(as_text=True)
    assert client.get("/petugas").status_code == 302


def test_the_waiting_room_display_shows_numbers_only_and_refreshes_itself(client, monkeypatch):
    fake = client.fake
    original = fake.__class__.__call__

    def with_calls(self, method, path, *a, **kw):
        if path == "/v1/offices/TBK/queue":
            return gateway.Answer(200, {"office_id": "TBK", "date": "2026-12-04", "items": [
                {"number": "A002", "action": "CALLED", "desk": "Loket 2", "at": "2026-12-04T01:05:00Z"},
                {"number": "A001", "action": "SKIPPED", "desk": None, "at": "2026-12-04T01:04:00Z"},
                {"number": "A001", "action": "CALLED", "desk": "Loket 1", "at": "2026-12-04T01:00:00Z"}]}, {})
        return original(self, method, path, *a, **kw)
    monkeypatch.setattr(FakeGateway, "__call__", with_calls)
    html = client.get("/antrean/TBK").get_data(as_text=True)
    assert re.search(r'id="now-number">A002<', html) and "ke Loket 2" in html
    assert 'data-refresh="5"' in html and "http-equiv" not in html
    assert client.get("/antrean/NOPE").status_code == 404


def test_staff_without_an_authenticator_app_enrol_by_qr_and_are_signed_in_by_its_first_code(client, monkeypatch):
    fake, sent = client.fake, []
    original = fake.__class__.__call__
    uri = "otpauth://totp/Imigrasi%20Passport:o%40x?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Imigrasi%20Passport"

    def totp(self, method, path, body=None, *a, **kw):
        sent.append((path, dict(body or {})))
        problem = "https://passport.example/problems/"
        if path == "/v1/auth/token":
            slug = "otp-enrolment-required" if "otp" not in (body or {}) else "otp-invalid"
            return gateway.Answer(401, {"type": problem + slug}, {})
        if path == "/v1/auth/totp/enrolment":
            return gateway.Answer(200, {"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_uri": uri}, {})
        if path == "/v1/auth/totp/enrolment/confirm":
            if body.get("otp") != "123456":
                return gateway.Answer(401, {"type": problem + "otp-invalid"}, {})
            return gateway.Answer(200, {"access_token": "tok-officer", "recovery_codes": codes}, {})
        return original(self, method, path, body, *a, **kw)
    codes = [f"ABCD-EFGH-JK{n:02d}" for n in range(10)]
    monkeypatch.setattr(FakeGateway, "__call__", totp)
    page = client.get("/petugas/login").get_data(as_text=True)
    assert 'name="otp"' in page and 'autocomplete="one-time-code"' in page
    enrol = client.post("/petugas/login", data={"csrf": csrf_of(page), "email": "o@x", "password": "p"})
    html = enrol.get_data(as_text=True)
    assert enrol.status_code == 200 and "<svg" in html and "JBSW Y3DP" in html and "wajib" in html
    assert client.get("/petugas").status_code == 302  # no token before the code confirms the app
    wrong = client.post("/petugas/2fa/konfirmasi", data={"csrf": csrf_of(html), "email": "o@x", "password": "p",
                                                         "otp": "654321", "uri": uri, "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 200 and "<svg" in html and "salah" in html  # the same QR again
    done = client.post("/petugas/2fa/konfirmasi", data={"csrf": csrf_of(html), "email": "o@x", "password": "p",
                                                        "otp": "123 456", "uri": uri, "secret": "x"})
    shown = done.get_data(as_text=True)  # the recovery codes, this once, then on to the console
    assert done.status_code == 200 and all(c in shown for c in codes) and 'id="codes-done"' in shown
    assert client.get("/petugas").status_code == 200
    assert not any(c in client.get("/petugas").get_data(as_text=True) for c in codes)
    assert ("/v1/auth/totp/enrolment/confirm", {"email": "o@x", "password": "p", "otp": "123456"}) in sent


def test_an_enrolled_officer_is_asked_for_the_code(client, monkeypatch):
    original = client.fake.__class__.__call__

    def needs_code(self, method, path, body=None, *a, **kw):
        if path == "/v1/auth/token" and "otp" not in (body or {}):
            return gateway.Answer(401, {"type": "https://passport.example/problems/otp-required"}, {})
        return original(self, method, path, body, *a, **kw)
    monkeypatch.setattr(FakeGateway, "__call__", needs_code)
    page = client.get("/petugas/login").get_data(as_text=True)
    asked = client.post("/petugas/login", data={"csrf": csrf_of(page), "email": "o@x", "password": "p"})
    html = asked.get_data(as_text=True)
    assert "kode 6 angka" in html and re.search(r'name="otp"[^>]* required', html)
    signed = client.post("/petugas/login", data={"csrf": csrf_of(html), "email": "o@x", "password": "p", "otp": "123456"})
    assert signed.status_code == 303


def test_statement_lines_the_bank_did_not_confirm_are_listed_with_their_reason(client, monkeypatch):
    import io
    original = client.fake.__class__.__call__
    line = {"bank_reference": "FAKE-1", "billing_code": "820260302000001", "amount": 350000,
            "paid_at": "2026-12-03T01:00:00Z", "outcome": "bank-unknown-reference"}

    def head(self, method, path, body=None, *a, **kw):
        if path == "/v1/me":
            return gateway.Answer(200, {"account_id": "acc_sup", "full_name": "Kepala", "role": "SUPERVISOR",
                                        "office_id": "TBK"}, {})
        if path.startswith("/v1/offices/TBK/refunds"):
            return gateway.Answer(200, {"items": []}, {})
        if path == "/v1/offices/TBK/reconciliations":
            return gateway.Answer(200, {"matched": [], "missing_ours": [], "missing_bank": [],
                                        "mismatched": [line, dict(line, bank_reference="OTHER-2", outcome="some difference")]}, {})
        return original(self, method, path, body, *a, **kw)
    monkeypatch.setattr(FakeGateway, "__call__", head)
    page = client.get("/petugas/login").get_data(as_text=True)
    assert client.post("/petugas/login", data={"csrf": csrf_of(page), "email": "s@x", "password": "p"}).status_code == 303
    html = client.get("/petugas/refund").get_data(as_text=True)
    done = client.post("/petugas/refund/rekonsiliasi", data={"csrf": csrf_of(html), "idem": "k1",
                       "statement": (io.BytesIO(b"bank_reference,billing_code,amount,paid_at\n"), "s.csv")},
                       content_type="multipart/form-data")
    assert done.status_code == 303
    shown = client.get("/petugas/refund").get_data(as_text=True)
    refused = shown[shown.index('id="reconciliation-refused"'):]
    assert "FAKE-1" in refused and "Bank tidak mengenal referensi ini" in refused and "OTHER-2" not in refused


def test_input_constraints_reach_the_browser_as_attributes_not_escaped_text(client):
    """A field's extra attributes (pattern, maxlength, inputmode) are real attributes; escaped into
    text they were ignored by the browser."""
    login = client.get("/petugas/login").get_data(as_text=True)
    assert 'autofocus="autofocus"' in login and "&#34;" not in login
    register = client.get("/register").get_data(as_text=True)
    nik = re.search(r'<input id="f-nik"[^>]*>', register).group(0)
    assert 'inputmode="numeric"' in nik and 'maxlength="16"' in nik and "&#34;" not in nik
