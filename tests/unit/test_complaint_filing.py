"""Filing complaints (domain, on the in-memory store): the optional application must be one the
complainant may see (asked of booking as them), and an anonymous report stores no account id."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from passport.v1 import common_pb2
from servicekit.clock import FixedClock
from servicekit.config import DEMO_SECRETS
from servicekit.crypto import KeyRing
from servicekit.errors import DomainError
from services.complaint.adapters import calendars
from services.complaint.adapters.repository import ComplaintRepository
from services.complaint.usecases.complaints import Complaints
from services.complaint.adapters.booking import ApplicationInfo
from tests.unit.fakemongo import Database as FakeDb

CALENDARS = calendars.load(Path(__file__).resolve().parents[2] / "services" / "booking" / "offices.json")
REPORTER = common_pb2.Caller(account_id="acc-7", role="APPLICANT")


class Booking:
    """Booking as the complaint service sees it: an applicant sees only their own application."""

    def __init__(self, up: bool = True):
        self.up, self.asked = up, []

    def application(self, caller, application_id):
        self.asked.append((caller.account_id, application_id))
        if not self.up:
            raise DomainError("unavailable", "booking-unavailable", "the booking service did not answer; try again")
        if application_id == "app-own" and caller.account_id == "acc-7":
            return ApplicationInfo("app-own", "acc-7", "TBK", "REPLACEMENT_LOST")
        raise DomainError("not_found", "application-not-found", "no application with this id that you may see")


def store(booking) -> Complaints:
    clock = FixedClock(dt.datetime(2026, 3, 2, 3, tzinfo=dt.timezone.utc))
    return Complaints(ComplaintRepository(FakeDb(), clock, KeyRing(DEMO_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])), CALENDARS, clock, booking)


def test_the_complainants_own_application_is_referenced():
    booking = Booking()
    s = store(booking)
    record, _pin = s.file(REPORTER, "LOST_PASSPORT", "TBK", "Paspor hilang.", "app-own", False)
    assert record["application_id"] == "app-own" and record["account_id"] == "acc-7"
    assert booking.asked == [("acc-7", "app-own")]


def test_an_application_the_complainant_may_not_see_is_a_field_error_and_nothing_is_stored():
    s = store(Booking())
    with pytest.raises(DomainError) as err:
        s.file(REPORTER, "SERVICE", "TBK", "Antrean lama.", "app-of-someone-else", False)
    assert err.value.kind == "invalid" and [e["field"] for e in err.value.errors] == ["application_id"]
    assert not s.repository.complaints.docs


def test_booking_down_is_a_retryable_answer_not_an_unverified_reference():
    s = store(Booking(up=False))
    with pytest.raises(DomainError) as err:
        s.file(REPORTER, "SERVICE", "TBK", "Antrean lama.", "app-own", False)
    assert err.value.kind == "unavailable" and not s.repository.complaints.docs
    record, _pin = s.file(REPORTER, "SERVICE", "TBK", "Antrean lama.", "", False)  # without one: no booking call
    assert "application_id" not in record


def test_an_anonymous_report_stores_no_account_and_asks_booking_nothing():
    booking = Booking()
    s = store(booking)
    record, pin = s.file(REPORTER, "BROKER_OR_EXTORTION", "TBK", "Calo di loket.", "", True)
    stored = s.repository.complaints.docs[record["_id"]]
    assert "account_id" not in stored and stored["anonymous"] is True and pin not in str(stored)
    assert booking.asked == []
    with pytest.raises(DomainError) as err:
        s.file(REPORTER, "BROKER_OR_EXTORTION", "TBK", "Calo di loket.", "app-own", True)
    assert [e["field"] for e in err.value.errors] == ["application_id"] and booking.asked == []
