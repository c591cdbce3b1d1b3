"""A staff password alone is not enough: an officer with an authenticator app enrolled (by QR: the
otpauth URI) is refused without the code (401 otp-required), with a wrong one and with the same code
replayed (401 otp-invalid); the stack runs STAFF_TOTP=optional, so only enrolled staff need it."""
from __future__ import annotations

import datetime as dt
import time
import uuid

import pyotp

from deploy.local.stack import DEMO_STAFF

SUPERVISOR = next(s for s in DEMO_STAFF if s["role"] == "SUPERVISOR" and s["office_id"] == "TBK")


def new_officer(api) -> dict:
    boss = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    email = f"officer-{uuid.uuid4().hex[:10]}@tbk.imigrasi.example"
    made = api.post("/v1/offices/TBK/staff", {"full_name": "Petugas TOTP", "email": email}, token=boss)
    assert made.status == 201, made.body
    return {"email": email, "password": made.body["temporary_password"]}


def fresh_code(totp: pyotp.TOTP) -> str:
    """A code with at least 5 s of its window left, so the test does not race the step boundary."""
    if 30 - time.time() % 30 < 5:
        time.sleep(30 - time.time() % 30 + 0.2)
    return totp.now()


def test_an_enrolled_officer_needs_the_code_and_a_code_is_good_once(api):
    officer = new_officer(api)
    assert api.post("/v1/auth/token", officer).status == 200  # not enrolled yet: the password (optional mode)
    started = api.post("/v1/auth/totp/enrolment", officer)
    assert started.status == 200 and started.body["otpauth_uri"].startswith("otpauth://totp/"), started.body
    totp = pyotp.TOTP(started.body["secret"])
    confirm = api.post("/v1/auth/totp/enrolment/confirm", {**officer, "otp": fresh_code(totp)})
    assert confirm.status == 200 and confirm.body["access_token"], confirm.body
    assert api.post("/v1/auth/totp/enrolment", officer).body["type"].endswith("/otp-already-enrolled")

    bare = api.post("/v1/auth/token", officer, headers={"Accept-Language": "en"})
    assert bare.status == 401 and bare.body["type"].endswith("/otp-required"), bare.body
    wrong = "000000" if totp.now() != "000000" else "111111"
    refused = api.post("/v1/auth/token", {**officer, "otp": wrong})
    assert refused.status == 401 and refused.body["type"].endswith("/otp-invalid")
    assert refused.body["title"] == "Kode verifikasi salah"  # Indonesian by default

    time.sleep(30 - time.time() % 30 + 0.2)  # the enrolment used this step's code: the next one
    code = fresh_code(totp)
    signed = api.post("/v1/auth/token", {**officer, "otp": code})
    assert signed.status == 200 and signed.body["access_token"]
    replay = api.post("/v1/auth/token", {**officer, "otp": code})
    assert replay.status == 401 and replay.body["type"].endswith("/otp-invalid"), "the same code twice"


def test_the_second_factor_is_for_staff_and_an_applicant_signs_in_as_before(api):
    person = api.register_applicant()
    credentials = {"email": person["email"], "password": person["password"]}
    assert api.post("/v1/auth/totp/enrolment", credentials).status == 403
    assert api.post("/v1/auth/token", credentials).status == 200


def test_a_recovery_code_signs_in_once_and_a_supervisor_reset_is_audited(api):
    """Ten one-time recovery codes come with the enrolment (shown once); each stands in for the
    code once; the head of office resets a lost phone's app (audited) and the codes die with it."""
    officer = new_officer(api)
    totp = pyotp.TOTP(api.post("/v1/auth/totp/enrolment", officer).body["secret"])
    confirm = api.post("/v1/auth/totp/enrolment/confirm", {**officer, "otp": fresh_code(totp)})
    assert confirm.status == 200, confirm.body
    codes = confirm.body["recovery_codes"]
    assert len(set(codes)) == 10
    assert api.post("/v1/auth/token", {**officer, "otp": codes[0]}).status == 200
    again = api.post("/v1/auth/token", {**officer, "otp": codes[0]})
    assert again.status == 401 and again.body["type"].endswith("/otp-invalid"), "a recovery code is good once"
    wrong_password = api.post("/v1/auth/token", {"email": officer["email"], "password": "Salah-Sekali-2026",
                                                "otp": codes[1]})
    assert wrong_password.status == 401 and wrong_password.body["type"].endswith("/invalid-credentials")

    boss = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    me = api.get("/v1/me", token=boss)
    staff = api.get("/v1/offices/TBK/staff", token=boss).body["items"]
    account_id = next(s["account_id"] for s in staff if s["email"] == officer["email"])
    reset = api.post(f"/v1/offices/TBK/staff/{account_id}/totp-reset", {}, token=boss)
    assert reset.status == 200, reset.body
    # the app and its codes are gone: optional mode signs in with the password, the codes are dead
    assert api.post("/v1/auth/token", officer).status == 200
    assert api.post("/v1/auth/totp/enrolment", officer).status == 200  # enrols again
    today = dt.date.today()  # the office's day may be the next one: a day either side
    audit = api.get(f"/v1/offices/TBK/audit?from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}",
                    token=boss).body["items"]
    assert any(e["action"] == "STAFF_TOTP_RESET" and e["details"]["account_id"] == account_id
               and e["actor_account_id"] == me.body["account_id"] for e in audit)
