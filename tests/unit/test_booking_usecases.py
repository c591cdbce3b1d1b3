"""The booking use cases on the in-memory store, and the Application aggregate's rules on their own
(issue 15: the rules live in domain/application.py, the use cases in usecases/)."""
from __future__ import annotations

import datetime as dt

import pytest

from passport.v1 import common_pb2
from servicekit.errors import DomainError
from services.booking.adapters.mapping import event_to_proto
from services.booking.domain import events as domain_events
from services.booking.domain.application import Application
from services.booking.domain.calendar import slot_documents
from tests.unit.test_booking_abandon import CALLER, booking_world, events
from tests.unit.test_booking_listing import DAY

OFFICER = common_pb2.Caller(account_id="off-1", role="OFFICER", office_id="TBK")
SUPERVISOR = common_pb2.Caller(account_id="sup-1", role="SUPERVISOR", office_id="TBK")
HEADER = {"_id": "app-1", "account_id": "acc-1", "office_id": "TBK", "passport_type": "ORDINARY",
          "validity_years": 10, "service_type": "NEW", "express": False, "priority_group": "",
          "birth_date": "1990-05-17"}


def at(status: str, **state) -> Application:
    """An aggregate whose latest transition is `status` with `state`."""
    return Application(HEADER, [{"_id": "app-1:0000", "seq": 0, "status": status, "state": state, "data": {}}])


# -- the aggregate, pure ---------------------------------------------------------------------------
def test_only_a_booked_appointment_can_be_cancelled_and_cancelling_twice_is_a_retry():
    assert at("CANCELLED").check_may_cancel() is True
    assert at("PAID", appointment={"appointment_id": "apt-1"}).check_may_cancel() is False
    with pytest.raises(DomainError) as err:
        at("DRAFT").check_may_cancel()
    assert err.value.problem == "cancel-not-allowed"


