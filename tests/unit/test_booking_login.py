"""Signing in (services/booking/usecases/login.py): staff TOTP enrolment and codes, replay refused,
STAFF_TOTP required vs optional, the secret kept encrypted, and scrypt hashes rehashed at the
configured cost on sign-in (domain/passwords.py). In-memory store."""
from __future__ import annotations

import base64
import datetime as dt

import pyotp
import pytest

from servicekit.clock import FixedClock
from servicekit.config import ConfigError
from servicekit.errors import DomainError
from services.booking.adapters.accounts import Accounts
from services.booking.adapters.second_factor import SecondFactors
from servicekit.crypto import KeyRing
from services.booking.domain import passwords
from services.booking.domain import second_factor as totp
from services.booking.usecases.login import Login
from tests.unit import keys
from tests.unit.fakemongo import Database

STAFF, APPLICANT, PASSWORD = "officer@tbk.example", "siti@example.id", "Sandi-Rahasia-2026"
KEYS = "t1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(autouse=True)
def cheap_hashes():
    before = passwords.cost()
    passwords.configure(2 ** 10, 8, 1)
    yield
    passwords.configure(*before)


def world(mode="required"):
    clock = FixedClock(dt.datetime(2026, 12, 3, 2, 0, 5, tzinfo=dt.timezone.utc))
    db = Database()
    accounts = Accounts(db, clock, keys.ring(), keys.lookup())
    accounts.create_staff("Budi", STAFF, PASSWORD, "OFFICER", "TBK")
    accounts.register("3171011205880001", "Siti Aminah", "1988-05-12", APPLICANT, "081234567890", PASSWORD)
    return Login(accounts, SecondFactors(db, KeyRing(KEYS)), clock, mode), clock, db


def code(secret, clock, shift=0):
    return pyotp.TOTP(secret).at(clock.now() + dt.timedelta(seconds=shift))


def refused(call, *args):
    with pytest.raises(DomainError) as err:
        call(*args)
    return err.value.kind, err.value.problem


def enrolled(mode="required"):
    login, clock, db = world(mode)
    secret, uri = login.start_enrolment(STAFF, PASSWORD)
    assert uri.startswith("otpauth://totp/") and "secret=" + secret in uri
    _, recovery = login.confirm_enrolment(STAFF, PASSWORD, code(secret, clock))
    assert len(recovery) == 10
    clock.advance(seconds=30)  # the next step: the enrolment's own code is used
    return login, clock, db, secret


def test_required_mode_refuses_staff_until_they_enrol_but_not_applicants():
    login, _clock, _db = world("required")
    assert refused(login.authenticate, STAFF, PASSWORD, "") == ("unauthenticated", "otp-enrolment-required")
    assert login.authenticate(APPLICANT, PASSWORD)["role"] == "APPLICANT"
    # A wrong password is still just a wrong password (nothing about the second factor leaks).
    assert refused(login.authenticate, STAFF, "Salah-Sekali-2026", "") == ("unauthenticated", "invalid-credentials")


def test_optional_mode_lets_unenrolled_staff_in_with_the_password():
    login, _clock, _db = world("optional")
    assert login.authenticate(STAFF, PASSWORD)["role"] == "OFFICER"


@pytest.mark.parametrize("mode", ["required", "optional"])
def test_enrolled_staff_need_the_code_and_a_code_works_once(mode):
    login, clock, _db, secret = enrolled(mode)
    assert refused(login.authenticate, STAFF, PASSWORD, "") == ("unauthenticated", "otp-required")
    assert refused(login.authenticate, STAFF, PASSWORD, "000000" if code(secret, clock) != "000000" else "111111") \
        == ("unauthenticated", "otp-invalid")
    now = code(secret, clock)
    assert login.authenticate(STAFF, PASSWORD, now)["_id"].startswith("stf_")
    assert refused(login.authenticate, STAFF, PASSWORD, now) == ("unauthenticated", "otp-invalid")  # replay
    clock.advance(seconds=20)  # still within the drift window of that code's step: still a replay
    assert refused(login.authenticate, STAFF, PASSWORD, now) == ("unauthenticated", "otp-invalid")


def test_a_code_one_step_off_is_accepted_for_clock_drift_but_not_two():
    login, clock, _db, secret = enrolled()
    assert login.authenticate(STAFF, PASSWORD, code(secret, clock, 30))  # (the step before: the enrolment's)
    assert refused(login.authenticate, STAFF, PASSWORD, code(secret, clock, 90)) == ("unauthenticated", "otp-invalid")
    assert refused(login.authenticate, STAFF, PASSWORD, "12345a") == ("unauthenticated", "otp-invalid")


def test_enrolment_needs_the_password_a_staff_account_and_a_started_secret():
    login, clock, _db = world()
    assert refused(login.start_enrolment, STAFF, "Salah-Sekali-2026")[1] == "invalid-credentials"
    assert refused(login.start_enrolment, APPLICANT, PASSWORD) == ("forbidden", "otp-staff-only")
    assert refused(login.confirm_enrolment, STAFF, PASSWORD, "123456") == ("conflict", "otp-enrolment-not-started")
    first, _ = login.start_enrolment(STAFF, PASSWORD)
    second, _ = login.start_enrolment(STAFF, PASSWORD)  # only the last QR shown counts
    assert refused(login.confirm_enrolment, STAFF, PASSWORD, code(first, clock))[1] in ("otp-invalid",) \
        or code(first, clock) == code(second, clock)
    login.confirm_enrolment(STAFF, PASSWORD, code(second, clock))
    assert refused(login.start_enrolment, STAFF, PASSWORD) == ("exists", "otp-already-enrolled")


