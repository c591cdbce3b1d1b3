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
from services.booking.domain.seats import ABANDON_AFTER, REAP_OVERLAP, REAP_RECHECK
from services.booking.usecases.applications import ApplicationRecords
from services.booking.usecases.booking import Booking


class Sweepers:
    def __init__(self, records: ApplicationRecords, booking: Booking, seats: SeatRepository, calendar: Calendar,
                 clock: Clock):
        self.records, self.booking, self.seats, self.calendar, self.clock = records, booking, seats, calendar, clock
        self._current_seats = Memo()  # hold id -> when the reaper last found it its appointment's seat
        self._full_pass_at: dt.datetime | None = None  # when this process last read every held seat
        self._scanned_until: dt.datetime | None = None  # the cutoff of its last pass
        self._undecided: dict[str, dict] = {}  # seats to look at again next pass (the log moved meanwhile)
        self._no_shows_swept: dict[str, str] = {}  # office -> the office day this process swept it for

    def reap_seats(self, orphan_after: dt.timedelta | None = None) -> int:
        """Seats left behind by a crash, a store outage or a timed-out request: held by a closed
        application, or by a booking or reschedule that was never recorded (not the appointment's
        current seat), once no request can still be recording them (ABANDON_AFTER). Each pass reads
        only the seats held since the last one (a seat orphaned by an attempt is new), and every
        REAP_RECHECK all of them: a seat found to be its open application's current one can be left
        behind only by a crash while its application closes, which is rare, so it is looked at
        again only then (reading every held seat every 5 s grew the idle store's work with the seats).
        A window in which no seat changed is not read at all (SeatChanges)."""
        freed = 0
        now = self.clock.now()
        cutoff = now - (orphan_after or ABANDON_AFTER)
        full = self._full_pass_at is None or now - self._full_pass_at >= REAP_RECHECK  # also the first pass
        since = None if full else self._scanned_until - REAP_OVERLAP
        seats = {}
        if full or self.seats.changes.any_between(since, cutoff):
            seats = {seat["_id"]: seat for seat in self.seats.held_before(cutoff, since)}
        for seat_id, seat in list(self._undecided.items()):
            seats.setdefault(seat_id, seat)
        self._undecided.clear()
        for seat in seats.values():
            checked = self._current_seats.get(seat["hold_id"])
            if checked is not None and now - checked < REAP_RECHECK:
                continue
            header = self.records.repository.header(seat["application_id"])
            if self.booking.abandon(header, seat):
                freed += 1
            elif hold_of(self.records.latest(header["_id"])) == seat["hold_id"]:
                self._current_seats.put(seat["hold_id"], now)
            elif len(self._undecided) < 10_000:  # neither freed nor current: decided again next pass
                self._undecided[seat["_id"]] = seat
        if full:
            self._full_pass_at = now
            self.seats.changes.forget_before(now - 2 * REAP_RECHECK)  # no window reaches that far back
        self._scanned_until = cutoff
        return freed

    def mark_no_shows(self, office_id: str | None = None) -> int:
        """After an appointment's day ends (office time), a PAID application not checked in is NO_SHOW.
        Once per office and office day in this process: the days before today do not change within
        it, and the query reads every PAID transition (it scanned them all every minute)."""
        marked = 0
        for office in self.calendar.offices.values():
            if office_id and office.office_id != office_id:
                continue
            today = office.today(self.clock.now()).isoformat()
            if self._no_shows_swept.get(office.office_id) == today:
                continue
            for application_id in self.records.repository.ids_paid_for_before(office.office_id, today):
                app = self.records.repository.get(application_id)
                change = app.no_show(today)
                if change is None:
                    continue
                if self.records.append(app, change):
                    marked += 1
                    metrics.RELEASED.labels(app.office_id, "NO_SHOW").inc()
                self.records.free(app.header)
            self._no_shows_swept[office.office_id] = today  # only once the whole office went through
        return marked
