"""The walking skeleton end to end, through the gateway, on real Kafka and FerretDB."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.integration.helpers import applicant_with_application, wait_for


def test_thin_journey(api):
    person = api.register_applicant()
    me = api.get("/v1/me", token=person["token"]).body
    assert me["role"] == "APPLICANT" and me["nik"] == person["nik"][:4] + "********" + person["nik"][-4:]
    offices = api.get("/v1/offices").body["items"]
    assert any(o["office_id"] == "TBK" and "Karimun" in o["name"] for o in offices)

    created = api.create_application(person["token"])
    assert created.status == 201 and created.body["status"] == "DRAFT"
    app_id = created.body["application_id"]
    slot = api.first_working_slot("TBK", "REGULAR")
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    billing = booked.body["billing"]
    assert len(billing["billing_code"]) == 15 and billing["billing_code"].isdigit()
    assert billing["amount"] == 950000 and billing["currency"] == "IDR"  # electronic, 10 years
    appointment = booked.body["appointment"]
    assert appointment["status"] == "AWAITING_PAYMENT" and appointment["slot_id"] == slot["slot_id"]
    assert dt.datetime.fromisoformat(appointment["pay_before"]).utcoffset() == dt.timedelta(hours=7)  # WIB

    view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert view["status"] == "AWAITING_PAYMENT"
    assert [t["status"] for t in view["timeline"]] == ["DRAFT", "AWAITING_PAYMENT"]
    def remaining_now():  # the public listing may be up to 1 s old (SLOT_LIST_CACHE_SECONDS)
        after = api.get(f"/v1/offices/TBK/slots?date={slot['date']}&lane=REGULAR").body["items"]
        return next(s for s in after if s["slot_id"] == slot["slot_id"])["remaining"]
    assert wait_for(lambda: remaining_now() == slot["remaining"] - 1, timeout_s=5)

    def messages():
        items = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"]).body["items"]
        kinds = {(m["event_type"], m["channel"]) for m in items}
        return items if {("AppointmentBooked", "SMS"), ("AppointmentBooked", "EMAIL")} <= kinds else None

    items = wait_for(messages)
    assert items, "the notification service did not record messages for the booking"
    keys = [(m["event_type"], m["channel"]) for m in items]
    assert len(keys) == len(set(keys)), "one message per event and channel"
    assert all(m["language"] == "id" for m in items)


def booked_by(stack, replica: int) -> float:
    """BookAppointment calls a booking replica has answered (its RED counter)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.metrics('booking', replica)}/metrics", timeout=5).read()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.decode().splitlines()
               if line.startswith("grpc_server_handled_total{") and 'grpc_method="BookAppointment"' in line)


def test_sixty_applicants_race_for_ten_seats(api, stack, booking_db):
    # A slot nobody else touches: Batam (BTM), the 14:00 REGULAR slot a week ahead, capacity 10,
    # set by a Batam supervisor created for this test.
    supervisor = {"role": "SUPERVISOR", "email": "supervisor@btm.imigrasi.example", "password": "Supervisor-BTM-2026!",
                  "full_name": "Test Supervisor BTM", "office_id": "BTM"}
    created = subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff", json.dumps([supervisor])],
                             env=stack.env(), capture_output=True, text=True)
    assert created.returncode == 0, created.stderr
    token = api.login(supervisor["email"], supervisor["password"])
    day = api.first_working_slot("BTM", "REGULAR", skip_days=7)["date"]
    quota = api.put("/v1/offices/BTM/quota", {"date": day, "lane": "REGULAR", "start_time": "14:00",
                                              "capacity": 10, "reason": "race test"}, token=token)
    assert quota.status == 200, quota.body
    slot_id = f"BTM-{day.replace('-', '')}-REGULAR-1400"

    with ThreadPoolExecutor(max_workers=8) as pool:
        applicants = list(pool.map(lambda _: applicant_with_application(api, "BTM"), range(60)))
    start = threading.Barrier(60)

    def book(entry):
        person, app_id = entry
        key = {"Idempotency-Key": str(uuid.uuid4())}
        start.wait()
        for _ in range(5):  # as a client app does: a 503 (Retry-After) is retried with the same key
            reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot_id},
                             token=person["token"], headers=key)
            if reply.status != 503:
                return reply
            time.sleep(float(reply.headers.get("Retry-After", "1")))
        return reply

    served_before = [booked_by(stack, replica) for replica in (0, 1)]
    with ThreadPoolExecutor(max_workers=60) as pool:
        replies = list(pool.map(book, applicants))
    served = [booked_by(stack, replica) - before for replica, before in enumerate(served_before)]
    assert all(n > 0 for n in served), f"both booking replicas take part in the race: {served}"
    statuses = sorted(r.status for r in replies)
    answers = sorted((r.status, r.body.get("type", "").rsplit("/", 1)[-1]) for r in replies)
    assert statuses.count(201) == 10, answers
    assert statuses.count(409) == 50, answers
    assert all(r.body["type"].endswith("/slot-full") for r in replies if r.status == 409)
    assert wait_for(lambda: next(s for s in api.get(f"/v1/offices/BTM/slots?date={day}&lane=REGULAR").body["items"]
                                 if s["slot_id"] == slot_id)["remaining"] == 0, timeout_s=5)
    assert booking_db["seats"].count_documents({"slot_id": slot_id}) == 10
    winners = {r.body["application_id"] for r in replies if r.status == 201}
    assert len(winners) == 10