def test_closing_tells_what_was_given_back_with_the_billing_code():
    app = at("AWAITING_PAYMENT", appointment={"appointment_id": "apt-1", "slot_id": "S1"},
             billing={"billing_code": "800000000000001"})
    change = app.closed("EXPIRED", "not paid in time", "BILLING_EXPIRED")
    assert change.status == "EXPIRED"
    assert change.events == [domain_events.AppointmentCancelled(
        application_id="app-1", account_id="acc-1", office_id="TBK", appointment_id="apt-1", slot_id="S1",
        reason="BILLING_EXPIRED", billing_code="800000000000001")]
    record = app.record_of(change, dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    assert record["_id"] == "app-1:0001" and record["state"]["billing"]["billing_code"] == "800000000000001"


def test_an_unrecorded_hold_is_fenced_before_it_is_freed_and_the_appointments_own_seat_is_kept():
    paid = at("PAID", appointment={"hold_id": "apt-1"})
    assert paid.abandonment_of("apt-1") == (False, None)
    may_free, fence = paid.abandonment_of("apt-2")
    assert may_free and fence.status == "PAID" and fence.marks == {"abandoned_hold": "apt-2"}
    assert isinstance(fence.events[0], domain_events.BookingAbandoned)
    cancelled = at("CANCELLED", appointment={"hold_id": "apt-1"})
    assert cancelled.abandonment_of("apt-1") == (True, None), "a closed application's seat goes, without a fence"


def test_check_in_needs_a_paid_appointment_of_today_and_a_decision_on_priority_proof():
    appointment = {"date": "2026-12-01", "lane": "PRIORITY"}
    with pytest.raises(DomainError) as err:
        at("AWAITING_PAYMENT", appointment=appointment).check_in_lane("2026-12-01", "")
    assert err.value.problem == "not-paid"
    with pytest.raises(DomainError) as err:
        at("PAID", appointment=appointment).check_in_lane("2026-12-02", "CONFIRMED")
    assert err.value.problem == "not-today"
    with pytest.raises(DomainError) as err:
        at("PAID", appointment=appointment).check_in_lane("2026-12-01", "")
    assert err.value.problem == "priority-decision-required"
    assert at("PAID", appointment=appointment).check_in_lane("2026-12-01", "CONFIRMED") == "PRIORITY"
    assert at("PAID", appointment=appointment).check_in_lane("2026-12-01", "REFUSED") == "REGULAR"


def test_a_passport_by_post_is_shipped_with_a_tracking_number_and_one_for_pickup_has_none():
    posted = at("ISSUED", delivery="POS")
    with pytest.raises(DomainError):
        posted.handed_over("")
    assert posted.handed_over("p2611270001id").status == "SHIPPED"
    pickup = at("ISSUED", delivery="PICKUP")
    with pytest.raises(DomainError):
        pickup.handed_over("P2611270001ID")
    assert pickup.handed_over("").status == "COLLECTED"
    with pytest.raises(DomainError) as err:
        at("APPROVED").handed_over("")
    assert err.value.problem == "not-issued"


def test_domain_events_map_to_the_integration_events_of_the_same_name():
    booked = domain_events.AppointmentBooked(
        application_id="a", account_id="b", office_id="TBK", appointment_id="apt", slot_id="s", date="2026-12-01",
        start_time="08:00", lane="REGULAR", pay_before="x", billing_code="8", amount=domain_events.Money(650000, "IDR"))
    message = event_to_proto(booked)
    assert type(message).__name__ == "AppointmentBooked"
    assert message.amount.amount == 650000 and message.amount.currency == "IDR" and message.slot_id == "s"


# -- the use cases, on the in-memory store --------------------------------------------------------
def test_book_pay_cancel_records_each_step_with_its_event_and_frees_seat_and_claim():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    assert booked["status"] == "AWAITING_PAYMENT" and booked["billing"]["amount"] == 650000
    assert apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    assert not apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "x"), "a redelivery"
    cancelled = apps.cancel(CALLER, app_id)
    assert cancelled["status"] == "CANCELLED"
    assert [t for t, _ in events(apps, app_id)] == ["ApplicationCreated", "AppointmentBooked", "AppointmentConfirmed",
                                                    "AppointmentCancelled"]
    assert apps.seats.count_documents({"application_id": app_id}) == 0
    assert apps.db["open_applications"].find_one({"_id": "acc-1"}) is None, "the NIK may apply again"


def test_an_applicant_reschedules_once_onto_a_new_seat_and_the_old_one_is_freed():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    later = next(d for d in slot_documents(apps.office("TBK"), DAY) if d["lane"] == "REGULAR" and d["_id"] != slot_id)
    apps.slots.insert_one(later)
    moved = apps.reschedule(CALLER, app_id, later["_id"])
    assert moved["appointment"]["slot_id"] == later["_id"] and moved["appointment"]["rescheduled"]
    assert [s["slot_id"] for s in apps.seats.find({"application_id": app_id})] == [later["_id"]]
    with pytest.raises(DomainError) as err:
        apps.reschedule(CALLER, app_id, slot_id)
    assert err.value.problem == "reschedule-not-allowed"


