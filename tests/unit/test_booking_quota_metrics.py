"""The quota gauges: one replica exports them (the lease holder of the minute), the others export
none, so dashboards that sum them over replicas show each seat once; held seats are recounted only
when a seat changed (a count scans seats on FerretDB)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from prometheus_client import REGISTRY

from servicekit.clock import FixedClock
from services.booking import metrics
from services.booking.adapters.repositories import SeatChanges
from services.booking.domain import calendar
from tests.unit.fakemongo import Database


def held(office_id: str, lane: str):
    return REGISTRY.get_sample_value("booking_quota_held_seats", {"office_id": office_id, "lane": lane})


def quota_world():
    cal = calendar.load()
    office_id = next(iter(cal.offices))
    slots = {f"{office_id}-20270104-REGULAR-0900": {"lane": "REGULAR", "capacity": 10},
             f"{office_id}-20270104-REGULAR-1000": {"lane": "REGULAR", "capacity": 5}}
    counts = {"held": {}, "scans": 0}

    def held_counts(ids):
        counts["scans"] += 1
        return dict(counts["held"])
    clock = FixedClock(dt.datetime(2027, 1, 4, 1, tzinfo=dt.timezone.utc))
    apps = SimpleNamespace(
        calendar=SimpleNamespace(offices={office_id: cal.offices[office_id]}), clock=clock,
        slot_repository=SimpleNamespace(lanes_and_capacities_from=lambda office, day: slots),
        seat_repository=SimpleNamespace(held_counts=held_counts, changes=SeatChanges(Database())))
    return apps, office_id, list(slots), counts


def test_the_holder_exports_held_and_offered_seats_and_a_replica_without_the_lease_exports_none():
    apps, office_id, (first, second), counts = quota_world()
    counts["held"] = {first: 3, second: 7}  # 7 > 5: capped
    metrics.QuotaGauges(apps).refresh()
    assert held(office_id, "REGULAR") == 3 + 5
    assert REGISTRY.get_sample_value("booking_quota_capacity_seats", {"office_id": office_id, "lane": "REGULAR"}) == 15
    metrics.QuotaGauges.forget()
    assert held(office_id, "REGULAR") is None


def test_held_seats_are_recounted_only_after_a_seat_changed_or_ten_minutes():
    apps, office_id, (first, _), counts = quota_world()
    gauges = metrics.QuotaGauges(apps)
    counts["held"] = {first: 2}
    gauges.refresh()
    assert counts["scans"] == 1 and held(office_id, "REGULAR") == 2
    apps.clock.advance(minutes=1)
    gauges.refresh()
    assert counts["scans"] == 1 and held(office_id, "REGULAR") == 2, "nothing changed: no count"
    counts["held"] = {first: 3}
    apps.clock.advance(seconds=30)
    apps.seat_repository.changes.mark(apps.clock.now())  # a hold
    apps.clock.advance(seconds=30)
    gauges.refresh()
    assert counts["scans"] == 2 and held(office_id, "REGULAR") == 3
    apps.clock.advance(minutes=2)
    gauges.refresh()
    assert counts["scans"] == 2, "that change was counted already"
    apps.clock.advance(minutes=10)
    gauges.refresh()
    assert counts["scans"] == 3, "and at least every ten minutes"
