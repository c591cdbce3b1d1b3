"""Slots and seats: the value rules of holding one seat of a slot.

A seat is `<slot_id>#<n>` with n < capacity; holding it is an insert, releasing it a delete, so two
requests never hold the same seat. A hold is one seat per application and generation (`holder`)."""
from __future__ import annotations

import datetime as dt
import uuid

from servicekit.errors import DomainError

# A seat whose booking has not been recorded after this long was left by a crash.
# A booking request ends within its caller's deadline (1.3 s in a rush, 5 s at most) plus one store
# timeout, so a seat this old that is not its application's appointment is given up by the reaper.
ABANDON_AFTER = dt.timedelta(seconds=10)
# A booking request ends well within this (billing deadline 3 s): its seat is then resumable.
BOOKING_IN_FLIGHT = ABANDON_AFTER
# How often the reaper reads every held seat, and so looks again at a seat it found current (left
# behind only by a crash in the moment an application closes): between these full passes it reads
# only the seats held since its last pass (REAP_OVERLAP back, for slow inserts and replicas' clocks;
# a seat a window missed all the same is found by the next full pass).
REAP_RECHECK = dt.timedelta(minutes=60)
REAP_OVERLAP = dt.timedelta(seconds=15)


def holder_of(application_id: str, generation: int) -> str:
    return f"{application_id}#{generation}"


def new_seat(slot: dict, n: int, application_id: str, holder: str, now: dt.datetime, hold: dt.timedelta) -> dict:
    return {"_id": f"{slot['_id']}#{n}", "slot_id": slot["_id"], "n": n, "holder": holder,
            "application_id": application_id, "hold_id": "apt_" + uuid.uuid4().hex,
            "held_at": now, "pay_before": now + hold}


def resumable(seat: dict, now: dt.datetime) -> dict:
    """A seat this application's booking took earlier: used (resumed, or freed) by this request only
    once the request that took it can no longer be running. Two requests sharing a seat could
    otherwise end with one recording the booking while the other, failing to get its billing, frees
    the seat."""
    if now - seat["held_at"] < BOOKING_IN_FLIGHT:
        raise DomainError("conflict", "booking-in-progress",
                          "a booking of this application is still in progress (an earlier request); "
                          "look at the application, or retry in a few seconds")
    return seat


def slot_start(slot: dict, office) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(slot["date"]), dt.time.fromisoformat(slot["start_time"]), office.tz)


def appointment_of(slot: dict, seat: dict) -> dict:
    return {"slot_id": slot["_id"], "date": slot["date"], "start_time": slot["start_time"],
            "end_time": slot["end_time"], "lane": slot["lane"], "hold_id": seat["hold_id"]}


def interrupted() -> DomainError:
    return DomainError("unavailable", "booking-interrupted",
                       "the booking was interrupted before it completed and nothing was booked; please retry")


def slot_full() -> DomainError:
    return DomainError("conflict", "slot-full", "this slot has no seats left; choose another time or join the waitlist")
