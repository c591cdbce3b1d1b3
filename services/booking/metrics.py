"""Booking's business metrics. Labels are offices and lanes (bounded), never applicants or slots."""
from __future__ import annotations

import datetime as dt

from prometheus_client import Counter, Gauge

from services.booking.domain.seats import REAP_OVERLAP

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


# The quota gauges recount held seats when a seat changed since they last looked (SeatChanges,
# REAP_OVERLAP back for replicas' clocks) and at least this often; a count scans seats on FerretDB 1.24.
RECOUNT_AT_LEAST = dt.timedelta(minutes=10)


class QuotaGauges:
    """Capacity and held seats of every office's open dates, by lane: exported by one replica at a
    time (the lease holder of the minute), none by the others, so sums over replicas stay right."""

    def __init__(self, apps):
        self.apps = apps
        self._counted_at: dt.datetime | None = None
        self._looked_at: dt.datetime | None = None  # for seat changes
        self._held: dict[str, int] = {}  # slot id -> seats held, at _counted_at

    def refresh(self) -> None:
        apps, now = self.apps, self.apps.clock.now()
        offices = {office.office_id: (office, apps.slot_repository.lanes_and_capacities_from(
            office.office_id, office.today(now).isoformat())) for office in apps.calendar.offices.values()}
        slot_ids = [slot_id for _, slots in offices.values() for slot_id in slots]
        if (self._counted_at is None or now - self._counted_at >= RECOUNT_AT_LEAST
                or not set(slot_ids) <= set(self._held)  # a new day or new slots
                or apps.seat_repository.changes.any_between(self._looked_at - REAP_OVERLAP, now)):
            self._held = dict.fromkeys(slot_ids, 0) | apps.seat_repository.held_counts(slot_ids)
            self._counted_at = now
        self._looked_at = now
        for office_id, (office, slots) in offices.items():
            capacity, taken = {}, {}
            for slot_id, slot in slots.items():
                capacity[slot["lane"]] = capacity.get(slot["lane"], 0) + slot["capacity"]
                taken[slot["lane"]] = taken.get(slot["lane"], 0) + min(self._held.get(slot_id, 0), slot["capacity"])
            for lane in set(capacity) | set(office.quota):
                QUOTA_CAPACITY.labels(office_id, lane).set(capacity.get(lane, 0))
                QUOTA_HELD.labels(office_id, lane).set(taken.get(lane, 0))

    @staticmethod
    def forget() -> None:
        """Another replica exports the quota gauges this minute: this one exports none."""
        QUOTA_CAPACITY.clear()
        QUOTA_HELD.clear()
