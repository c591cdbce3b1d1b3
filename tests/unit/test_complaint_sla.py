"""Service levels of complaints in working days of the office calendar (weekends, holidays,
time zones), with an injectable clock."""
from __future__ import annotations

from pathlib import Path

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from servicekit.clock import FixedClock
from services.complaint.adapters import calendars
from services.complaint.domain import sla

# The office calendar as the booking service serves it (its reference data file).
CAL = calendars.load(Path(__file__).resolve().parents[2] / "services" / "booking" / "offices.json")
WIB = ZoneInfo("Asia/Jakarta")
UTC = dt.timezone.utc


def local(y, m, d, h=10, minute=0, tz=WIB):
    return dt.datetime(y, m, d, h, minute, tzinfo=tz)


def end_of(y, m, d, tz=WIB):
    """Local midnight after the day y-m-d, i.e. the end of that day."""
    return (dt.datetime(y, m, d, tzinfo=tz) + dt.timedelta(days=1)).astimezone(UTC)


def test_the_reference_calendar_is_read_from_the_offices_file():
    assert {"TBK", "BTM", "DPS", "JYP"} <= set(CAL)
    assert dt.date(2026, 8, 17) in CAL["TBK"].holidays
    assert CAL["DPS"].timezone == "Asia/Makassar"


def test_filed_on_a_friday_the_weekend_does_not_count():
    first, resolution = sla.due_dates(CAL["TBK"], local(2026, 1, 9, 16), "SERVICE")  # Friday
    assert first == end_of(2026, 1, 14)        # Mon, Tue, Wed
    assert resolution == end_of(2026, 1, 19)
    # Mon 12, Tue 13, Wed 14, Thu 15 = 4 working days; Fri 16 Jan 2026 is a national holiday -> Mon 19


def test_a_national_holiday_inside_the_window_is_skipped():
    first, resolution = sla.due_dates(CAL["TBK"], local(2026, 1, 14, 9), "SERVICE")  # Wednesday
    assert first == end_of(2026, 1, 20)        # Thu 15, (Fri 16 holiday), Mon 19, Tue 20
    assert resolution == end_of(2026, 1, 22)   # Wed 21, Thu 22


def test_a_run_of_holidays_and_a_weekend():
    # 19-21 March 2026 are holidays (Thu, Fri, Sat), then the weekend
    first, resolution = sla.due_dates(CAL["TBK"], local(2026, 3, 18, 10), "SERVICE")
    assert first == end_of(2026, 3, 25)        # Mon 23, Tue 24, Wed 25
    assert resolution == end_of(2026, 3, 27)   # Thu 26, Fri 27


def test_disputes_get_fourteen_working_days():
    _first, resolution = sla.due_dates(CAL["TBK"], local(2026, 3, 18, 10), "PAYMENT")
    # Mon 23 .. Fri 27 (5), Mon 30 .. Thu 2 Apr (9), Fri 3 Apr holiday, Mon 6 .. Fri 10 (14)
    assert resolution == end_of(2026, 4, 10)
    assert sla.resolution_days("PAYMENT") == 14 and sla.resolution_days("BROKER_OR_EXTORTION") == 5


def test_the_office_local_date_counts_not_the_utc_date():
    filed = dt.datetime(2026, 1, 8, 20, 0, tzinfo=UTC)  # Thursday in UTC, Friday 03:00 in Jakarta
    first, _ = sla.due_dates(CAL["TBK"], filed, "SERVICE")
    assert first == end_of(2026, 1, 14)  # counted from Friday: Mon, Tue, Wed
    jyp = ZoneInfo("Asia/Jayapura")
    first_jyp, _ = sla.due_dates(CAL["JYP"], filed, "SERVICE")
    assert first_jyp == end_of(2026, 1, 14, jyp)
    assert first_jyp < first  # Jayapura's day ends two hours earlier than Jakarta's


def test_filed_on_a_sunday_counts_from_monday():
    first, _ = sla.due_dates(CAL["TBK"], local(2026, 1, 11, 12), "SERVICE")  # Sunday
    assert first == end_of(2026, 1, 14)  # Mon 12, Tue 13, Wed 14


def test_sla_state_moves_with_the_clock():
    clock = FixedClock(local(2026, 1, 9, 16))  # Friday
    first, resolution = sla.due_dates(CAL["TBK"], clock.now(), "SERVICE")
    state = lambda first_at=None, closed_at=None: sla.state(clock.now(), first, resolution, first_at, closed_at)
    assert state() == "on_time"
    clock.at = local(2026, 1, 12, 9)   # Monday: still two working days
    assert state() == "on_time"
    clock.at = local(2026, 1, 14, 8)   # Wednesday morning: due tonight
    assert state() == "due_soon"
    clock.at = local(2026, 1, 15, 0, 1)  # Thursday just after midnight: first response is late
    assert state() == "breached"
    assert sla.breaches(clock.now(), first, resolution, None, None) == ["FIRST_RESPONSE"]
    responded = local(2026, 1, 13, 11)
    assert state(first_at=responded) == "on_time"
    assert sla.breaches(clock.now(), first, resolution, responded, None) == []
    clock.at = local(2026, 1, 20, 0, 1)  # after the resolution due (end of Mon 19)
    assert state(first_at=responded) == "breached"
    assert sla.breaches(clock.now(), first, resolution, responded, None) == ["RESOLUTION"]
    assert sla.breaches(clock.now(), first, resolution, None, None) == ["FIRST_RESPONSE", "RESOLUTION"]


def test_closed_complaints_are_judged_by_their_closing_time():
    first, resolution = sla.due_dates(CAL["TBK"], local(2026, 1, 9, 16), "SERVICE")
    much_later = local(2026, 3, 1)
    assert sla.state(much_later, first, resolution, local(2026, 1, 12), local(2026, 1, 19, 23, 59)) == "on_time"
    assert sla.state(much_later, first, resolution, local(2026, 1, 12), local(2026, 1, 20, 0, 1)) == "breached"
    assert sla.breaches(much_later, first, resolution, local(2026, 1, 12), local(2026, 1, 20, 0, 1)) == []


@pytest.mark.parametrize("bad", ["2026-13", "2026/01", "26-01", "", "2026-1", "+202-01", "2026-+1", "2026-01\n",
                                 "0001-01", "9999-12"])  # the last two would overflow in UTC
def test_bad_months_are_refused(bad):
    with pytest.raises(ValueError):
        CAL["TBK"].month_bounds(bad)


def test_month_bounds_are_local():
    start, end = CAL["TBK"].month_bounds("2026-12")
    assert start == dt.datetime(2026, 11, 30, 17, tzinfo=UTC)
    assert end == dt.datetime(2026, 12, 31, 17, tzinfo=UTC)
