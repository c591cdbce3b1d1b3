"""The application lifecycle across services: paid -> PAID, expired -> seat released, check-in."""
from __future__ import annotations

import datetime as dt
import time

import pymongo
from kafka import KafkaProducer

from deploy.local.stack import DEMO_STAFF
from passport.v1 import biometrics_pb2, common_pb2, payment_pb2
from servicekit.clock import FixedClock, rfc3339
from servicekit.events import new_event
from services.booking.domain import calendar
from services.booking.usecases.facade import Applications
from tests.integration.helpers import NoBilling, applicant_with_application, booked_applicant, pay, status_of, wait_for


def test_a_signed_payment_makes_the_application_paid(api):
    person, app_id, booked = booked_applicant(api)
    paid_at = rfc3339(dt.datetime.now(dt.timezone.utc))
    assert pay(api, booked["billing"], f"BANK-{app_id}", paid_at).status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID"), "booking consumed PaymentSettled"
    view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert [t["status"] for t in view["timeline"]] == ["DRAFT", "AWAITING_PAYMENT", "PAID"]
    assert view["appointment"]["status"] == "CONFIRMED"
    # A redelivered settlement changes nothing.
    assert pay(api, booked["billing"], f"BANK-{app_id}", paid_at).status == 200
    assert [t["status"] for t in api.get(f"/v1/applications/{app_id}", token=person["token"]).body["timeline"]] \
        == ["DRAFT", "AWAITING_PAYMENT", "PAID"]


def test_billing_expired_releases_the_seat_and_the_open_application(api, stack):
    person, app_id, booked = booked_applicant(api, skip_days=7)
    slot_id = booked["appointment"]["slot_id"]
    date = booked["appointment"]["date"]

    def remaining():
        items = api.get(f"/v1/offices/TBK/slots?date={date}&lane=REGULAR").body["items"]
        return next(s for s in items if s["slot_id"] == slot_id)["remaining"]

    time.sleep(1.1)  # the public listing may be up to 1 s old (SLOT_LIST_CACHE_SECONDS)
    before = remaining()
    # The payment service's fact, as its sweeper would publish it (the contract is the event).
    expired = payment_pb2.BillingExpired(
        billing_code=booked["billing"]["billing_code"], application_id=app_id, account_id=person["account_id"],
        office_id="TBK", appointment_id=booked["appointment"]["appointment_id"],
        expired_at=rfc3339(dt.datetime.now(dt.timezone.utc)))
    envelope = new_event("payment", app_id, expired, FixedClock(dt.datetime.now(dt.timezone.utc)))
    producer = KafkaProducer(**stack.kafka_config("payment"))
    for _ in range(2):  # delivered twice: released once
        producer.send("payment.events", key=app_id.encode(), value=envelope.SerializeToString()).get(timeout=10)
    producer.close()
    assert wait_for(lambda: status_of(api, person, app_id) == "EXPIRED")
    assert wait_for(lambda: remaining() == before + 1), "the seat was released"
    timeline = [t["status"] for t in api.get(f"/v1/applications/{app_id}", token=person["token"]).body["timeline"]]
    assert timeline == ["DRAFT", "AWAITING_PAYMENT", "EXPIRED"]
    again = api.create_application(person["token"])
    assert again.status == 201, "an expired application no longer blocks a new one for the NIK"


