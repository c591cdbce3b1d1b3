"""The slot listing's seat counts and the seat hints of a booking replica (fake store: pure logic)."""
from __future__ import annotations

import datetime as dt

from servicekit.clock import FixedClock
from services.booking.usecases.facade import Applications
from services.booking.domain.calendar import load, slot_documents
from tests.unit import keys
from tests.unit.fakemongo import Database

DAY = dt.date(2026, 12, 1)  # a Tuesday, a working day at TBK


class CountingSeatReads:
    """Wraps the fake seats collection: `reads` counts its finds by `_id`, `seats` the ids they asked for."""

    def __init__(self, collection):
        self.collection, self.reads, self.seats = collection, 0, 0

    def __getattr__(self, name):
        return getattr(self.collection, name)

    def find(self, query=None, projection=None):
        if "_id" in (query or {}):
            self.reads += 1
            self.seats += len(query["_id"]["$in"])
        return self.collection.find(query, projection)

    def reset(self):
        self.reads = self.seats = 0


class CountingFinds:
    """Wraps a fake collection and counts the calls of one of its reads (`find_one` unless told)."""

    def __init__(self, collection, method: str = "find_one"):
        self.collection, self.method, self.finds = collection, method, 0

    def __getattr__(self, name):
        attr = getattr(self.collection, name)
        if name != self.method:
            return attr

        def counted(*args, **kwargs):
            self.finds += 1
            return attr(*args, **kwargs)
        return counted


def listing_stack(seat_hint_s: float):
    db = Database()
    cal = load()
    apps = Applications(db, cal, FixedClock(dt.datetime(2026, 11, 30, 1, tzinfo=dt.timezone.utc)), payment_stub=None,
                        seat_hint_s=seat_hint_s, document_keys=keys.ring())
    slot = next(d for d in slot_documents(cal.offices["TBK"], DAY) if d["lane"] == "REGULAR")
    db["slots"].insert_one(dict(slot, capacity=4))
    apps.seats = CountingSeatReads(db["seats"])
    return apps, slot["_id"]


def remaining(apps, slot_id, hinted=True):
    """As the public listing counts (hinted), or as the system's decisions do (fresh)."""
    return next(s["remaining"] for s in apps.list_slots("TBK", DAY.isoformat(), "REGULAR", hinted=hinted)
                if s["_id"] == slot_id)


def take(apps, slot_id, n):
    apps.seats.insert_one({"_id": f"{slot_id}#{n}", "slot_id": slot_id, "holder": f"app{n}#0"})


def test_a_listing_counts_every_held_seat_and_remembers_them_so_a_full_slot_is_listed_without_reads():
    apps, slot_id = listing_stack(seat_hint_s=2.0)
    take(apps, slot_id, 1)
    take(apps, slot_id, 3)
    assert remaining(apps, slot_id) == 2 and (apps.seats.reads, apps.seats.seats) == (1, 4)  # every seat, one read
    apps.seats.reset()
    assert remaining(apps, slot_id) == 2 and (apps.seats.reads, apps.seats.seats) == (1, 2)  # those not seen taken
    take(apps, slot_id, 0)
    take(apps, slot_id, 2)
    assert remaining(apps, slot_id) == 0
    apps.seats.reset()
    assert remaining(apps, slot_id) == 0 and apps.seats.reads == 0
    assert apps.seat_hints.full(slot_id, 4)  # and a booking of it answers slot-full without writes
    assert remaining(apps, slot_id, hinted=False) == 0 and apps.seats.seats == 4  # decisions read every seat


def test_a_seat_freed_through_this_replica_is_listed_free_at_once():
    apps, slot_id = listing_stack(seat_hint_s=2.0)
    for n in range(4):
        take(apps, slot_id, n)
    assert remaining(apps, slot_id) == 0
    apps.seat_repository.release(f"{slot_id}#2")
    assert remaining(apps, slot_id) == 1


