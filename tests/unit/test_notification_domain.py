"""The notification domain on its own (no store) and the use cases that are new with issue 15 on fakes:
preferences, the Message and Delivery aggregates, the Reminder, telling about an event, and the gRPC
answers to bad input."""
from __future__ import annotations

import datetime as dt

import pytest

from servicekit.errors import DomainError
from services.notification.domain.delivery import Delivery, RetryPolicy, plan
from services.notification.domain.errors import InvalidInput
from services.notification.domain.message import STAFF_CHANNEL, Event, Message, Preferences
from services.notification.domain.reminders import Reminder
from services.notification.domain.templates import Rendered
from services.notification.entrypoints.grpc_api import NotificationServicer
from services.notification.usecases.messages import Messages
from services.notification.usecases.telling import TellAboutEvent
from tests.unit.fakemongo import Database as FakeDb
from tests.unit.test_notification_delivery import FakeClock

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)


# -- preferences -------------------------------------------------------------------------------------
@pytest.mark.parametrize("language,channels,field", [
    ("fr", ["SMS"], "language"), ("id", [], "channels"), ("en", ["SMS", "SMS"], "channels"),
    ("id", ["PIGEON"], "channels")])
def test_preferences_the_rules_refuse(language, channels, field):
    with pytest.raises(InvalidInput) as exc:
        Preferences.chosen(language, channels)
    assert exc.value.field == field


def test_an_anonymous_contact_decides_channels_in_the_usual_order_and_a_valid_language():
    mine = Preferences.chosen("en", ["EMAIL"])
    assert mine.for_contact(None, "") == mine
    assert mine.for_contact(["SMS", "EMAIL"], "id") == Preferences("id", ("EMAIL", "SMS"))
    assert mine.for_contact(["SMS"], "xx") == Preferences("en", ("SMS",))


# -- the Message aggregate -----------------------------------------------------------------------------
def test_messages_are_keyed_by_event_and_channel_and_a_supervisor_by_account():
    event = Event("e-1", "ComplaintEscalated", T0, aggregate_id="c-1", data={"complaint_id": "c-1"})
    out = Rendered("Subject", "Body")
    applicant = Message.to_applicant(event, "acc-1", "", "SMS", "id", out, None, T0 + dt.timedelta(seconds=5))
    assert applicant.id == "e-1:SMS" and applicant.group == "c-1" and applicant.fact == {}
    assert applicant.template == "complaint_escalated" and applicant.event_at == T0
    head = Message.to_supervisor(event, "sup-1", "complaint_escalated_supervisor", "en", out, T0)
    assert head.id == f"e-1:{STAFF_CHANNEL}:sup-1" and head.audience == "SUPERVISOR" and head.group is None


def test_only_an_applications_message_is_held_before_it_is_due():
    event = Event("e-2", "AppointmentBooked", None, data={"application_id": "app-1"})
    out, hold = Rendered("", "x"), dt.timedelta(seconds=2)
    held = Message.to_applicant(event, "acc-1", "app-1", "SMS", "id", out, None, T0)
    loose = Message.to_applicant(event, "acc-1", "", "SMS", "id", out, None, T0)
    assert held.event_at == T0  # no occurred_at: when it was handled
    assert held.held_until(T0, hold) == T0 + hold and loose.held_until(T0, hold) == T0
    assert held.log_item() == {"_id": "e-2:SMS", "event_id": "e-2", "event_type": "AppointmentBooked",
                               "channel": "SMS", "template": "appointment_booked", "language": "id",
                               "created_at": T0}