def test_an_unpaid_hold_expires_through_the_payment_sweeper_and_frees_the_seat(api, stack):
    """End to end: payment's own sweeper finds the billing past its deadline, publishes BillingExpired,
    and booking frees the seat. The test stands in for the two hours of the hold by moving the
    billing's deadline into the past in the payment database, where the sweeper's scan finds it (its
    expiry queue still files it under the original deadline; test_payments covers the queue)."""
    person, app_id, booked = booked_applicant(api, skip_days=9)
    slot_id, date = booked["appointment"]["slot_id"], booked["appointment"]["date"]

    def remaining():
        items = api.get(f"/v1/offices/TBK/slots?date={date}&lane=REGULAR").body["items"]
        return next(s for s in items if s["slot_id"] == slot_id)["remaining"]

    before = remaining()
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    try:
        moved = client["passport_payment"]["billings"].update_one(
            {"_id": booked["billing"]["billing_code"]},
            {"$set": {"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)}})
        assert moved.matched_count == 1
        assert wait_for(lambda: status_of(api, person, app_id) == "EXPIRED"), "the sweeper expired the billing"
        assert wait_for(lambda: remaining() == before + 1), "booking released the seat"
        outcome = client["passport_payment"]["outcomes"].find_one({"_id": booked["billing"]["billing_code"]})
        assert outcome["kind"] == "EXPIRED"
    finally:
        client.close()
    billing = api.get(f"/v1/applications/{app_id}/billing", token=person["token"]).body
    assert billing["status"] == "EXPIRED"
    late = pay(api, booked["billing"], f"BANK-LATE-{app_id}")  # not applied to the freed seat: recorded
    assert late.status == 422 and late.body["type"].endswith("/billing-expired"), late.body


def test_check_in_on_the_appointment_day_gives_increasing_queue_numbers(api, stack):
    """Check-in needs 'today' to be the appointment day: the booking domain runs here in-process
    with a fixed clock on that day, against the real store the services use."""
    paid = []
    for _ in range(2):
        person, app_id, booked = booked_applicant(api, skip_days=8)
        assert pay(api, booked["billing"], f"BANK-CI-{app_id}").status == 200
        paid.append((person, app_id, booked["appointment"]))
    for person, app_id, _ in paid:
        assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    day = dt.date.fromisoformat(paid[0][2]["date"])
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    apps = Applications(client["passport_booking"], calendar.load(),
                        FixedClock(dt.datetime.combine(day, dt.time(8, 30), calendar.load().offices["TBK"].tz)),
                        NoBilling())
    officer = common_pb2.Caller(account_id="officer", role="OFFICER", office_id="TBK")
    numbers = [apps.check_in(officer, "TBK", app_id) for _, app_id, appt in paid if appt["date"] == day.isoformat()]
    assert numbers[0].startswith("A") and numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert apps.check_in(officer, "TBK", paid[0][1]) == numbers[0], "a repeated check-in keeps its number"
    person, app_id, _ = paid[0]
    view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert view["status"] == "CHECKED_IN" and view["timeline"][-1]["note"] == f"queue number {numbers[0]}"
    # Through the gateway, on a day that is not the appointment day: a clear 409.
    staff = next(s for s in DEMO_STAFF if s["role"] == "OFFICER")
    token = api.login(staff["email"], staff["password"])
    other_person, other_app, _ = booked_applicant(api, skip_days=8)
    reply = api.post("/v1/offices/TBK/check-ins", {"application_id": other_app}, token=token)
    assert reply.status == 409 and reply.body["type"].endswith("/not-paid")
    reply = api.post("/v1/offices/BTM/check-ins", {"application_id": other_app}, token=token)
    assert reply.status == 403
    client.close()


def test_counter_facts_from_biometrics_move_the_application_on(api, stack):
    person, app_id, booked = booked_applicant(api, skip_days=8)
    assert pay(api, booked["billing"], f"BANK-BIO-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    day = dt.date.fromisoformat(booked["appointment"]["date"])
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    office = calendar.load().offices["TBK"]
    apps = Applications(client["passport_booking"], calendar.load(),
                        FixedClock(dt.datetime.combine(day, dt.time(9, 0), office.tz)), NoBilling())
    apps.check_in(common_pb2.Caller(account_id="officer", role="OFFICER", office_id="TBK"), "TBK", app_id)
    client.close()
    clock = FixedClock(dt.datetime.now(dt.timezone.utc))
    captured = new_event("biometrics-capture", app_id, biometrics_pb2.BiometricsCaptured(
        application_id=app_id, account_id=person["account_id"], office_id="TBK", outcome="CAPTURED"), clock)
    interviewed = new_event("biometrics-capture", app_id, biometrics_pb2.InterviewCompleted(
        application_id=app_id, account_id=person["account_id"], office_id="TBK", outcome="APPROVED"), clock)
    producer = KafkaProducer(**stack.kafka_config("biometrics-capture"))
    for envelope in (captured, interviewed, captured, interviewed):  # redelivered: applied once
        producer.send("biometrics.events", key=app_id.encode(), value=envelope.SerializeToString()).get(timeout=10)
    producer.close()
    assert wait_for(lambda: status_of(api, person, app_id) == "APPROVED")
    timeline = [t["status"] for t in api.get(f"/v1/applications/{app_id}", token=person["token"]).body["timeline"]]
    assert timeline == ["DRAFT", "AWAITING_PAYMENT", "PAID", "CHECKED_IN", "BIOMETRICS_CAPTURED", "APPROVED"]


def test_the_booking_proof_shows_the_appointment_and_its_qr_code_names_the_application(api):
    """Issue 16: GET /v1/applications/{id}/proof, JSON and a PNG card the counter can scan."""
    import cv2
    import numpy as np
    person, app_id, booked = booked_applicant(api)
    proof = api.get(f"/v1/applications/{app_id}/proof", token=person["token"])
    assert proof.status == 200, proof.body
    body = proof.body
    assert (body["application_id"], body["date"], body["start_time"], body["lane"]) == (
        app_id, booked["appointment"]["date"], booked["appointment"]["start_time"], "REGULAR")
    assert body["nik"] == person["nik"][:4] + "********" + person["nik"][-4:] and body["full_name"] == "Test Applicant"
    assert "Karimun" in body["office_name"] and body["qr_svg"].startswith("<svg")
    card = api.get(f"/v1/applications/{app_id}/proof?format=png", token=person["token"])
    assert card.status == 200 and card.headers["Content-Type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(card.body, np.uint8), cv2.IMREAD_COLOR)
    decoded, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == app_id, "the counter's scanner reads the application id"
    stranger = api.register_applicant()
    assert api.get(f"/v1/applications/{app_id}/proof", token=stranger["token"]).status == 404
    draft_person, draft_app = applicant_with_application(api)
    no_appointment = api.get(f"/v1/applications/{draft_app}/proof", token=draft_person["token"])
    assert no_appointment.status == 409 and no_appointment.body["type"].endswith("/no-appointment")
    # Before a booking there is no billing: a state of the application (409), not a missing one (404).
    for method, path in (("get", "billing"), ("post", "billing/recheck")):
        call = getattr(api, method)
        answer = call(f"/v1/applications/{draft_app}/{path}", *([{}] if method == "post" else []),
                      token=draft_person["token"])
        assert answer.status == 409 and answer.body["type"].endswith("/no-billing-yet"), (path, answer.body)
        assert "memilih jadwal" in answer.body["detail"]
