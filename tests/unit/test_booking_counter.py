"""The counter's queue and office scoping (issue 17), on the in-memory store."""
from __future__ import annotations

import pytest

from passport.v1 import common_pb2
from servicekit.errors import DomainError
from services.booking.usecases.counter import Counter
from tests.unit.test_booking_abandon import booking_world

OFFICER = common_pb2.Caller(account_id="off-1", role="OFFICER", office_id="TBK")
OTHER_OFFICE = common_pb2.Caller(account_id="off-9", role="OFFICER", office_id="BTM")


class NoAccounts:
    pass


def test_next_calls_the_priority_lane_first_then_by_number_each_number_once():
    apps, _, _ = booking_world()
    counter = Counter(apps.db, apps, NoAccounts(), apps.clock)
    today = apps.office("TBK").today(apps.clock.now()).isoformat()
    for letter, n in (("A", 1), ("A", 2), ("P", 1), ("E", 1)):
        apps.db["queue_numbers"].insert_one({"_id": f"TBK:{today}:{letter}{n:03d}", "office_id": "TBK",
                                            "date": today, "letter": letter, "n": n, "application_id": f"app-{letter}{n}"})
    called = [counter.call_next(OFFICER, "TBK", "Loket 1")["number"] for _ in range(4)]
    assert called == ["P001", "E001", "A001", "A002"]
    with pytest.raises(DomainError) as empty:
        counter.call_next(OFFICER, "TBK")
    assert empty.value.problem == "queue-empty"
    assert counter.recall(OFFICER, "TBK", "A001", "Loket 4")["action"] == "RECALLED"
    with pytest.raises(DomainError) as never:
        counter.skip(OFFICER, "TBK", "A099")
    assert never.value.problem == "number-not-called"
    shown = counter.called("TBK")["items"]
    assert [(c["number"], c["action"]) for c in shown][:2] == [("A001", "RECALLED"), ("A002", "CALLED")]
    assert shown[0]["desk"] == "Loket 4"


def test_staff_of_another_office_find_nothing_of_this_one():
    apps, _, _ = booking_world()
    counter = Counter(apps.db, apps, NoAccounts(), apps.clock)
    for action in (lambda: counter.call_next(OTHER_OFFICE, "TBK"),
                   lambda: counter.appointments(OTHER_OFFICE, "TBK", ""),
                   lambda: counter.find(OTHER_OFFICE, "TBK", "app_" + "0" * 32)):
        with pytest.raises(DomainError) as err:
            action()
        assert err.value.kind == "not_found"
