"""Booking's business metrics. Labels are offices and lanes (bounded), never applicants or slots."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

QUOTA_CAPACITY = Gauge("booking_quota_capacity_seats",
                       "Seats offered in the open horizon (today and later), by office and lane.",
                       ["office_id", "lane"])
QUOTA_HELD = Gauge("booking_quota_held_seats",
                   "Seats held or confirmed in the open horizon, by office and lane.", ["office_id", "lane"])
BOOKED = Counter("booking_appointments_booked_total", "Seats held by bookings (incl. ballot and waitlist).",
                 ["office_id", "lane"])
RELEASED = Counter("booking_holds_released_total", "Appointments that ended without a visit, by reason.",
                   ["office_id", "reason"])  # reason: BILLING_EXPIRED|APPLICANT|OFFICE|NO_SHOW
ABANDONED = Counter("booking_attempts_abandoned_total",
                    "Booking attempts given up before they were recorded (seat freed, billing voided).", ["office_id"])
ABANDON_DEFERRED = Counter("booking_abandon_deferred_total",
                           "Failed booking attempts whose seat the store was too unavailable to free at once "
                           "(the seat reaper frees it within seconds).")


def forget_quota() -> None:
    """Another replica exports the quota gauges this minute: this one exports none."""
    QUOTA_CAPACITY.clear()
    QUOTA_HELD.clear()


def refresh_quota(apps) -> None:
    """Worker cycle: capacity and held seats of every office's open dates, by lane."""
    for office in apps.calendar.offices.values():
        today = office.today(apps.clock.now()).isoformat()
        slots = apps.slot_repository.lanes_and_capacities_from(office.office_id, today)
        held = apps.seat_repository.held_counts(list(slots))
        capacity, taken = {}, {}
        for slot_id, slot in slots.items():
            capacity[slot["lane"]] = capacity.get(slot["lane"], 0) + slot["capacity"]
            taken[slot["lane"]] = taken.get(slot["lane"], 0) + min(held.get(slot_id, 0), slot["capacity"])
        for lane in set(capacity) | set(office.quota):
            QUOTA_CAPACITY.labels(office.office_id, lane).set(capacity.get(lane, 0))
            QUOTA_HELD.labels(office.office_id, lane).set(taken.get(lane, 0))
