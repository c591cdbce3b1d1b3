"""Booking rules: NIK validation, eligibility, lanes (examples and properties)."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.errors import DomainError
from services.booking.domain import rules
from services.booking.domain.calendar import load

TODAY = dt.date(2026, 11, 27)


def nik_for(born: dt.date, female: bool, region: str = "217101", serial: int = 1) -> str:
    return f"{region}{born.day + (40 if female else 0):02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


@given(born=st.dates(dt.date(1920, 1, 1), TODAY), female=st.booleans(),
       province=st.sampled_from(sorted(rules.PROVINCE_CODES)), serial=st.integers(1, 9999))
def test_every_well_formed_nik_is_accepted(born, female, province, serial):
    rules.validate_nik(nik_for(born, female, province + "0101", serial), born)


@given(born=st.dates(dt.date(1920, 1, 1), TODAY), other=st.dates(dt.date(1920, 1, 1), TODAY))
def test_a_nik_of_another_birth_date_is_refused(born, other):
    if (born.day, born.month, born.year % 100) == (other.day, other.month, other.year % 100):
        return
    with pytest.raises(DomainError) as err:
        rules.validate_nik(nik_for(born, False), other)
    assert err.value.errors[0]["field"] == "nik"


@pytest.mark.parametrize("nik, reason", [
    ("217101120590001", "15 digits"), ("21710112059000a1", "a letter"), ("9971011205900001", "province 99"),
    ("2171011205900000", "serial 0000"), ("2171011305900001", "day 13 but born on the 12th"),
])
def test_malformed_niks(nik, reason):
    with pytest.raises(DomainError):
        rules.validate_nik(nik, dt.date(1990, 5, 12))


def test_women_have_forty_added_to_the_day():
    rules.validate_nik("2171015205900001", dt.date(1990, 5, 12))
    assert rules.nik_birth_date("2171015205900001")[3] == "F"


def test_registration_collects_every_field_error():
    with pytest.raises(DomainError) as err:
        rules.validate_registration("123", "", "1990-13-01", "not-an-email", "12345", "short", TODAY)
    assert {e["field"] for e in err.value.errors} == {"birth_date", "full_name", "email", "phone", "password"}


def test_ten_year_passports_are_for_adults():
    rules.validate_application("ORDINARY", 10, "NEW", False, "", age=17)
    with pytest.raises(DomainError):
        rules.validate_application("ORDINARY", 10, "NEW", False, "", age=16)
    rules.validate_application("ORDINARY", 5, "NEW", False, "", age=3)


@given(service=st.sampled_from(rules.SERVICE_TYPES), express=st.booleans(),
       group=st.sampled_from(("",) + rules.PRIORITY_GROUPS))
def test_lanes_follow_the_application(service, express, group):
    lanes = rules.allowed_lanes(service, express, group)
    assert "OUTREACH" not in lanes
    assert ("PRIORITY" in lanes) == bool(group)
    assert ("EXPRESS" in lanes) == express
    if not express:
        assert ("REPLACEMENT" in lanes) == service.startswith("REPLACEMENT")


def test_past_dates_and_foreign_lanes_are_refused():
    with pytest.raises(DomainError) as err:
        rules.check_bookable(TODAY - dt.timedelta(days=1), TODAY, "REGULAR", {"REGULAR"})
    assert err.value.problem == "date-in-past"
    with pytest.raises(DomainError) as err:
        rules.check_bookable(TODAY, TODAY, "PRIORITY", {"REGULAR"})
    assert err.value.problem == "lane-not-allowed"


def test_working_days_skip_weekends_and_holidays():
    cal = load()
    tbk = cal.offices["TBK"]
    days = cal.working_days(tbk, dt.date(2026, 12, 24), 3)  # Thu 24, Fri 25 = Christmas, weekend
    assert days == [dt.date(2026, 12, 24), dt.date(2026, 12, 28), dt.date(2026, 12, 29)]


def test_seat_hints_try_seen_taken_seats_last_and_call_a_full_slot_full_only_while_fresh():
    from services.booking.domain.seat_hints import SeatHints
    now = [0.0]
    hints = SeatHints(ttl_s=2.0, clock=lambda: now[0])
    for n in (0, 1):
        hints.saw_taken("TBK-1", n)
    assert hints.taken("TBK-1") == {0, 1} and not hints.full("TBK-1", 3)
    hints.saw_taken("TBK-1", 2)
    assert hints.full("TBK-1", 3) and not hints.full("TBK-2", 3)
    now[0] = 2.5  # older than the hint's life: the seats are tried again
    assert hints.taken("TBK-1") == set() and not hints.full("TBK-1", 3)
    hints.saw_taken("TBK-1", 0)
    hints.saw_freed()  # a release seen here forgets everything at once
    assert hints.taken("TBK-1") == set()
    off = SeatHints(ttl_s=0)
    off.saw_taken("TBK-1", 0)
    assert off.taken("TBK-1") == set() and not off.full("TBK-1", 1)


def test_a_slot_closes_its_lead_time_before_it_starts_in_the_office_zone():
    """Issue 16, bug 1: the 08:00 slot was booked at 14:51 local."""
    wib = dt.timezone(dt.timedelta(hours=7))
    start = dt.datetime(2026, 12, 1, 8, 0, tzinfo=wib)
    lead = dt.timedelta(minutes=30)
    rules.check_not_started(start, dt.datetime(2026, 12, 1, 7, 29, tzinfo=wib), lead)  # still open
    for now in (dt.datetime(2026, 12, 1, 7, 30, tzinfo=wib), dt.datetime(2026, 12, 1, 7, 51, tzinfo=dt.timezone.utc)):
        with pytest.raises(DomainError) as err:
            rules.check_not_started(start, now, lead)
        assert err.value.problem == "slot-closed" and "07:30" in err.value.detail


def test_a_priority_group_must_fit_what_the_nik_says():
    """Issue 16, bug 2: a 35-year-old created a CHILD_UNDER_5 application and booked a PRIORITY seat."""
    with pytest.raises(DomainError) as err:
        rules.validate_application("ORDINARY", 5, "NEW", False, "CHILD_UNDER_5", age=35, sex="F")
    assert err.value.errors[0]["field"] == "priority_group"
    rules.validate_application("ORDINARY", 5, "NEW", False, "CHILD_UNDER_5", age=3, sex="M")
    with pytest.raises(DomainError):
        rules.validate_application("ORDINARY", 5, "NEW", False, "PREGNANT", age=30, sex="M")
    rules.validate_application("ORDINARY", 5, "NEW", False, "PREGNANT", age=30, sex="F")
    assert rules.priority_proof("DISABLED") == [("DISABILITY_CARD",)]
    assert rules.priority_proof("ELDERLY") == []  # the age from the NIK is the proof
