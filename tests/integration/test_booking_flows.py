"""Booking after the first seat: documents, cancel, reschedule, waitlist, office day moves,
issuance and handover, no-shows — through the gateway on the real stack."""
from __future__ import annotations

import datetime as dt
import time

import pymongo
import pytest
from kafka import KafkaProducer

from deploy.local.client import SAMPLE_PDF
from deploy.local.stack import DEMO_STAFF
from passport.v1 import biometrics_pb2, common_pb2
from servicekit import pdf
from servicekit.clock import FixedClock
from servicekit.events import new_event
from services.booking.domain import calendar
from services.booking.usecases.facade import Applications
from tests.integration.helpers import NoBilling, applicant_with_application, booked_applicant, dedicated_dates, pay, status_of, wait_for

OFFICE = calendar.load().offices["TBK"]


@pytest.fixture(scope="module")
def supervisor(supervisor_token):
    return supervisor_token


@pytest.fixture(scope="module")
def officer(officer_token):
    return officer_token


def remaining(api, slot_id: str, date: str) -> int:
    """After any change: the public listing may be up to SLOT_LIST_CACHE_SECONDS (1 s) old."""
    time.sleep(1.1)
    return next(s for s in api.get(f"/v1/offices/TBK/slots?date={date}").body["items"] if s["slot_id"] == slot_id)["remaining"]


def at_the_counter(stack, day: str, hour: int = 9) -> Applications:
    """The booking domain in-process with the clock on the appointment day, on the real store."""
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, 0), OFFICE.tz)
    return Applications(client["passport_booking"], calendar.load(), FixedClock(moment), NoBilling())


def test_documents_are_required_checked_and_hashed(api):
    person = api.register_applicant()
    app_id = api.create_application(person["token"], documents=False).body["application_id"]
    slot = api.first_working_slot()
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert reply.status == 422 and reply.body["type"].endswith("/documents-missing")
    # one kind, or one of several kinds, in Indonesian by default (the kinds are the API's codes)
    assert {e["message"] for e in reply.body["errors"]} == {"KTP", "KK", "BIRTH_CERTIFICATE atau MARRIAGE_BOOK atau DIPLOMA"}
    exe = api.upload_document(person["token"], app_id, "KTP", b"MZ\x90\x00 this is a windows program", "ktp.pdf")
    assert exe.status == 422 and exe.body["type"].endswith("/document-type-not-allowed")
    huge = api.upload_document(person["token"], app_id, "KTP", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10))
    assert huge.status == 422 and huge.body["type"].endswith("/document-too-large")
    unknown = api.upload_document(person["token"], app_id, "SELFIE")
    assert unknown.status == 422
    assert api.get(f"/v1/applications/{app_id}/documents", token=person["token"]).body["items"] == []
    import hashlib
    ktp = api.upload_document(person["token"], app_id, "KTP")
    # the hash of what is stored: every PDF is rewritten by qpdf (servicekit/pdf.py)
    assert ktp.status == 201 and ktp.body["sha256"] == hashlib.sha256(pdf.normalise(SAMPLE_PDF)[0]).hexdigest()
    assert ktp.body["content_type"] == "application/pdf"
    for kind in ("KK", "DIPLOMA"):
        assert api.upload_document(person["token"], app_id, kind).status == 201
    stranger = api.register_applicant()
    assert api.upload_document(stranger["token"], app_id, "KK").status == 404
    assert api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]},
                    token=person["token"]).status == 201


def test_cancel_releases_the_seat_at_once_and_closes_the_application(api):
    person, app_id, booked = booked_applicant(api, skip_days=3)
    slot_id, date = booked["appointment"]["slot_id"], booked["appointment"]["date"]
    before = remaining(api, slot_id, date)
    assert api.delete(f"/v1/applications/{app_id}/appointment", token=api.register_applicant()["token"]).status == 404
    assert api.delete(f"/v1/applications/{app_id}/appointment", token=person["token"]).status == 204
    assert remaining(api, slot_id, date) == before + 1
    assert status_of(api, person, app_id) == "CANCELLED"
    assert api.delete(f"/v1/applications/{app_id}/appointment", token=person["token"]).status == 204
    assert api.create_application(person["token"]).status == 201


