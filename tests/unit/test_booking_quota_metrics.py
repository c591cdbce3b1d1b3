"""The quota gauges: one replica exports them (the lease holder of the minute), the others export
none, so dashboards that sum them over replicas show each seat once."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from prometheus_client import REGISTRY

from services.booking import metrics
from services.booking.domain import calendar


def held(office_id: str, lane: str):
    return REGISTRY.get_sample_value("booking_quota_held_seats", {"office_id": office_id, "lane": lane})


def test_the_holder_exports_held_and_offered_seats_and_a_replica_without_the_lease_exports_none():
    cal = calendar.load()
    office_id = next(iter(cal.offices))
    slots = {f"{office_id}-20270104-REGULAR-0900": {"lane": "REGULAR", "capacity": 10},
             f"{office_id}-20270104-REGULAR-1000": {"lane": "REGULAR", "capacity": 5}}
    apps = SimpleNamespace(
        calendar=SimpleNamespace(offices={office_id: cal.offices[office_id]}),
        clock=SimpleNamespace(now=lambda: dt.datetime(2027, 1, 4, 1, tzinfo=dt.timezone.utc)),
        slot_repository=SimpleNamespace(lanes_and_capacities_from=lambda office, day: slots),
        seat_repository=SimpleNamespace(held_counts=lambda ids: {ids[0]: 3, ids[1]: 7}))  # 7 > 5: capped
    metrics.refresh_quota(apps)
    assert held(office_id, "REGULAR") == 3 + 5
    assert REGISTRY.get_sample_value("booking_quota_capacity_seats", {"office_id": office_id, "lane": "REGULAR"}) == 15
    metrics.forget_quota()
    assert held(office_id, "REGULAR") is None
