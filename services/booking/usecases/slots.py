"""Use cases of slots and quota: materialise the calendar's slots, list them with their remaining
seats (read now for decisions, or hinted and cached for the public view), set a date's quota."""
from __future__ import annotations

from dataclasses import replace

from servicekit.cache import TtlCache
from servicekit.clock import Clock
from servicekit.errors import DomainError, invalid

from services.booking.adapters.repositories import SeatRepository, SlotRepository
from services.booking.domain import rules
from services.booking.domain.calendar import Calendar, slot_documents, slot_id
from services.booking.domain.seat_hints import SeatHints
from services.booking.usecases.gates import Gates


class SlotCatalogue:
    def __init__(self, slots: SlotRepository, seats: SeatRepository, hints: SeatHints, calendar: Calendar,
                 clock: Clock, gates: Gates, horizon_days: int, slot_list_cache_s: float, seat_hint_s: float):
        self.slots, self.seats, self.hints = slots, seats, hints
        self.calendar, self.clock, self.gates, self.horizon = calendar, clock, gates, horizon_days
        self._slot_cache = TtlCache(slot_list_cache_s)
        self._slot_docs = TtlCache(seat_hint_s)  # the public listing's slot documents

    def ensure_slots(self) -> int:
        """Materialise the default slots of the coming working days (idempotent, keyed by slot id)."""
        created = 0
        for office in self.calendar.offices.values():
            today = office.today(self.clock.now())
            # one read per office (on FerretDB every such filter scans the collection), not one per day
            existing = self.slots.ids_from(office.office_id, today.isoformat())
            for day in self.calendar.working_days(office, today, self.horizon):
                for doc in slot_documents(office, day):
                    if doc["_id"] not in existing:
                        created += self.slots.add(doc)
        return created

    def published_slots(self, office_id: str, date: str, lane: str = "") -> list[dict]:
        """The public availability view: list_slots, at most `slot_list_cache_s` old. During a release
        rush thousands of applicants list the same day; one listing per `slot_list_cache_s` per
        replica serves them all. Booking itself always decides on the
        seats, so a moment-old `remaining` can only cost a `slot-full` answer."""
        return self._slot_cache.get((office_id, date, lane), lambda: self.list_slots(office_id, date, lane, hinted=True))

    def list_slots(self, office_id: str, date: str, lane: str = "", hinted: bool = False) -> list[dict]:
        """Slots with their remaining seats, read now (for decisions; see published_slots). Only
        `_id` lookups (FerretDB scans for anything else): slot ids follow from the office's start
        times, and a slot's seats are `<slot>#0 .. #capacity-1`, all read at once. `hinted`: count
        the seats this replica saw taken in the last SEAT_HINT_SECONDS, or free in the last
        FREE_SEAT_HINT_SECONDS, without reading them (the public view)."""
        office = self.calendar.office(office_id)
        day = rules.parse_date(date, "date")
        if lane and lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        ids = [slot_id(office_id, day, each, start) for start in office.slots for each in ([lane] if lane else rules.LANES)]

        def read():
            found = self.slots.get_many(ids)
            return [found[i] for i in ids if i in found]
        # The public view may show a capacity up to SEAT_HINT_SECONDS old (a quota change is rare).
        slots = [dict(doc) for doc in self._slot_docs.get((office_id, date, lane), read)] if hinted else read()
        held = self._held(slots, hinted)
        for s in slots:
            s["remaining"] = max(0, s["capacity"] - held[s["_id"]])
        return sorted(slots, key=lambda s: (s["start_time"], s["lane"]))

    def _held(self, slots: list[dict], hinted: bool) -> dict[str, int]:
        """Seats held per slot: the seats looked up by `_id` in one read, except (when `hinted`) those
        this replica saw taken in the last SEAT_HINT_SECONDS (a seat is freed rarely, and a free
        through this replica clears the hints), so in a rush a full slot is listed without store
        reads, and those it saw free in the last FREE_SEAT_HINT_SECONDS (a few seconds: seats taken
        through another replica show after that), so an open day is not read at every listing."""
        held, unknown = {}, []
        for slot in slots:
            if slot.get("shrunk"):  # capacity was lowered: seats above it may still be held, so count
                held[slot["_id"]] = self.seats.count_in_slot(slot["_id"])
                continue
            taken, free = self.hints.seen(slot["_id"]) if hinted else (set(), set())
            held[slot["_id"]] = len(taken & set(range(slot["capacity"])))
            unknown += [(slot["_id"], n) for n in range(slot["capacity"]) if n not in taken and n not in free]
        found = self.seats.taken_among([f"{slot}#{n}" for slot, n in unknown])
        for slot, n in unknown:
            if f"{slot}#{n}" in found:
                held[slot] += 1
                self.hints.saw_taken(slot, n)
            else:
                self.hints.saw_free(slot, n)
        return held

    def set_capacity(self, caller, office_id: str, date: str, lane: str, start_time: str, capacity: int,
                     reason: str) -> int:
        """Supervisor quota change for one date and lane (one start time, or all of them); audited."""
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office sets its quota")
        if not (reason or "").strip():
            raise invalid("a reason is required for a quota change", "reason")
        office = self.calendar.office(office_id)
        day = rules.parse_date(date, "date")
        if lane not in rules.LANES:
            raise invalid("lane must be one of " + ", ".join(rules.LANES), "lane")
        if not isinstance(capacity, int) or capacity < 0 or capacity > 1000:
            raise invalid("capacity must be an integer from 0 to 1000", "capacity")
        if not self.calendar.is_working_day(office, day):
            raise invalid(f"{date} is not a working day of {office_id}", "date")
        starts = [start_time] if start_time else list(office.slots)
        if start_time and start_time not in office.slots:
            raise invalid(f"{office_id} has no slot starting at {start_time}", "start_time")
        wanted = {slot_id(office_id, day, lane, start) for start in starts}
        for doc in slot_documents(replace(office, quota={lane: 1}), day):
            doc["capacity"] = capacity
            if doc["_id"] in wanted and not self.slots.add(doc):
                self.slots.set_capacity(doc["_id"], capacity)
        self.gates.staff_action(caller, "QUOTA_SET", office_id, {
            "date": date, "lane": lane, "start_time": start_time or "ALL", "capacity": capacity, "reason": reason})
        for key_lane in (lane, ""):  # this replica shows the new quota at once; others within the cache age
            self._slot_cache.invalidate((office_id, date, key_lane))
            self._slot_docs.invalidate((office_id, date, key_lane))
        return len(wanted)