def test_an_unpaid_billing_expires_and_a_paid_appointment_not_checked_in_becomes_a_no_show():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    assert apps.release_expired(app_id, booked["appointment"]["appointment_id"])
    assert apps.latest(app_id)["status"] == "EXPIRED" and apps.seats.count_documents({}) == 0
    other = {"_id": "acc-3", "birth_date": "1990-05-17"}
    caller = common_pb2.Caller(account_id="acc-3", role="APPLICANT")
    second = apps.create(other, "TBK", "ORDINARY", 10, "NEW", False, None)["application_id"]
    apps.booking.documents_complete.put(second)
    paid = apps.book(caller, second, slot_id)
    apps.confirm_payment(second, paid["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    assert apps.mark_no_shows("TBK") == 0, "not before the day is over"
    apps.clock.advance(days=2)
    assert apps.mark_no_shows("TBK") == 1 and apps.latest(second)["status"] == "NO_SHOW"
    scans, ids_paid_for_before = [], apps.records.repository.ids_paid_for_before
    apps.records.repository.ids_paid_for_before = lambda *a: scans.append(a) or ids_paid_for_before(*a)
    assert apps.mark_no_shows("TBK") == 0 and scans == [], "once per office day: no second scan"
    apps.clock.advance(days=1)
    assert apps.mark_no_shows("TBK") == 0 and len(scans) == 1  # the next day: swept again


def test_from_check_in_to_handover_through_the_desk_and_the_biometrics_facts():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    office = apps.office("TBK")
    apps.clock.advance(seconds=(dt.datetime.combine(DAY, dt.time(7, 0), office.tz) - apps.clock.now()).total_seconds())
    number = apps.check_in(OFFICER, "TBK", app_id)
    assert number == "A001" and apps.check_in(OFFICER, "TBK", app_id) == number
    assert apps.advance(app_id, {"CHECKED_IN"}, "BIOMETRICS_CAPTURED", "captured")
    assert not apps.advance(app_id, {"CHECKED_IN"}, "BIOMETRICS_CAPTURED", "captured"), "a redelivery"
    assert apps.advance(app_id, {"BIOMETRICS_CAPTURED"}, "APPROVED", "interview: approved")
    issued = apps.issue(OFFICER, app_id, "x1234567", "PICKUP", "")
    assert issued["status"] == "ISSUED" and issued["passport_number"] == "X1234567" and issued["ready_by"]
    assert apps.view(apps.get(CALLER, app_id), CALLER)["passport_number"] == "X*****67"
    collected = apps.hand_over(OFFICER, app_id, "")
    assert collected["status"] == "COLLECTED"
    assert apps.db["open_applications"].find_one({"_id": "acc-1"}) is None


def test_a_seat_freed_in_a_full_slot_is_offered_to_the_first_in_line():
    from services.booking.usecases.waitlist import Waitlist
    apps, slot_id, app_id = booking_world()
    waitlist = Waitlist(apps, apps.clock)
    # the in-memory store has no aggregation: the one line waited for, as the store would group it
    waitlist.line.lines = lambda: [{"office_id": "TBK", "date": DAY.isoformat(), "lane": "REGULAR"}]
    holders = []
    for n in range(4):  # the slot's 4 seats go to others
        account = {"_id": f"acc-w{n}", "birth_date": "1990-05-17"}
        other = apps.create(account, "TBK", "ORDINARY", 10, "NEW", False, None)["application_id"]
        apps.booking.documents_complete.put(other)
        holders.append((common_pb2.Caller(account_id=account["_id"], role="APPLICANT"), other))
        apps.book(holders[-1][0], other, slot_id)
    apps.documents.upload(app_id, "KTP", b"%PDF-1.4 ktp")
    apps.documents.upload(app_id, "KK", b"%PDF-1.4 kk")
    apps.documents.upload(app_id, "DIPLOMA", b"%PDF-1.4 diploma")
    assert waitlist.join(CALLER, app_id, DAY.isoformat(), "REGULAR") == 1
    assert waitlist.offer_freed_seats() == 0, "no seat is free yet"
    apps.cancel(*holders[0])
    assert waitlist.offer_freed_seats() == 1
    assert apps.latest(app_id)["status"] == "AWAITING_PAYMENT"
    assert waitlist.offer_freed_seats() == 0, "offered once"


def test_the_booking_servicer_lists_offices_and_slots_through_the_one_mapping():
    from passport.v1 import booking_pb2
    from services.booking.entrypoints.grpc_api import BookingServicer
    apps, slot_id, _ = booking_world()
    servicer = BookingServicer(apps, accounts=None, waitlist=None)
    offices = servicer.ListOffices(booking_pb2.ListOfficesRequest(), None).items
    assert "TBK" in [o.office_id for o in offices] and all(o.holidays for o in offices)
    slots = servicer.ListSlots(booking_pb2.ListSlotsRequest(office_id="TBK", date=DAY.isoformat(), lane="REGULAR"),
                               None).items
    listed = next(s for s in slots if s.slot_id == slot_id)
    assert (listed.capacity, listed.remaining, listed.lane) == (4, 4, "REGULAR")