def test_the_secret_is_stored_encrypted_and_bound_to_its_account():
    login, _clock, db, secret = enrolled()
    (record,) = db["totp_secrets"].find({})
    assert secret not in repr(record) and secret.encode() not in record["confirmed"]["ciphertext"]
    other = Database()
    other["totp_secrets"].insert_one({**record, "_id": "stf_someone_else"})
    with pytest.raises(Exception):  # moved to another account: the associated data no longer matches
        SecondFactors(other, KeyRing(KEYS)).confirmed_secret("stf_someone_else")
    with pytest.raises(ConfigError):
        KeyRing("t1:not-base64!")


def test_matching_step_is_the_step_of_the_code():
    secret, at = totp.new_secret(), dt.datetime(2026, 12, 3, 2, 0, 5, tzinfo=dt.timezone.utc)
    step = int(at.timestamp()) // 30
    assert totp.matching_step(secret, pyotp.TOTP(secret).at(at), at) == step
    assert totp.matching_step(secret, pyotp.TOTP(secret).at(at - dt.timedelta(seconds=30)), at) == step - 1
    with pytest.raises(ValueError):
        totp.mode_of("sometimes")


def test_an_older_cheaper_hash_is_rehashed_on_sign_in_and_still_verifies():
    login, _clock, db = world("optional")
    (staff,) = db["accounts"].find({"role": "OFFICER"})
    assert staff["password_hash"].startswith("scrypt$1024$8$1$")
    passwords.configure(2 ** 11, 8, 2)
    assert passwords.needs_rehash(staff["password_hash"])
    login.authenticate(STAFF, PASSWORD)
    (staff,) = db["accounts"].find({"role": "OFFICER"})
    assert staff["password_hash"].startswith("scrypt$2048$8$2$") and not passwords.needs_rehash(staff["password_hash"])
    assert login.authenticate(STAFF, PASSWORD)  # the new hash verifies


def test_password_cost_defaults_to_owasp_and_unknown_emails_pay_the_same_cost():
    assert passwords.OWASP == (2 ** 15, 8, 3)
    passwords.configure(*passwords.OWASP)
    assert not passwords.below_owasp()
    passwords.configure(2 ** 14, 8, 1)
    assert passwords.below_owasp()
    passwords.configure(2 ** 10, 8, 1)
    assert not passwords.verify_password("", passwords.DUMMY_HASH)
    assert not passwords.verify_password(PASSWORD, "scrypt$garbage")
    with pytest.raises(ValueError):
        passwords.configure(1000, 8, 1)


def test_recovery_codes_are_ten_shown_once_stored_as_digests_and_each_signs_in_once():
    login, clock, db = world()
    secret, _ = login.start_enrolment(STAFF, PASSWORD)
    doc, codes = login.confirm_enrolment(STAFF, PASSWORD, code(secret, clock))
    assert len(set(codes)) == 10 and all(len(c) == 14 and c.count("-") == 2 for c in codes)
    stored = repr(db["totp_recovery_codes"].docs)
    assert len(db["totp_recovery_codes"].docs) == 10
    assert not any(c in stored or c.replace("-", "") in stored for c in codes)  # digests only
    assert login.authenticate(STAFF, PASSWORD, codes[0])["_id"] == doc["_id"]
    assert refused(login.authenticate, STAFF, PASSWORD, codes[0]) == ("unauthenticated", "otp-invalid")  # once
    assert login.authenticate(STAFF, PASSWORD, codes[1].lower().replace("-", " "))  # as typed off paper
    assert login.factors.recovery_codes_left(doc["_id"]) == 8
    assert refused(login.authenticate, STAFF, PASSWORD, "AAAA-BBBB-CCCC") == ("unauthenticated", "otp-invalid")
    # a code is no way round the password
    assert refused(login.authenticate, STAFF, "Salah-Sekali-2026", codes[2])[1] == "invalid-credentials"
    # a reset (lost phone) removes the app and its codes: the officer enrols again and gets new ones
    login.factors.remove(doc["_id"])
    assert not db["totp_recovery_codes"].docs
    assert refused(login.authenticate, STAFF, PASSWORD, codes[3]) == ("unauthenticated", "otp-enrolment-required")
    again, _ = login.start_enrolment(STAFF, PASSWORD)
    clock.advance(seconds=60)
    _, fresh = login.confirm_enrolment(STAFF, PASSWORD, code(again, clock))
    assert not set(fresh) & set(codes) and login.factors.recovery_codes_left(doc["_id"]) == 10


def test_recovery_codes_of_one_account_do_not_open_another():
    login, clock, db = world()
    login.accounts.create_staff("Ani", "ani@tbk.example", PASSWORD, "OFFICER", "TBK")
    secret, _ = login.start_enrolment(STAFF, PASSWORD)
    _, codes = login.confirm_enrolment(STAFF, PASSWORD, code(secret, clock))
    other, _ = login.start_enrolment("ani@tbk.example", PASSWORD)
    login.confirm_enrolment("ani@tbk.example", PASSWORD, code(other, clock))
    assert refused(login.authenticate, "ani@tbk.example", PASSWORD, codes[0]) == ("unauthenticated", "otp-invalid")
