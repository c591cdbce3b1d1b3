"""Staff management by the head of an office (services/booking/usecases/staff.py): officers of the caller's
own office only, generated passwords, deactivation, the token state the gateway checks, and the
audit entries. In-memory store."""
from __future__ import annotations

import datetime as dt

import pytest

from passport.v1 import common_pb2
from servicekit.clock import FixedClock
from servicekit.errors import DomainError
from services.booking.adapters.accounts import Accounts
from services.booking.domain import rules
from services.booking.domain.staff import generated_password
from services.booking.usecases.staff import Staff
from tests.unit import keys
from tests.unit.fakemongo import Database

HEAD = common_pb2.Caller(account_id="stf_head", role="SUPERVISOR", office_id="TBK")


class Audit:
    def __init__(self):
        self.entries = []

    def append(self, caller, action, office_id, details):
        self.entries.append((caller.account_id, action, office_id, details))


@pytest.fixture
def world():
    db, audit = Database(), Audit()
    accounts = Accounts(db, FixedClock(dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.timezone.utc)), keys.ring(), keys.lookup())
    return Staff(accounts, audit, accounts.clock), accounts, audit


def problem(call) -> str:
    with pytest.raises(DomainError) as err:
        call()
    return err.value.problem


def test_generated_passwords_pass_the_password_rule_and_differ():
    words = {generated_password() for _ in range(50)}
    assert len(words) == 50 and all(rules.strong_password(w) and len(w) == 16 for w in words)


def test_a_head_creates_an_officer_of_the_own_office_who_can_sign_in(world):
    staff, accounts, audit = world
    doc, password = staff.create_officer(HEAD, "TBK", " Budi Santoso ", "Budi@TBK.example")
    assert doc["role"] == "OFFICER" and doc["office_id"] == "TBK" and doc["full_name"] == "Budi Santoso"
    assert accounts.authenticate("budi@tbk.example", password)["_id"] == doc["_id"]
    assert staff.token_state(doc["_id"]) == (True, 0)
    assert audit.entries == [("stf_head", "STAFF_CREATED", "TBK", {"account_id": doc["_id"], "role": "OFFICER"})]
    assert [d["_id"] for d in staff.list(HEAD, "TBK")] == [doc["_id"]]
    assert problem(lambda: staff.create_officer(HEAD, "TBK", "Budi Lagi", "budi@tbk.example")) == "email-taken"
    assert problem(lambda: staff.create_officer(HEAD, "TBK", "", "x@tbk.example")) == "validation-error"
    assert problem(lambda: staff.create_officer(HEAD, "TBK", "Nama", "not-an-email")) == "validation-error"


def test_only_the_head_of_that_office_manages_its_staff(world):
    staff, accounts, _audit = world
    officer, _ = staff.create_officer(HEAD, "TBK", "Budi", "budi@tbk.example")
    other_head = common_pb2.Caller(account_id="stf_btm", role="SUPERVISOR", office_id="BTM")
    an_officer = common_pb2.Caller(account_id=officer["_id"], role="OFFICER", office_id="TBK")
    assert problem(lambda: staff.create_officer(other_head, "TBK", "X", "x@tbk.example")) == "forbidden"
    assert problem(lambda: staff.create_officer(an_officer, "TBK", "X", "x@tbk.example")) == "forbidden"
    assert problem(lambda: staff.list(other_head, "TBK")) == "forbidden"
    # Another office's head names its own office: our officer is not found there.
    assert problem(lambda: staff.deactivate(other_head, "BTM", officer["_id"])) == "account-not-found"
    head_doc = accounts.create_staff("Kepala", "head@tbk.example", "Kepala-Kantor-2026", "SUPERVISOR", "TBK")
    assert problem(lambda: staff.deactivate(HEAD, "TBK", head_doc["_id"])) == "account-not-found", \
        "a head manages officers, not other heads"


def test_a_reset_or_a_deactivation_bumps_the_token_version_and_is_audited(world):
    staff, accounts, audit = world
    officer, first = staff.create_officer(HEAD, "TBK", "Budi", "budi@tbk.example")
    doc, second = staff.reset_password(HEAD, "TBK", officer["_id"])
    assert second != first and staff.token_state(officer["_id"]) == (True, 1)
    assert problem(lambda: accounts.authenticate("budi@tbk.example", first)) == "invalid-credentials"
    assert accounts.authenticate("budi@tbk.example", second)["_id"] == officer["_id"]

    gone = staff.deactivate(HEAD, "TBK", officer["_id"])
    assert gone["active"] is False and staff.token_state(officer["_id"]) == (False, 2)
    assert problem(lambda: accounts.authenticate("budi@tbk.example", second)) == "invalid-credentials"
    again = staff.deactivate(HEAD, "TBK", officer["_id"])  # a repeat changes nothing
    assert again["token_version"] == 2
    assert [e[1] for e in audit.entries] == ["STAFF_CREATED", "STAFF_PASSWORD_RESET", "STAFF_DEACTIVATED"]
    assert staff.token_state("stf_nobody") == (False, 0)


def test_a_head_resets_an_officers_authenticator_app_and_it_is_audited(world):
    """Issue 18: a lost phone. The secret and the recovery codes go; the officer enrols again."""
    import base64
    import pyotp
    from servicekit.crypto import KeyRing
    from services.booking.adapters.second_factor import SecondFactors
    from services.booking.usecases.login import Login
    _, accounts, audit = world
    factors = SecondFactors(accounts.accounts.database,
                            KeyRing("t1:" + base64.b64encode(bytes(range(32))).decode()))
    staff = Staff(accounts, audit, accounts.clock, factors)
    login = Login(accounts, factors, accounts.clock, "required")
    officer, password = staff.create_officer(HEAD, "TBK", "Budi", "budi@tbk.example")
    secret, _ = login.start_enrolment("budi@tbk.example", password)
    _, codes = login.confirm_enrolment("budi@tbk.example", password, pyotp.TOTP(secret).at(accounts.clock.now()))
    other_head = common_pb2.Caller(account_id="stf_btm", role="SUPERVISOR", office_id="BTM")
    assert problem(lambda: staff.reset_second_factor(other_head, "TBK", officer["_id"])) == "forbidden"
    an_officer = common_pb2.Caller(account_id=officer["_id"], role="OFFICER", office_id="TBK")
    assert problem(lambda: staff.reset_second_factor(an_officer, "TBK", officer["_id"])) == "forbidden"
    assert factors.confirmed_secret(officer["_id"]) == secret  # refused: nothing changed
    staff.reset_second_factor(HEAD, "TBK", officer["_id"])
    assert factors.confirmed_secret(officer["_id"]) is None and factors.recovery_codes_left(officer["_id"]) == 0
    assert problem(lambda: login.authenticate("budi@tbk.example", password, codes[0])) == "otp-enrolment-required"
    assert audit.entries[-1] == ("stf_head", "STAFF_TOTP_RESET", "TBK", {"account_id": officer["_id"]})