def test_reschedule_once_after_payment_up_to_the_day_before(api):
    person, app_id, booked = booked_applicant(api, skip_days=2)
    later = api.first_working_slot(skip_days=5)
    too_early = api.put(f"/v1/applications/{app_id}/appointment", {"slot_id": later["slot_id"]}, token=person["token"])
    assert too_early.status == 409 and too_early.body["type"].endswith("/reschedule-not-allowed")
    assert pay(api, booked["billing"], f"BANK-RS-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    old_slot, old_date = booked["appointment"]["slot_id"], booked["appointment"]["date"]
    old_before, new_before = remaining(api, old_slot, old_date), remaining(api, later["slot_id"], later["date"])
    moved = api.put(f"/v1/applications/{app_id}/appointment", {"slot_id": later["slot_id"]}, token=person["token"])
    assert moved.status == 200, moved.body
    assert moved.body["status"] == "PAID" and moved.body["appointment"]["date"] == later["date"]
    assert moved.body["appointment"]["rescheduled"] is True
    assert moved.body["appointment"]["appointment_id"] == booked["appointment"]["appointment_id"]
    assert remaining(api, old_slot, old_date) == old_before + 1
    assert remaining(api, later["slot_id"], later["date"]) == new_before - 1
    again = api.put(f"/v1/applications/{app_id}/appointment", {"slot_id": old_slot}, token=person["token"])
    assert again.status == 409 and "satu kali" in again.body["detail"]  # Indonesian unless asked otherwise


def test_freed_seats_go_to_the_waitlist_in_order(api, supervisor):
    date = dedicated_dates(api, 1)[0]
    for quota in ({"capacity": 0}, {"capacity": 1, "start_time": "08:00"}):
        reply = api.put("/v1/offices/TBK/quota", dict({"date": date, "lane": "REGULAR", "reason": "waitlist test"}, **quota),
                        token=supervisor)
        assert reply.status == 200, reply.body
    slot_id = f"TBK-{date.replace('-', '')}-REGULAR-0800"
    holder, holder_app = applicant_with_application(api)
    assert api.post(f"/v1/applications/{holder_app}/appointment", {"slot_id": slot_id}, token=holder["token"]).status == 201
    waiting = [applicant_with_application(api) for _ in range(2)]
    positions = [api.post(f"/v1/applications/{a}/waitlist", {"date": date, "lane": "REGULAR"}, token=p["token"])
                 for p, a in waiting]
    assert [r.status for r in positions] == [201, 201] and [r.body["position"] for r in positions] == [1, 2]
    early = applicant_with_application(api)
    other_date = api.first_working_slot(skip_days=2)["date"]
    refused = api.post(f"/v1/applications/{early[1]}/waitlist", {"date": other_date, "lane": "REGULAR"}, token=early[0]["token"])
    assert refused.status == 409 and refused.body["type"].endswith("/seats-available")
    place = api.get(f"/v1/applications/{waiting[1][1]}/waitlist", token=waiting[1][0]["token"])
    assert place.status == 200 and place.body == {"application_id": waiting[1][1], "waiting": True, "date": date,
                                                  "lane": "REGULAR", "position": 2}
    never = api.get(f"/v1/applications/{early[1]}/waitlist", token=early[0]["token"])
    assert never.status == 200 and never.body["waiting"] is False and never.body["position"] == 0
    assert api.get(f"/v1/applications/{waiting[1][1]}/waitlist", token=early[0]["token"]).status == 404

    assert api.delete(f"/v1/applications/{holder_app}/appointment", token=holder["token"]).status == 204
    (first, first_app), (second, second_app) = waiting
    assert wait_for(lambda: status_of(api, first, first_app) == "AWAITING_PAYMENT"), "the first in line got the seat"
    view = api.get(f"/v1/applications/{first_app}", token=first["token"]).body
    assert view["appointment"]["slot_id"] == slot_id and view["billing"]["billing_code"]
    assert status_of(api, second, second_app) == "DRAFT"
    assert api.get(f"/v1/applications/{first_app}/waitlist", token=first["token"]).body["waiting"] is False
    assert api.get(f"/v1/applications/{second_app}/waitlist", token=second["token"]).body["position"] == 1, \
        "the second moved up, read back without joining again"
    again = api.post(f"/v1/applications/{second_app}/waitlist", {"date": date, "lane": "REGULAR"}, token=second["token"])
    assert again.status == 201 and again.body["position"] == 1, "the second moved up"


def test_the_office_moves_a_whole_day_without_using_the_applicants_right(api, supervisor):
    date, to_date = dedicated_dates(api, 3)[1:]
    assert api.put("/v1/offices/TBK/quota", {"date": date, "lane": "REGULAR", "capacity": 2, "reason": "move test"},
                   token=supervisor).status == 200
    person, app_id = applicant_with_application(api)
    slot_id = f"TBK-{date.replace('-', '')}-REGULAR-0900"
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot_id}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-DAY-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    unpaid, unpaid_app = applicant_with_application(api)
    assert api.post(f"/v1/applications/{unpaid_app}/appointment", {"slot_id": slot_id}, token=unpaid["token"]).status == 201
    officer_token = api.login(DEMO_STAFF[0]["email"], DEMO_STAFF[0]["password"])
    assert api.post("/v1/offices/TBK/day-reschedules", {"date": date, "to_date": to_date, "reason": "x"},
                    token=officer_token).status == 403
    moved = api.post("/v1/offices/TBK/day-reschedules",
                     {"date": date, "to_date": to_date, "reason": "power outage at the office"}, token=supervisor)
    assert moved.status == 200 and (moved.body["moved"], moved.body["cancelled"]) == (1, 1), moved.body
    view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert view["status"] == "PAID" and view["appointment"]["date"] == to_date
    assert view["appointment"]["start_time"] == "09:00" and "by the office" in view["timeline"][-1]["note"]
    assert status_of(api, unpaid, unpaid_app) == "CANCELLED"
    own = api.first_working_slot(skip_days=6)
    assert api.put(f"/v1/applications/{app_id}/appointment", {"slot_id": own["slot_id"]},
                   token=person["token"]).status == 200, "the applicant's own reschedule is still there"