def test_without_hints_every_listing_reads_every_seat():
    apps, slot_id = listing_stack(seat_hint_s=0)
    take(apps, slot_id, 0)
    remaining(apps, slot_id)
    apps.seats.reset()
    assert remaining(apps, slot_id) == 3 and (apps.seats.reads, apps.seats.seats) == (1, 4)


def test_parallel_requests_of_one_replica_try_different_seats_and_seats_seen_taken_last():
    from services.booking.domain.seat_hints import SeatHints
    hints = SeatHints(ttl_s=2.0)
    first = hints.pick("TBK-1", 3, tried=set())
    second = hints.pick("TBK-1", 3, tried=set())  # while the first request is still trying
    third = hints.pick("TBK-1", 3, tried=set())
    assert len({first, second, third}) == 3
    hints.tried_seat("TBK-1", first, taken=True)  # it was taken (by the request or by another replica)
    hints.tried_seat("TBK-1", second, taken=False)
    hints.tried_seat("TBK-1", third, taken=False)
    assert hints.pick("TBK-1", 3, tried={second}) == third  # the untried seat not seen taken comes first
    hints.tried_seat("TBK-1", third, taken=False)
    assert hints.pick("TBK-1", 3, tried={second, third}) == first  # seen taken: still tried, last
    assert hints.pick("TBK-1", 3, tried={0, 1, 2}) is None
    off = SeatHints(ttl_s=0)  # without hints, parallel requests still spread over the seats
    assert off.pick("TBK-1", 2, set()) != off.pick("TBK-1", 2, set())


def test_the_reaper_frees_orphans_and_looks_at_a_current_seat_again_only_after_the_recheck_period():
    from services.booking.domain.seats import REAP_RECHECK
    apps, slot_id = listing_stack(seat_hint_s=0)
    clock = apps.clock
    held_at = clock.now() - dt.timedelta(minutes=30)
    transitions = CountingFinds(apps.transitions, "find")
    apps.transitions = transitions
    for app, status, hold in (("app-open", "AWAITING_PAYMENT", "apt-1"), ("app-draft", "DRAFT", None)):
        apps.applications.insert_one({"_id": app, "account_id": "acc-" + app, "office_id": "TBK"})
        transitions.insert_one({"_id": f"{app}:0000", "application_id": app, "seq": 0, "status": status,
                                "state": {"appointment": {"hold_id": hold}} if hold else {}})
    for n, app, hold in ((0, "app-open", "apt-1"), (1, "app-draft", "apt-2")):
        apps.seats.insert_one({"_id": f"{slot_id}#{n}", "slot_id": slot_id, "holder": f"{app}#0",
                               "application_id": app, "hold_id": hold, "held_at": held_at})
    assert apps.reap_seats() == 1  # the seat of a booking that never got past DRAFT
    assert apps.latest("app-draft")["abandoned_hold"] == "apt-2"  # fenced: it can never be recorded
    assert apps.seats.find_one({"_id": f"{slot_id}#0"}) is not None
    transitions.finds = 0
    assert apps.reap_seats() == 0 and transitions.finds == 0  # the current seat is not read again
    clock.advance(seconds=REAP_RECHECK.total_seconds() + 1)
    assert apps.reap_seats() == 0 and transitions.finds > 0


