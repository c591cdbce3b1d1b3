"""A booking attempt that does not complete leaves no payable billing and no held seat behind
(issue 22): the request gives up at once when it can, the reaper within seconds otherwise, and a
fence in the status log keeps a late record of the same hold out (fake store: pure logic)."""
from __future__ import annotations

import datetime as dt

import grpc
import pytest
from pymongo.errors import AutoReconnect

from passport.v1 import common_pb2, payment_pb2
from servicekit.errors import DomainError
from servicekit.events import decode
from services.booking.domain.application import Application, Change
from services.booking.domain.seats import ABANDON_AFTER
from services.booking.domain.calendar import slot_documents
from tests.unit.test_booking_listing import DAY, CountingFinds, listing_stack

ACCOUNT = {"_id": "acc-1", "birth_date": "1990-05-17"}
CALLER = common_pb2.Caller(account_id="acc-1", role="APPLICANT")


class Unavailable(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE


class Payment:
    """IssueBilling as the payment service answers it: one billing per appointment id."""

    def __init__(self):
        self.issued, self.fail = {}, False

    def IssueBilling(self, request):
        if self.fail:
            raise Unavailable()
        code = self.issued.setdefault(request.appointment_id, f"8{len(self.issued):014d}")
        return payment_pb2.Billing(billing_code=code, status="UNPAID", expires_at=request.expires_at,
                                   amount=common_pb2.Money(amount=650000, currency="IDR"))


def booking_world():
    apps, slot_id = listing_stack(seat_hint_s=0)
    apps.seats.create_index("holder", unique=True)
    apps.payment = Payment()
    app_id = apps.create(ACCOUNT, "TBK", "ORDINARY", 10, "NEW", False, None)["application_id"]
    apps.booking.documents_complete.put(app_id)  # the documents rule has its own tests
    return apps, slot_id, app_id


def events(apps, app_id):
    out = []
    for t in apps.history(app_id):
        for ev in apps.transitions.find_one({"_id": t["_id"]}).get("_outbox", []):
            envelope, payload = decode(bytes(ev["data"]))
            out.append((envelope.event_type, payload))
    return out


def test_a_booking_whose_billing_fails_gives_its_seat_back_and_tells_payment_to_void_that_hold():
    apps, slot_id, app_id = booking_world()
    apps.payment.fail = True
    with pytest.raises(DomainError) as err:
        apps.book(CALLER, app_id, slot_id)
    assert err.value.problem == "payment-unavailable"
    assert apps.seats.count_documents({"application_id": app_id}) == 0, "the seat is free at once"
    abandoned = [p for t, p in events(apps, app_id) if t == "BookingAbandoned"]
    assert len(abandoned) == 1 and abandoned[0].appointment_id.startswith("apt_")
    view = apps.view(apps.get(CALLER, app_id))
    assert view["status"] == "DRAFT" and [t["status"] for t in view["timeline"]] == ["DRAFT"]
    apps.payment.fail = False
    booked = apps.book(CALLER, app_id, slot_id)  # the retry: a new hold, its own billing
    assert booked["status"] == "AWAITING_PAYMENT"
    assert booked["appointment"]["appointment_id"] != abandoned[0].appointment_id


def test_a_booking_the_store_failed_to_record_is_given_up_by_the_reaper_and_a_late_record_loses():
    apps, slot_id, app_id = booking_world()
    real_insert = apps.transitions.insert_one
    latest = apps.latest(app_id)

    def store_down(doc):
        raise AutoReconnect("connection reset")
    apps.transitions.insert_one = store_down
    with pytest.raises(AutoReconnect):  # the service answers 503 store-unavailable for it
        apps.book(CALLER, app_id, slot_id)
    apps.transitions.insert_one = real_insert
    seat = apps.seats.find_one({"application_id": app_id})
    assert seat is not None, "the store was down: the seat waits for the reaper"
    assert apps.reap_seats() == 0, "not while the request might still be recording it"
    apps.clock.advance(seconds=ABANDON_AFTER.total_seconds() + 1)
    assert apps.reap_seats() == 1
    assert apps.seats.count_documents({"application_id": app_id}) == 0
    assert [p.appointment_id for t, p in events(apps, app_id) if t == "BookingAbandoned"] == [seat["hold_id"]]
    header = apps.applications.find_one({"_id": app_id})
    late = apps.application_repository.append(Application(header, [latest]), Change(
        "AWAITING_PAYMENT", "a late record of that hold", {"appointment": {"hold_id": seat["hold_id"]}}))
    assert late is None, "the fence took its place in the log"
    assert apps.latest(app_id)["status"] == "DRAFT"


def test_the_reaper_never_frees_a_recorded_appointment_and_a_retry_resumes_the_same_billing():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    apps.clock.advance(seconds=ABANDON_AFTER.total_seconds() + 1)
    assert apps.reap_seats() == 0
    assert apps.seats.count_documents({"application_id": app_id}) == 1
    again = apps.book(CALLER, app_id, slot_id)  # a retry of the booking that succeeded
    assert again["billing"]["billing_code"] == booked["billing"]["billing_code"]
    assert len(apps.payment.issued) == 1
    assert not [t for t, _ in events(apps, app_id) if t == "BookingAbandoned"]


def test_a_caller_that_stopped_waiting_gets_nothing_recorded():
    from servicekit import grpcserver
    apps, slot_id, app_id = booking_world()
    token = grpcserver.call_deadline.set(0.0)  # long past
    try:
        with pytest.raises(DomainError) as err:
            apps.book(CALLER, app_id, slot_id)
    finally:
        grpcserver.call_deadline.reset(token)
    assert err.value.problem == "booking-interrupted"
    assert apps.latest(app_id)["status"] == "DRAFT"
    assert apps.seats.count_documents({"application_id": app_id}) == 0


def test_a_late_payment_of_another_billing_of_a_paid_application_is_refunded_not_taken_as_its_own():
    apps, slot_id, app_id = booking_world()
    booked = apps.book(CALLER, app_id, slot_id)
    assert apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    assert apps.resolve_late_payment(app_id, "899999999999999") == "REFUND"
    assert apps.resolve_late_payment(app_id, booked["billing"]["billing_code"]) == "RESEATED"  # a redelivery


def test_a_priority_seat_needs_the_groups_proof_and_the_officer_decides_on_it_at_check_in():
    """Issue 16, bug 2: proof at booking where the data allows, the officer's decision at check-in."""
    apps, _, _ = booking_world()
    staff_actions = []
    apps.on_staff_action = lambda caller, action, office, details: staff_actions.append((action, details))
    account = {"_id": "acc-2", "birth_date": "1990-05-17", "nik": "2171015705900001"}  # day + 40: a woman
    caller = common_pb2.Caller(account_id="acc-2", role="APPLICANT")
    app_id = apps.create(account, "TBK", "ORDINARY", 5, "NEW", False, "DISABLED")["application_id"]
    apps.booking.documents_complete.put(app_id)
    office = apps.office("TBK")
    day = DAY
    priority = next(d for d in slot_documents(office, day) if d["lane"] == "PRIORITY")
    apps.slots.insert_one(priority)
    with pytest.raises(DomainError) as err:
        apps.book(caller, app_id, priority["_id"])
    assert err.value.problem == "priority-proof-missing" and "DISABILITY_CARD" in err.value.detail
    apps.documents.upload(app_id, "DISABILITY_CARD", b"%PDF-1.4 card")
    booked = apps.book(caller, app_id, priority["_id"])
    assert booked["appointment"]["lane"] == "PRIORITY"
    assert apps.confirm_payment(app_id, booked["appointment"]["appointment_id"], "2026-11-30T09:00:00+07:00")
    apps.clock.advance(seconds=(dt.datetime.combine(day, dt.time(7, 0), office.tz) - apps.clock.now()).total_seconds())
    officer = common_pb2.Caller(account_id="off-1", role="OFFICER", office_id="TBK")
    with pytest.raises(DomainError) as err:
        apps.check_in(officer, "TBK", app_id)
    assert err.value.problem == "priority-decision-required"
    number = apps.check_in(officer, "TBK", app_id, "REFUSED")
    assert number.startswith("A"), "a refused claim queues in the regular lane"
    assert staff_actions == [("priority-refused", {"application_id": app_id, "priority_group": "DISABLED"})]
    assert "priority proof refused" in apps.latest(app_id)["note"]


def test_the_reaper_reads_no_seats_for_a_window_in_which_no_seat_was_held_or_freed():
    apps, slot_id, app_id = booking_world()
    apps.seats = seats = CountingFinds(apps.seats, "find")  # the reaper's range reads
    apps.reap_seats()  # the first pass reads every held seat
    assert seats.finds == 1
    apps.clock.advance(seconds=5)
    apps.reap_seats()
    assert seats.finds == 1, "a quiet window: no read of seats"
    apps.book(CALLER, app_id, slot_id)
    apps.clock.advance(seconds=ABANDON_AFTER.total_seconds() + 1)
    assert apps.reap_seats() == 0  # the booking's seat is its appointment
    assert seats.finds == 2, "a seat was held in the window: it is read"
    for _ in range(10):  # the window moves on past that span
        apps.clock.advance(seconds=5)
        apps.reap_seats()
    finds = seats.finds
    apps.clock.advance(seconds=5)
    apps.reap_seats()
    assert seats.finds == finds, "quiet again"
    apps.cancel(CALLER, app_id)  # frees the seat: its span is marked too (the quota gauges recount)
    assert apps.seat_repository.changes.any_between(apps.clock.now(), apps.clock.now())