def test_issuance_and_handover_after_approval(api, stack, officer):
    person, app_id, booked = booked_applicant(api, skip_days=8)
    assert pay(api, booked["billing"], f"BANK-ISS-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    at_the_counter(stack, booked["appointment"]["date"]).check_in(
        common_pb2.Caller(account_id="officer", role="OFFICER", office_id="TBK"), "TBK", app_id)
    clock = FixedClock(dt.datetime.now(dt.timezone.utc))
    producer = KafkaProducer(**stack.kafka_config("biometrics-capture"))
    for payload in (biometrics_pb2.BiometricsCaptured(application_id=app_id, account_id=person["account_id"],
                                                      office_id="TBK", outcome="CAPTURED"),
                    biometrics_pb2.InterviewCompleted(application_id=app_id, account_id=person["account_id"],
                                                      office_id="TBK", outcome="APPROVED")):
        producer.send("biometrics.events", key=app_id.encode(),
                      value=new_event("biometrics-capture", app_id, payload, clock).SerializeToString()).get(timeout=10)
    producer.close()
    assert wait_for(lambda: status_of(api, person, app_id) == "APPROVED")
    assert api.get(f"/v1/applications/{app_id}", token=person["token"]).body["ready_by"]
    bad = api.post(f"/v1/applications/{app_id}/issuance", {"passport_number": "12", "delivery": "POS"}, token=officer)
    assert bad.status == 422
    no_address = api.post(f"/v1/applications/{app_id}/issuance", {"passport_number": "X1234567", "delivery": "POS"},
                          token=officer)
    assert no_address.status == 422 and no_address.body["errors"][0]["field"] == "address"
    issued = api.post(f"/v1/applications/{app_id}/issuance", {"passport_number": "X1234567", "delivery": "POS",
                                                              "address": "Jl. Teuku Umar 5, Tanjung Balai Karimun"},
                      token=officer)
    assert issued.status == 200 and issued.body["status"] == "ISSUED" and issued.body["passport_number"] == "X1234567"
    mine = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert mine["passport_number"] == "X*****67" and mine["delivery"] == "POS"
    assert api.post(f"/v1/applications/{app_id}/handover", {}, token=officer).status == 422
    shipped = api.post(f"/v1/applications/{app_id}/handover", {"tracking_number": "P2611270001ID"}, token=officer)
    assert shipped.status == 200 and shipped.body["status"] == "SHIPPED"
    assert shipped.body["tracking_number"] == "P2611270001ID"
    assert api.create_application(person["token"]).status == 201, "a finished application no longer blocks the NIK"


