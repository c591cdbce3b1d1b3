"""Password reset by a one-time code (services/booking/accounts.py): who gets a code, how long it
lives, single use, the newest code only, and the limit on wrong codes. In-memory store."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from servicekit.clock import FixedClock
from servicekit.errors import DomainError
from services.booking.adapters import accounts as accounts_module
from services.booking.adapters.accounts import RESET_MAX_FAILURES, Accounts
from tests.unit import keys
from tests.unit.fakemongo import Database

EMAIL, PASSWORD, NEW = "siti@example.id", "Sandi-Rahasia-2026", "Baru-Sekali-2026"


@pytest.fixture
def world(monkeypatch):
    codes = itertools.count(123456)
    monkeypatch.setattr(accounts_module.secrets, "randbelow", lambda _n: next(codes))
    clock = FixedClock(dt.datetime(2026, 12, 3, 2, 0, 30, tzinfo=dt.timezone.utc))
    db = Database()
    accounts = Accounts(db, clock, keys.ring(), keys.lookup())
    accounts.register("3171011205880001", "Siti Aminah", "1988-05-12", EMAIL, "081234567890", PASSWORD)
    return accounts, clock, db


def rejected(accounts, code, password=NEW):
    with pytest.raises(DomainError) as err:
        accounts.confirm_password_reset(EMAIL, code, password)
    return err.value.problem


def test_a_code_sets_the_password_once(world):
    accounts, _clock, db = world
    accounts.request_password_reset(" Siti@Example.id ")
    (record,) = db["password_resets"].find({})
    assert "123456" not in str({k: v for k, v in record.items() if k != "_outbox"})  # only its hash
    assert record["_outbox"]  # the PasswordResetRequested event goes out through the outbox
    accounts.confirm_password_reset(EMAIL, "123456", NEW)
    assert accounts.authenticate(EMAIL, NEW)["_id"] == record["account_id"]
    assert "reset-code-invalid" in rejected(accounts, "123456", "Lagi-Lagi-2026x")


def test_unknown_emails_and_staff_get_no_code_and_the_same_answer(world):
    accounts, _clock, db = world
    accounts.request_password_reset("nobody@example.id")
    accounts.create_staff("Petugas", "officer@example.id", PASSWORD, "OFFICER", "TBK")
    accounts.request_password_reset("officer@example.id")
    assert db["password_resets"].count_documents({}) == 0


def test_codes_expire_after_15_minutes_and_only_the_newest_counts(world):
    accounts, clock, _db = world
    accounts.request_password_reset(EMAIL)          # 123456
    clock.advance(minutes=16)
    assert "reset-code-invalid" in rejected(accounts, "123456")
    accounts.request_password_reset(EMAIL)          # 123457
    clock.advance(minutes=2)
    accounts.request_password_reset(EMAIL)          # 123458 supersedes 123457
    assert "reset-code-invalid" in rejected(accounts, "123457")
    accounts.confirm_password_reset(EMAIL, "123458", NEW)


def test_wrong_codes_are_limited(world):
    accounts, _clock, _db = world
    accounts.request_password_reset(EMAIL)
    for _ in range(RESET_MAX_FAILURES):
        assert "reset-code-invalid" in rejected(accounts, "000000")
    assert "reset-code-invalid" in rejected(accounts, "123456")  # blocked now, even the right code
    assert accounts.authenticate(EMAIL, PASSWORD)


def test_a_weak_new_password_is_refused_before_the_code_is_spent(world):
    accounts, _clock, _db = world
    accounts.request_password_reset(EMAIL)
    assert "validation-error" in rejected(accounts, "123456", "short")
    accounts.confirm_password_reset(EMAIL, "123456", NEW)