def test_between_full_passes_the_reaper_reads_only_the_seats_held_since_its_last_pass():
    """Reading every held seat every few seconds cost the idle store more the more seats were held."""
    apps, slot_id = listing_stack(seat_hint_s=0)
    clock, repo = apps.clock, apps.sweepers.seats
    read, held_before = [], repo.held_before
    repo.held_before = lambda cutoff, since=None: [read.append(s["_id"]) or s for s in held_before(cutoff, since)]

    def seat(n, app, status, hold, held_at):
        apps.applications.insert_one({"_id": app, "account_id": "acc-" + app, "office_id": "TBK"})
        apps.transitions.insert_one({"_id": f"{app}:0000", "application_id": app, "seq": 0, "status": status,
                                     "state": {"appointment": {"hold_id": hold}} if status != "DRAFT" else {}})
        repo.take({"_id": f"{slot_id}#{n}", "slot_id": slot_id, "holder": f"{app}#0",
                   "application_id": app, "hold_id": hold, "held_at": held_at})

    seat(0, "app-old", "AWAITING_PAYMENT", "apt-0", clock.now() - dt.timedelta(hours=2))
    assert apps.reap_seats() == 0 and read == [f"{slot_id}#0"]  # the first pass reads every seat
    clock.advance(seconds=5)
    seat(1, "app-crashed", "DRAFT", "apt-1", clock.now())  # an attempt that will never be recorded
    read.clear()
    assert apps.reap_seats() == 0 and read == []  # not yet ABANDON_AFTER old; the old seat is not read
    clock.advance(seconds=11)
    assert apps.reap_seats() == 1 and read == [f"{slot_id}#1"]  # only the new seat, freed
    read.clear()
    clock.advance(hours=1)
    assert apps.reap_seats() == 0 and read == [f"{slot_id}#0"]  # the full pass of the hour


def test_a_retry_never_shares_the_seat_of_a_booking_still_in_progress():
    """Sharing it, the first request could free the seat (no billing) after the retry recorded it."""
    import pytest
    from servicekit.errors import DomainError
    from services.booking.domain.seats import BOOKING_IN_FLIGHT
    apps, slot_id = listing_stack(seat_hint_s=0)
    apps.seats.create_index("holder", unique=True)  # one seat per application and generation
    slot = apps.slots.find_one({"_id": slot_id})
    first = apps.booking.hold_seat(slot, "app-1", generation=0)  # the first request took a seat, still running
    with pytest.raises(DomainError) as err:
        apps.booking.hold_seat(slot, "app-1", generation=0)
    assert err.value.problem == "booking-in-progress"
    apps.clock.advance(seconds=BOOKING_IN_FLIGHT.total_seconds() + 1)  # it can no longer be running
    assert apps.booking.hold_seat(slot, "app-1", generation=0)["_id"] == first["_id"]  # resumed, not a second seat
    assert apps.seats.count_documents({"application_id": "app-1"}) == 1


def test_seats_seen_free_are_listed_free_without_reads_until_the_free_hint_ends():
    apps, slot_id = listing_stack(seat_hint_s=60.0)
    apps.seat_hints.free_ttl_s = 5.0
    now = [100.0]
    apps.seat_hints.clock = lambda: now[0]
    take(apps, slot_id, 1)
    assert remaining(apps, slot_id) == 3 and apps.seats.seats == 4
    apps.seats.reset()
    take(apps, slot_id, 2)  # through another replica: this one does not know yet
    assert remaining(apps, slot_id) == 3 and apps.seats.reads == 0
    take(apps, slot_id, 0)
    apps.seat_hints.saw_taken(slot_id, 0)  # taken through this replica: counted at once
    assert remaining(apps, slot_id) == 2 and apps.seats.reads == 0
    now[0] += 5.0
    assert remaining(apps, slot_id) == 1 and apps.seats.seats == 2  # seats 2 and 3 read again
    assert remaining(apps, slot_id, hinted=False) == 1  # decisions always read every seat


def test_a_day_with_many_slots_is_listed_in_one_read_of_its_seats():
    """One lookup per seat cost a store round trip each (60 for a day of 60 seats) at every listing
    built after a change: the seats of all the day's slots are asked for in one `_id: {$in}` read."""
    apps, first = listing_stack(seat_hint_s=2.0)
    for doc in slot_documents(load().offices["TBK"], DAY):
        if doc["lane"] == "REGULAR" and doc["_id"] != first:
            apps.slots.insert_one(dict(doc, capacity=3))
    take(apps, first, 0)
    listed = apps.list_slots("TBK", DAY.isoformat(), "REGULAR", hinted=False)
    assert len(listed) > 3 and sum(s["remaining"] for s in listed) == sum(s["capacity"] for s in listed) - 1
    assert apps.seats.reads == 1 and apps.seats.seats == sum(s["capacity"] for s in listed)