def test_no_check_in_by_the_end_of_the_day_is_a_no_show(api, stack):
    # Jayapura (WIT), so that sweeping its past days touches no other test's appointments.
    person, app_id = applicant_with_application_at(api, "JYP")
    slot = api.first_working_slot("JYP", "REGULAR", skip_days=3)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-NS-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    jayapura = calendar.load().offices["JYP"]
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)

    def sweep(day: dt.date, hour: int) -> int:
        moment = dt.datetime.combine(day, dt.time(hour, 0), jayapura.tz)
        apps = Applications(client["passport_booking"], calendar.load(), FixedClock(moment), NoBilling())
        return apps.mark_no_shows("JYP")

    appointment_day = dt.date.fromisoformat(slot["date"])
    sweep(appointment_day, 23)
    assert status_of(api, person, app_id) == "PAID", "not before the day is over"
    assert sweep(appointment_day + dt.timedelta(days=1), 0) == 1
    assert status_of(api, person, app_id) == "NO_SHOW"
    assert sweep(appointment_day + dt.timedelta(days=1), 1) == 0, "once"
    client.close()
    assert api.create_application(person["token"], office_id="JYP").status == 201


def applicant_with_application_at(api, office_id: str):
    person = api.register_applicant()
    reply = api.create_application(person["token"], office_id=office_id)
    assert reply.status == 201, reply.body
    return person, reply.body["application_id"]


def test_paying_after_cancelling_is_refunded(api):
    person, app_id, booked = booked_applicant(api, skip_days=4)
    assert api.delete(f"/v1/applications/{app_id}/appointment", token=person["token"]).status == 204

    def voided():  # payment voids the cancelled appointment's billing
        return api.get(f"/v1/applications/{app_id}/billing", token=person["token"]).body["status"] == "EXPIRED"

    assert wait_for(voided)
    late = pay(api, booked["billing"], f"BANK-LATE-{app_id}")
    # Issue 16, bug 6: said as it is (cancelled, when, refunded), not "expired" at a later time
    assert late.status == 422 and late.body["type"].endswith("/billing-cancelled"), late.body
    assert "dibatalkan pada" in late.body["detail"] and "dikembalikan" in late.body["detail"]  # Indonesian first

    def refunds():
        return api.get(f"/v1/applications/{app_id}/billing", token=person["token"]).body.get("refunds")

    assert wait_for(refunds), "booking could not re-seat a cancelled application, so payment refunds"
    assert [(r["reason"], r["amount"], r["status"]) for r in refunds()] == \
        [("LATE_PAYMENT", booked["billing"]["amount"], "PENDING")]
    assert status_of(api, person, app_id) == "CANCELLED"


def test_the_release_calendar_is_published_and_a_date_before_its_release_answers_with_the_opening(api):
    """Issue 16: dates exist before they open (slots four weeks ahead are listed, not yet released)."""
    items = api.get("/v1/offices/TBK/releases").body["items"]
    assert items and all(r["mode"] == "FCFS" for r in items)
    scheduled = [r for r in items if r["status"] == "SCHEDULED"]
    assert scheduled, items
    upcoming = scheduled[0]
    assert dt.datetime.fromisoformat(upcoming["opens_at"]) > dt.datetime.now(dt.timezone.utc)
    person, app_id = applicant_with_application(api)
    slot = api.get(f"/v1/offices/TBK/slots?date={upcoming['dates'][0]}&lane=REGULAR").body["items"][0]
    early = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert early.status == 409 and early.body["type"].endswith("/not-yet-released"), early.body
    assert upcoming["opens_at"] in early.body["detail"]  # the Indonesian detail names the opening too
