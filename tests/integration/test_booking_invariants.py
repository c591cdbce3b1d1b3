"""Many applicants at once doing everything at once — booking, paying, cancelling, rescheduling,
joining the waitlist, holds expiring — on two booking replicas; then the store must satisfy the
invariants: never more seats held than capacity, one seat per live appointment and none for a
closed one, one open application per NIK, and no booking that was answered 201 lost."""
from __future__ import annotations

import datetime as dt
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from kafka import KafkaProducer

from passport.v1 import payment_pb2
from servicekit.clock import FixedClock, rfc3339
from servicekit.events import new_event
from tests.integration.helpers import applicant_with_application, dedicated_dates, pay, wait_for

LIVE = {"AWAITING_PAYMENT", "PAID", "CHECKED_IN"}
CLOSED = {"REJECTED", "COLLECTED", "SHIPPED", "EXPIRED", "CANCELLED", "NO_SHOW"}


@pytest.fixture(scope="module")
def release(api, supervisor_token):
    """Two dates with two small REGULAR slots each (3 seats per slot): 12 seats for 30 applicants."""
    dates = dedicated_dates(api, 6)[4:]
    slots = []
    for date in dates:
        for quota in ({"capacity": 0}, {"capacity": 3, "start_time": "10:00"}, {"capacity": 3, "start_time": "11:00"}):
            reply = api.put("/v1/offices/TBK/quota", dict({"date": date, "lane": "REGULAR", "reason": "stress"}, **quota),
                            token=supervisor_token)
            assert reply.status == 200, reply.body
        slots += [f"TBK-{date.replace('-', '')}-REGULAR-{t}" for t in ("1000", "1100")]
    return dates, slots


def test_everything_at_once_keeps_the_invariants(api, stack, booking_db, release):
    dates, slots = release
    rng = random.Random(20261127)
    with ThreadPoolExecutor(max_workers=8) as pool:
        people = list(pool.map(lambda _: applicant_with_application(api), range(30)))
    answered_201: dict[str, dict] = {}
    producer = KafkaProducer(**stack.kafka_config("payment"))

    def expire(app_id: str, account_id: str, booked: dict):
        event = payment_pb2.BillingExpired(
            billing_code=booked["billing"]["billing_code"], application_id=app_id, account_id=account_id,
            office_id="TBK", appointment_id=booked["appointment"]["appointment_id"],
            expired_at=rfc3339(dt.datetime.now(dt.timezone.utc)))
        envelope = new_event("payment", app_id, event, FixedClock(dt.datetime.now(dt.timezone.utc)))
        producer.send("payment.events", key=app_id.encode(), value=envelope.SerializeToString())

    def patiently(call):
        """As a client app does: a 503 (shed or a timed-out call) is retried after Retry-After."""
        for _ in range(6):
            reply = call()
            if reply.status != 503:
                return reply
            time.sleep(float(reply.headers.get("Retry-After", "1")))
        return reply

    def journey(entry):
        person, app_id = entry
        token, my = person["token"], random.Random(rng.random())
        for slot_id in my.sample(slots, len(slots)):
            reply = patiently(lambda: api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot_id},
                                               token=token))
            if reply.status == 201:
                answered_201[app_id] = reply.body
                break
            if reply.status == 503:
                return  # the client gave up; whatever happened server-side must still be consistent
            assert reply.status == 409 and reply.body["type"].endswith("/slot-full"), reply.body
        else:
            date = my.choice(dates)
            joined = patiently(lambda: api.post(f"/v1/applications/{app_id}/waitlist",
                                                {"date": date, "lane": "REGULAR"}, token=token))
            assert joined.status in (201, 409, 503), joined.body
            return
        booked = answered_201[app_id]
        action = my.choice(["pay", "pay", "pay-reschedule", "cancel", "expire", "nothing"])
        if action.startswith("pay"):
            assert patiently(lambda: pay(api, booked["billing"], f"BANK-INV-{app_id}")).status == 200
            if action == "pay-reschedule":
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if api.get(f"/v1/applications/{app_id}", token=token).body["status"] == "PAID":
                        target = my.choice([s for s in slots if s != booked["appointment"]["slot_id"]])
                        moved = patiently(lambda: api.put(f"/v1/applications/{app_id}/appointment",
                                                          {"slot_id": target}, token=token))
                        assert moved.status in (200, 409, 503), moved.body
                        break
                    time.sleep(0.3)
        elif action == "cancel":
            assert patiently(lambda: api.delete(f"/v1/applications/{app_id}/appointment", token=token)).status == 204
        elif action == "expire":
            expire(app_id, person["account_id"], booked)

    with ThreadPoolExecutor(max_workers=30) as pool:
        list(pool.map(journey, people))
    producer.flush(30)
    producer.close()
    assert answered_201, "some bookings succeeded"

    apps = [a for _, a in people]

    def settled():
        """Every event applied: no AWAITING/PAID application waits on a seat change any more."""
        time.sleep(3)
        return check_invariants(booking_db, apps, slots, answered_201, strict=False)

    assert wait_for(settled, timeout_s=90, interval_s=1), check_invariants(booking_db, apps, slots, answered_201,
                                                                             strict=False, report=True)
    assert check_invariants(booking_db, apps, slots, answered_201, strict=True)


def check_invariants(db, apps, slots, answered_201, strict: bool, report: bool = False):
    problems = []
    for slot in db["slots"].find({"_id": {"$in": slots}}):
        held = db["seats"].count_documents({"slot_id": slot["_id"]})
        if held > slot["capacity"]:
            problems.append(f"overbooked {slot['_id']}: {held} > {slot['capacity']}")
    accounts = {}
    for app_id in apps:
        history = list(db["transitions"].find({"application_id": app_id}).sort("seq", -1).limit(1))
        latest = history[0]
        seats = list(db["seats"].find({"application_id": app_id}))
        header = db["applications"].find_one({"_id": app_id})
        if latest["status"] not in CLOSED:
            accounts.setdefault(header["account_id"], []).append(app_id)
        if latest["status"] in LIVE:
            hold = latest["state"]["appointment"].get("hold_id", latest["state"]["appointment"]["appointment_id"])
            if [s["hold_id"] for s in seats] != [hold]:
                problems.append(f"{app_id} {latest['status']} holds {[s['hold_id'] for s in seats]}, not [{hold}]")
        elif seats:
            problems.append(f"{app_id} is {latest['status']} but holds {len(seats)} seat(s)")
        if app_id in answered_201 and latest["status"] == "DRAFT":
            problems.append(f"{app_id} was answered 201 but is DRAFT: a lost booking")
    problems += [f"account {a} has {len(x)} open applications" for a, x in accounts.items() if len(x) > 1]
    if report:
        return problems
    return not problems