def test_retry_with_same_idempotency_key_returns_first_answer_and_one_seat(api, booking_db):
    person, app_id = applicant_with_application(api)
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=2)
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key}
    first = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]},
                     token=person["token"], headers=headers)
    assert first.status == 201, first.body
    with ThreadPoolExecutor(max_workers=5) as pool:
        retries = list(pool.map(lambda _: api.post(f"/v1/applications/{app_id}/appointment",
                                                   {"slot_id": slot["slot_id"]}, token=person["token"],
                                                   headers=headers), range(5)))
    for retry in retries:
        assert retry.status == 201 and retry.body == first.body
        assert retry.headers.get("Idempotent-Replayed") == "true"
    assert booking_db["seats"].count_documents({"application_id": app_id}) == 1
    other_body = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": "something-else"},
                          token=person["token"], headers=headers)
    assert other_body.status == 422 and other_body.body["type"].endswith("/idempotency-key-reused")


def test_parallel_bookings_of_one_application_hold_one_seat(api, booking_db):
    person, app_id = applicant_with_application(api)
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=3)
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda _: api.post(f"/v1/applications/{app_id}/appointment",
                                                   {"slot_id": slot["slot_id"]}, token=person["token"]), range(6)))
    assert any(r.status == 201 for r in replies)
    assert all(r.status in (201, 409) for r in replies), [r.body for r in replies]
    assert booking_db["seats"].count_documents({"application_id": app_id}) == 1
    codes = {r.body["billing"]["billing_code"] for r in replies if r.status == 201}
    assert len(codes) == 1, "every successful answer names the same billing"


def test_second_open_application_for_the_same_nik_is_refused(api):
    person, _ = applicant_with_application(api)
    again = api.create_application(person["token"])
    assert again.status == 409 and again.body["type"].endswith("/active-application-exists")
    assert len(api.get("/v1/applications", token=person["token"]).body["items"]) == 1


def test_applicants_see_only_their_own_applications(api):
    owner, app_id = applicant_with_application(api)
    stranger = api.register_applicant()
    for path in (f"/v1/applications/{app_id}", f"/v1/applications/{app_id}/notifications"):
        reply = api.get(path, token=stranger["token"])
        assert reply.status == 404 and reply.headers["Content-Type"].startswith("application/problem+json")
    booked = api.post(f"/v1/applications/{app_id}/appointment",
                      {"slot_id": api.first_working_slot()["slot_id"]}, token=stranger["token"])
    assert booked.status == 404
    assert api.get(f"/v1/applications/{app_id}", token=owner["token"]).body["status"] == "DRAFT"


@pytest.mark.parametrize("case", ["malformed", "wrong-types", "invalid-nik", "weak-password"])
def test_bad_registrations_get_problem_details_and_change_nothing(api, case):
    good = {"nik": "3171014506950003", "full_name": "Siti Aminah", "birth_date": "1995-06-05",
            "email": f"siti-{uuid.uuid4().hex[:8]}@example.id", "phone": "081298765432",
            "password": "Kata-Sandi-2026"}
    if case == "malformed":
        reply = api.request("POST", "/v1/accounts", raw=b'{"nik": "31710', content_type="application/json")
        assert reply.status == 400
    elif case == "wrong-types":
        reply = api.post("/v1/accounts", dict(good, nik=3171014506950003, full_name=["x"]))
        assert reply.status == 422 and {e["field"] for e in reply.body["errors"]} == {"nik", "full_name"}
    elif case == "invalid-nik":
        reply = api.post("/v1/accounts", dict(good, nik="3171011506950003"))  # day 15, but born 05 as a woman
        assert reply.status == 422 and reply.body["errors"][0]["field"] == "nik"
    else:
        reply = api.post("/v1/accounts", dict(good, password="short"))
        assert reply.status == 422 and reply.body["errors"][0]["field"] == "password"
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(reply.body)
    assert api.post("/v1/auth/token", {"email": good["email"], "password": good["password"]}).status == 401


def test_bad_requests_on_applications(api):
    person, app_id = applicant_with_application(api)
    token = person["token"]
    assert api.get("/v1/offices/NOPE/slots?date=2030-01-02").status == 404
    assert api.get("/v1/offices/TBK/slots?date=tomorrow").status == 422
    assert api.get("/v1/offices/TBK/slots").status == 422
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": "TBK-20300101-REGULAR-0800"}, token=token)
    assert reply.status == 404 and reply.body["type"].endswith("/slot-not-found")
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": 42}, token=token)
    assert reply.status == 422
    priority = api.first_working_slot("TBK", "PRIORITY")
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": priority["slot_id"]}, token=token)
    assert reply.status == 409 and reply.body["type"].endswith("/lane-not-allowed")
    assert api.get(f"/v1/applications/{app_id}", token=token).body["status"] == "DRAFT"
    assert api.get("/v1/applications").status == 401
    assert api.get("/v1/applications", token="not-a-token").status == 401
    assert api.get("/v1/applications", headers={"Authorization": "Basic abc"}).status == 401
    other = api.register_applicant()
    reply = api.create_application(other["token"], office_id="NOPE")
    assert reply.status == 404 and reply.body["type"].endswith("/office-not-found")
    reply = api.create_application(other["token"], validity_years=7)
    assert reply.status == 422
    assert api.get("/v1/applications", token=other["token"]).body["items"] == []


def test_every_response_carries_a_request_id(api):
    echoed = api.get("/v1/offices", headers={"X-Request-Id": "req-abc-123"})
    assert echoed.headers["X-Request-Id"] == "req-abc-123"
    assert api.get("/v1/nothing-here").headers.get("X-Request-Id")