# -- the Delivery aggregate ----------------------------------------------------------------------------
def test_a_delivery_decides_from_its_records_and_given_up_tells_why_briefly():
    policy = RetryPolicy(base_s=5, max_attempts=2, jitter=0)
    records = ({"kind": "attempt", "n": 1, "at": T0},
               {"kind": "failed", "n": 1, "at": T0, "error": "smtp 451", "permanent": False,
                "next_at": T0 + dt.timedelta(seconds=5)})
    delivery = Delivery("e-1:SMS", records)
    assert delivery.next_step(T0, policy) == plan(list(records), T0, policy)
    assert delivery.next_step(T0 + dt.timedelta(seconds=5), policy).action == "send"
    assert delivery.status() == ("RECORDED", None)
    failed = Delivery.given_up({"_id": "e-1:SMS", "event_id": "e-1", "event_type": "AppointmentBooked",
                                "account_id": "acc-1", "channel": "SMS"}, 2, "x" * 300)
    assert failed.application_id == "" and failed.attempts == 2 and len(failed.reason) == 200


# -- the Reminder --------------------------------------------------------------------------------------
def test_a_reminder_is_scheduled_for_a_dated_appointment_and_dropped_once_cancelled():
    assert Reminder.scheduled({"application_id": "app-1"}, None, 9, T0) is None
    reminder = Reminder.scheduled({"application_id": "app-1", "account_id": "acc-1", "date": "2026-03-10",
                                   "start_time": "09:00"}, None, 9, T0)
    assert reminder.id == "app-1:2026-03-10" and reminder.zone == "Asia/Jakarta"
    confirmed = {"event_type": "AppointmentConfirmed", "event_id": "e-1", "event_at": T0, "date": "2026-03-10"}
    cancelled = {"event_type": "AppointmentCancelled", "event_id": "e-2", "event_at": T0 + dt.timedelta(1)}
    assert reminder.still_right([confirmed], 9, T0)
    assert not reminder.still_right([confirmed, cancelled], 9, T0)
    event = reminder.event([{"service_type": "RENEWAL", **confirmed}], T0)
    assert event.event_id == "reminder:app-1:2026-03-10" and event.data["service_type"] == "RENEWAL"


# -- use cases on fakes --------------------------------------------------------------------------------
class PreferencesCollection:
    """What PreferencesStore needs of a collection (the shared fake has no replace_one)."""

    def __init__(self):
        self.docs = {}

    def find_one(self, query, projection=None):
        return self.docs.get(query["_id"])

    def replace_one(self, query, doc, upsert=False):
        self.docs[query["_id"]] = dict(doc)


def _messages():
    db = FakeDb()
    db["preferences"] = PreferencesCollection()
    return db, Messages(db, FakeClock())


def test_set_preferences_stores_what_the_rules_allow_and_nothing_else():
    db, messages = _messages()
    assert messages.preferences_of("acc-1") == Preferences("id", ("SMS", "EMAIL"))
    with pytest.raises(InvalidInput):
        messages.set_preferences("acc-1", "de", ["SMS"])
    assert db["preferences"].docs == {}
    assert messages.set_preferences("acc-1", "en", ["EMAIL"]) == Preferences("en", ("EMAIL",))
    assert db["preferences"].docs["acc-1"] == {"_id": "acc-1", "language": "en", "channels": ["EMAIL"]}


def test_bad_input_over_grpc_is_a_validation_problem_naming_its_field():
    _, messages = _messages()
    servicer = NotificationServicer(messages)

    class Request:
        account_id, language, channels, application_id = "acc-1", "id", ["FAX"], ""
    with pytest.raises(DomainError) as exc:
        servicer.SetPreferences(Request(), None)
    assert (exc.value.kind, exc.value.problem) == ("invalid", "validation-error")
    assert exc.value.errors == [{"field": "channels", "message": exc.value.detail}]
    with pytest.raises(DomainError) as exc:
        servicer.ListNotifications(Request(), None)
    assert exc.value.kind == "invalid" and exc.value.errors == []  # as before: no field named


def test_telling_an_event_without_an_account_keeps_only_its_fact():
    db, messages = _messages()
    telling = TellAboutEvent(messages)
    event = Event("e-9", "PassportCollected", T0, "app-9", {"application_id": "app-9", "office_id": "TBK"})
    telling.tell(event)
    assert db["messages"].docs == {}
    assert [f["event_id"] for f in messages.facts_of("app-9")] == ["e-9"]
    assert messages.for_application("app-9") == []
