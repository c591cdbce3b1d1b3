"""Use cases run by workers: the seat reaper (seats no application will record) and the no-show
sweeper (PAID appointments whose day ended without a check-in)."""
from __future__ import annotations

import datetime as dt

from servicekit.cache import Memo
from servicekit.clock import Clock

from services.booking import metrics
from services.booking.adapters.repositories import SeatRepository
from services.booking.domain.application import hold_of
from services.booking.domain.calendar import Calendar
from services.booking.domain.seats import ABANDON_AFTER, REAP_RECHECK
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.booking import Booking


class Sweepers:
    def __init__(self, records: ApplicationRecords, booking: Booking, seats: SeatRepository, calendar: Calendar,
                 clock: Clock):
        self.records, self.booking, self.seats, self.calendar, self.clock = records, booking, seats, calendar, clock
        self._current_seats = Memo()  # hold id -> when the reaper last found it its appointment's seat

    def reap_seats(self, orphan_after: dt.timedelta | None = None) -> int:
        """Seats left behind by a crash, a store outage or a timed-out request: held by a closed
        application, or by a booking or reschedule that was never recorded (not the appointment's
        current seat), once no request can still be recording them (ABANDON_AFTER). A seat found to
        be its open application's current one is looked at again only after REAP_RECHECK: it can be
        left behind only by a crash while its application closes, which is rare."""
        freed = 0
        now = self.clock.now()
        cutoff = now - (orphan_after or ABANDON_AFTER)
        for seat in self.seats.held_before(cutoff):
            checked = self._current_seats.get(seat["hold_id"])
            if checked is not None and now - checked < REAP_RECHECK:
                continue
            header = self.records.repository.header(seat["application_id"])
            if self.booking.abandon(header, seat):
                freed += 1
            elif hold_of(self.records.latest(header["_id"])) == seat["hold_id"]:
                self._current_seats.put(seat["hold_id"], now)
        return freed

    def mark_no_shows(self, office_id: str | None = None) -> int:
        """After an appointment's day ends (office time), a PAID application not checked in is NO_SHOW."""
        marked = 0
        for office in self.calendar.offices.values():
            if office_id and office.office_id != office_id:
                continue
            today = office.today(self.clock.now()).isoformat()
            for application_id in self.records.repository.ids_paid_for_before(office.office_id, today):
                app = self.records.repository.get(application_id)
                change = app.no_show(today)
                if change is None:
                    continue
                if self.records.append(app, change):
                    marked += 1
                    metrics.RELEASED.labels(app.office_id, "NO_SHOW").inc()
                self.records.free(app.header)
        return marked
