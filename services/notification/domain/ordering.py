"""Which message of an application goes out next, and which one a later event made stale. Pure.

Events of one application come from several topics (booking, payment, biometrics), so the consumer
may record them out of the order they happened. The notification service keeps, per application,
the facts of every event it saw (its delivery log, adapters/repositories.py) and decides at SEND time:
- **order**: the open messages of one application and channel go out by the time their events
  happened (`occurred_at`, then the event id); one that is not due yet (held, or waiting for a retry)
  holds back every later one of that application and channel;
- **hold**: a message becomes due `NOTIFY_ORDER_HOLD_S` after it was recorded, so an earlier event
  still on its way through another topic is recorded first and goes out first;
- **waits for its cause**: "payment received" waits until the booking that told its billing code is
  known (at most `NOTIFY_CAUSE_WAIT_S`); a payment of a billing no recorded booking told is never
  told (issue 22);
- **stale**: a message a later event of the application superseded is not sent (recorded SKIPPED
  with the reason): see `stale_reason`.
"""
from __future__ import annotations

import datetime as dt

# Events that end the appointment: news about that appointment told before them is stale.
CLOSING = frozenset({"AppointmentCancelled", "AppointmentNoShow"})
# Messages about the appointment or its billing that a later closing event makes stale.
APPOINTMENT_NEWS = frozenset({"AppointmentBooked", "AppointmentConfirmed", "AppointmentRescheduled",
                              "PaymentSettled", "WaitlistOffered", "AppointmentReminder"})
# Fields of an event kept as its fact (enough for the rules here and for later messages' wording).
FACT_FIELDS = ("billing_code", "date", "start_time", "service_type", "account_id", "office_id", "delivery")


def fact_of(event_type: str, event_id: str, event_at: dt.datetime, data: dict) -> dict:
    return {"event_type": event_type, "event_id": event_id, "event_at": event_at,
            **{k: data[k] for k in FACT_FIELDS if data.get(k) not in (None, "")}}


def order_key(item: dict) -> tuple:
    """Messages and facts alike: when the event happened, then its id (a stable tie-break)."""
    return (as_utc(item["event_at"]), item["event_id"])


def later_facts(message: dict, facts: list[dict]) -> list[dict]:
    key = order_key(message)
    return [f for f in facts if order_key(f) > key]


def stale_reason(message: dict, facts: list[dict]) -> str:
    """Why a later event made this message wrong to send now ("" when it is still right):
    - news about an appointment (held seat + billing code, payment received, confirmed, moved, waitlist
      seat, reminder) after the appointment was cancelled or missed;
    - a reschedule followed by another reschedule (only the last one names the date that holds)."""
    kind = message["event_type"]
    later = {f["event_type"] for f in later_facts(message, facts)}
    if kind in APPOINTMENT_NEWS and later & CLOSING:
        return "the appointment was cancelled later"
    if kind == "AppointmentRescheduled" and "AppointmentRescheduled" in later:
        return "the appointment was rescheduled again later"
    if kind == "AppointmentReminder" and "AppointmentRescheduled" in later:
        return "the appointment was rescheduled after the reminder was made"
    return ""


def awaited_cause(message: dict, facts: list[dict]) -> str:
    """The event this message must not overtake and that is not known yet ("" when none):
    "payment received" needs the booking that told the applicant its billing code."""
    if message["event_type"] == "PaymentSettled":
        code = (message.get("fact") or {}).get("billing_code", "")
        # (a booking logged before facts were kept names no code: it counts as the one that told it)
        if not any(f["event_type"] == "AppointmentBooked" and (f.get("billing_code") == code or f.get("legacy"))
                   for f in facts):
            return "AppointmentBooked"
    return ""


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Stores may hand datetimes back naive (UTC); compare them as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
