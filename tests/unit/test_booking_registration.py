"""Registering with a NIK or email that has an account: still 409 (the contract), and the owner
is told by a RegistrationAttempted event, at most once an hour (services/booking/usecases/registration.py)."""
from __future__ import annotations

import datetime as dt

import pytest

from passport.v1 import accounts_pb2  # noqa: F401  (registers the event type for decoding)
from servicekit.clock import FixedClock
from servicekit.errors import DomainError
from servicekit.events import decode
from services.booking.adapters.accounts import Accounts
from services.booking.adapters.registration_notices import RegistrationNotices
from services.booking.domain import passwords
from services.booking.usecases.registration import Registration
from tests.unit import keys
from tests.unit.fakemongo import Database

NIK, EMAIL, PASSWORD = "3171011205880001", "siti@example.id", "Sandi-Rahasia-2026"


@pytest.fixture
def world():
    before = passwords.cost()
    passwords.configure(2 ** 10, 8, 1)
    clock = FixedClock(dt.datetime(2026, 12, 3, 2, 0, 5, tzinfo=dt.timezone.utc))
    db = Database()
    registration = Registration(Accounts(db, clock, keys.ring(), keys.lookup()), RegistrationNotices(db, clock))
    owner = registration.register(NIK, "Siti Aminah", "1988-05-12", EMAIL, "081234567890", PASSWORD)
    yield registration, clock, db, owner
    passwords.configure(*before)


def told(db) -> list[tuple[str, str]]:
    out = []
    for record in db["registration_notices"].find({}):
        for event in record["_outbox"]:
            _envelope, payload = decode(bytes(event["data"]))
            out.append((payload.account_id, payload.matched))
    return out


def attempt(registration, nik=NIK, email="other@example.id"):
    with pytest.raises(DomainError) as err:
        registration.register(nik, "Orang Lain", "1988-05-12", email, "081200000000", PASSWORD)
    return err.value.kind, err.value.problem


def test_a_taken_nik_or_email_is_409_and_the_owner_is_told_once_an_hour(world):
    registration, clock, db, owner = world
    assert attempt(registration) == ("exists", "nik-taken")
    assert attempt(registration) == ("exists", "nik-taken")  # the same hour: not told twice
    assert told(db) == [(owner["_id"], "NIK")]
    clock.advance(hours=1)
    assert attempt(registration, nik="3171011205880002", email=" SITI@example.id") == ("exists", "email-taken")
    assert told(db) == [(owner["_id"], "NIK"), (owner["_id"], "EMAIL")]
    assert NIK not in repr(list(db["registration_notices"].find({})))  # the notice names the account, not the NIK


def test_an_invalid_registration_tells_nobody(world):
    registration, _clock, db, _owner = world
    with pytest.raises(DomainError):
        registration.register("123", "X", "1988-05-12", EMAIL, "081200000000", PASSWORD)
    assert told(db) == []
