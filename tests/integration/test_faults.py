"""Faults must cost applicants nothing (issue 22). A stack of its own, as `make up` runs it (the
watcher restarts what crashes, two booking replicas, the release-rush answer budget), and:

- a booking attempt cut off right after payment issued its billing (the seat taken, the appointment
  never recorded) leaves nothing payable: the reaper frees the seat within seconds, payment voids the
  billing, and the bank's payment of it is refused and refunded;
- a bounded rush of applicants booking and paying as a client app does (retrying 503 after
  Retry-After, one Idempotency-Key per attempt) while FerretDB, Kafka, a booking replica, payment,
  notification and a gateway worker are each killed with SIGKILL in turn and come back by
  themselves; then the invariants: seats held = appointments holding them, at most one live billing
  per application and it belongs to its recorded appointment, every settled payment confirmed its
  application or has a refund, one booking message per channel per recorded booking, no 500, every
  answer within 2 s.

Ports PASSPORT_TEST_PORT_BASE + 700; the shared session stack is left untouched.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest

from deploy.local.client import Api
from deploy.local.stack import DEMO_STAFF, LOCAL_SECRETS
from passport.v1 import payment_pb2, payment_pb2_grpc
from servicekit import grpcclient
from servicekit.clock import rfc3339
from services.booking.adapters.repositories import SeatChanges
from tests.integration.conftest import running_stack
from tests.integration.helpers import pay, wait_for

PORT_BASE = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000")) + 700
BUDGET_S = 2.0                # every answer of the rush comes within this (issue 22)
APPLICANTS, SEATS = 48, 30    # more applicants than seats: the last ones get a definitive 409
KILLS = [(4, "ferretdb"), (12, "kafka"), (20, "booking-1"), (28, "payment"), (36, "notification"),
         (44, "gateway-worker")]
RUSH_S = 56                   # arrivals spread over this, so every kill falls into bookings
LIVE = {"AWAITING_PAYMENT", "PAID"}


@pytest.fixture(scope="module")
def fstack():
    with running_stack("passport-faults-", PORT_BASE, {
            # the release-rush budget of a deployment, not the functional tests' 5 s
            "GATEWAY_BOOKING_RPC_DEADLINE_SECONDS": "1.3", "GATEWAY_ANSWER_BUDGET_SECONDS": "1.2",
            "GATEWAY_MAX_QUEUE_WAIT_MS": "500", "GATEWAY_RPC_DEADLINE_SECONDS": "1.5"},
            booking_replicas=2, gateway_workers=2, watch=True) as s:
        yield s


@pytest.fixture(scope="module")
def fapi(fstack):
    return Api(fstack.gateway_url)


@pytest.fixture(scope="module")
def dbs(fstack):
    client = pymongo.MongoClient(fstack.env()["MONGO_URI"], directConnection=True)
    yield client["passport_booking"], client["passport_payment"]
    client.close()


class Answers:
    """Every answer the client saw: status, seconds, problem type; dropped connections apart."""

    def __init__(self):
        self.items, self.dropped, self.lock = [], 0, threading.Lock()

    def call(self, api: Api, method: str, path: str, **kw):
        started = time.monotonic()
        try:
            reply = api.request(method, path, timeout=10, **kw)
        except OSError:  # the connection was dropped (a gateway worker killed mid-request)
            with self.lock:
                self.dropped += 1
            return None
        with self.lock:
            problem = reply.body.get("type", "") if isinstance(reply.body, dict) else ""
            self.items.append((reply.status, time.monotonic() - started, problem.rsplit("/", 1)[-1], path))
        return reply


def patiently(send, attempts: int = 40):
    """As a client app does: 503, 429 and 'still in progress' are retried after Retry-After, a
    dropped connection after a second; the same request (same Idempotency-Key) each time."""
    reply = None
    for _ in range(attempts):
        reply = send()
        if reply is not None and reply.status not in (429, 503) and not (
                reply.status == 409 and reply.body.get("type", "").rsplit("/", 1)[-1]
                in ("request-in-progress", "booking-in-progress")):
            return reply
        time.sleep(float(reply.headers.get("Retry-After", "1")) if reply is not None else 1.0)
    return reply


def ready_applicant(api: Api) -> dict:
    """Registered, logged in, with a DRAFT application and its documents (retried as told)."""
    for _ in range(20):
        try:
            person = api.register_applicant()
            created = api.create_application(person["token"])
            if created.status == 201:
                return dict(person, application_id=created.body["application_id"])
        except AssertionError:  # a 503 while the machine is busy: try again as a person would
            time.sleep(1)
    raise AssertionError("could not get an applicant ready")


def listing(api: Api, day) -> list[dict]:
    reply = patiently(lambda: api.get(f"/v1/offices/TBK/slots?date={day}&lane=REGULAR"))
    assert reply.status == 200, reply.body
    return reply.body["items"]


def working_day(api: Api, skip: int) -> str:
    day = dt.date.today() + dt.timedelta(days=skip)
    while not listing(api, day):
        day += dt.timedelta(days=1)
    return day.isoformat()


def supervisor(api: Api) -> str:
    staff = next(s for s in DEMO_STAFF if s["role"] == "SUPERVISOR")
    return api.login(staff["email"], staff["password"])


def outcome(payment_db, code: str) -> dict | None:
    return payment_db["outcomes"].find_one({"_id": code}, {"_outbox": 0})


def history(booking_db, app_id: str) -> list[dict]:
    out, n = [], 0
    while (t := booking_db["transitions"].find_one({"_id": f"{app_id}:{n:04d}"}, {"_outbox": 0})) is not None:
        out.append(t)
        n += 1
    return out


def hold_of(transition: dict) -> str | None:
    appointment = (transition.get("state") or {}).get("appointment") or {}
    return appointment.get("hold_id", appointment.get("appointment_id"))


def test_an_attempt_cut_off_after_its_billing_leaves_nothing_payable(fstack, fapi, dbs):
    """As if the booking process died between payment's answer and recording the appointment."""
    booking_db, payment_db = dbs
    person = ready_applicant(fapi)
    app_id = person["application_id"]
    slot = listing(fapi, working_day(fapi, 3))[-1]
    hold = "apt_" + uuid.uuid4().hex
    taken_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    SeatChanges(booking_db).mark(taken_at)  # as booking marks the span before it takes a seat
    booking_db["seats"].insert_one({
        "_id": f"{slot['slot_id']}#{slot['capacity'] - 1}", "slot_id": slot["slot_id"], "n": slot["capacity"] - 1,
        "holder": f"{app_id}#0", "application_id": app_id, "hold_id": hold, "held_at": taken_at,
        "pay_before": taken_at + dt.timedelta(hours=2)})
    # as booking would: payment takes billing orders from booking's certificate only
    channel = grpcclient.channel(f"127.0.0.1:{fstack.ports.grpc('payment')}", 10, tls_files=fstack.tls("booking"))
    phantom = payment_pb2_grpc.PaymentServiceStub(channel).IssueBilling(payment_pb2.IssueBillingRequest(
        appointment_id=hold, application_id=app_id, account_id=person["account_id"], office_id="TBK",
        fee=payment_pb2.FeeParameters(passport_type="ELECTRONIC", validity_years=10, service_type="NEW"),
        expires_at=rfc3339(taken_at + dt.timedelta(hours=2))), timeout=5)
    assert phantom.status == "UNPAID"

    started = time.monotonic()
    assert wait_for(lambda: booking_db["seats"].find_one({"hold_id": hold}) is None, 40), "seat freed by the reaper"
    freed_after = time.monotonic() - started
    voided = wait_for(lambda: outcome(payment_db, phantom.billing_code), 40)
    assert voided and voided["void_reason"] == "BOOKING_NOT_COMPLETED", voided
    print(f"\nphantom billing: seat freed after {freed_after:.1f} s, billing voided")

    refused = pay(fapi, {"billing_code": phantom.billing_code, "amount": phantom.amount.amount}, "BANK-PHANTOM-1")
    assert refused.status == 422 and refused.body["type"].endswith("/billing-void"), refused.body
    assert "dikembalikan penuh" in refused.body["detail"]  # refunded in full (Indonesian by default)
    refund = payment_db["refunds"].find_one({"billing_code": phantom.billing_code}, {"_outbox": 0})
    assert refund and refund["reason"] == "BOOKING_NOT_COMPLETED" and refund["amount"] == phantom.amount.amount
    view = fapi.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert view["status"] == "DRAFT" and [t["status"] for t in view["timeline"]] == ["DRAFT"]

    booked = patiently(lambda: fapi.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]},
                                         token=person["token"], headers={"Idempotency-Key": str(uuid.uuid4())}))
    assert booked.status == 201, booked.body
    assert booked.body["billing"]["billing_code"] != phantom.billing_code


def pay_recorded(answers: Answers, api: Api, billing: dict, reference: str):
    """The bank's signed notification (as tests/integration/test_lifecycle.pay), its answer recorded."""
    body = json.dumps({"billing_code": billing["billing_code"], "amount": billing["amount"],
                       "paid_at": rfc3339(dt.datetime.now(dt.timezone.utc)), "bank_reference": reference}).encode()
    signature = hmac.new(LOCAL_SECRETS["BANK_CALLBACK_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    return answers.call(api, "POST", "/v1/payments/notifications", raw=body,
                        headers={"X-Signature": f"sha256={signature}"})


def kill_gateway_worker(stack) -> None:
    master = stack.running("gateway")
    children = [int(p) for p in open(f"/proc/{master}/task/{master}/children").read().split()]
    os.kill(children[0], signal.SIGKILL)  # gunicorn's master starts another worker


def test_a_rush_with_each_process_killed_in_turn_keeps_every_promise(fstack, fapi, dbs):
    booking_db, payment_db = dbs
    date = working_day(fapi, 5)
    token = supervisor(fapi)
    for quota in ({"capacity": 0}, {"capacity": SEATS // 2, "start_time": "10:00"},
                  {"capacity": SEATS - SEATS // 2, "start_time": "11:00"}):
        reply = fapi.put("/v1/offices/TBK/quota", dict({"date": date, "lane": "REGULAR", "reason": "fault drill"}, **quota),
                         token=token)
        assert reply.status == 200, reply.body
    slots = [f"TBK-{date.replace('-', '')}-REGULAR-{t}" for t in ("1000", "1100")]
    with ThreadPoolExecutor(max_workers=6) as pool:
        people = list(pool.map(lambda _: ready_applicant(fapi), range(APPLICANTS)))

    answers, outcomes, lock = Answers(), {}, threading.Lock()
    rng = random.Random(20261203)
    start = time.monotonic()

    def journey(i: int, person: dict) -> None:
        time.sleep(max(0.0, start + RUSH_S * i / APPLICANTS - time.monotonic()))
        my, app_id, tok = random.Random(rng.random()), person["application_id"], person["token"]
        result = "no-seat"
        for slot_id in my.sample(slots, len(slots)):
            key = str(uuid.uuid4())  # one attempt at this slot, however often it is sent
            reply = patiently(lambda: answers.call(fapi, "POST", f"/v1/applications/{app_id}/appointment",
                                                   body={"slot_id": slot_id}, token=tok,
                                                   headers={"Idempotency-Key": key}))
            if reply is not None and reply.status == 201:
                billing = reply.body["billing"]
                result = "booked"
                if my.random() < 0.7:
                    paid = patiently(lambda: pay_recorded(answers, fapi, billing, f"BANK-{app_id}"))
                    assert paid is not None and paid.status == 200, paid and paid.body
                    result = "paid"
                elif my.random() < 0.3:
                    gone = patiently(lambda: answers.call(fapi, "DELETE", f"/v1/applications/{app_id}/appointment",
                                                          token=tok))
                    assert gone is not None and gone.status == 204, gone and gone.body
                    result = "cancelled"
                break
            assert reply is not None and reply.status == 409, reply and reply.body  # slot-full: the next slot
        with lock:
            outcomes[app_id] = (result, person)

    def killer() -> None:
        for at, name in KILLS:
            time.sleep(max(0.0, start + at - time.monotonic()))
            if name == "gateway-worker":
                kill_gateway_worker(fstack)
            else:
                fstack.kill(name, crash=True)
                assert wait_for(lambda: fstack.running(name), 60, 0.2), f"the watcher did not restart {name}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        kills = pool.submit(killer)
        runs = [pool.submit(journey, i, p) for i, p in enumerate(people)]
        for run in runs:
            run.result()
        kills.result()
    restarted = {name: fstack.restarts(name) for _, name in KILLS if name != "gateway-worker"}
    assert all(n >= 1 for n in restarted.values()), restarted

    # -- the answers ------------------------------------------------------------------------
    statuses = sorted({a[0] for a in answers.items})
    slowest = max(answers.items, key=lambda a: a[1])
    late = [a for a in answers.items if a[1] > BUDGET_S]
    print(f"\nfault rush: {len(answers.items)} answers {statuses}, slowest {slowest[1]:.2f} s ({slowest[0]} "
          f"{slowest[2]}), {answers.dropped} dropped connections; outcomes "
          f"{ {r: sum(1 for o in outcomes.values() if o[0] == r) for r in ('paid', 'booked', 'cancelled', 'no-seat')} }"
          f"; restarts {restarted}")
    assert not [a for a in answers.items if a[0] >= 500 and a[0] != 503], "a 5xx other than 503"
    assert not [a for a in answers.items if a[0] in (429, 503) and not a[2]], "problem+json on every refusal"
    assert not late, f"answers past {BUDGET_S} s: {late[:5]}"

    # -- the store after recovery ---------------------------------------------------------------
    def orphans() -> list[dict]:
        out = []
        for seat in booking_db["seats"].find({"slot_id": {"$in": slots}}, {"application_id": 1, "hold_id": 1}):
            latest = history(booking_db, seat["application_id"])[-1]
            if latest["status"] not in LIVE or hold_of(latest) != seat["hold_id"]:
                out.append(seat)
        return out
    assert wait_for(lambda: not orphans(), 60, 1), f"seats nobody holds: {orphans()}"

    def settled_everywhere() -> bool:
        return all(history(booking_db, a)[-1]["status"] == "PAID" for a, o in outcomes.items() if o[0] == "paid")
    assert wait_for(settled_everywhere, 90, 1), "every paid application became PAID"

    live_seats = booking_db["seats"].count_documents({"slot_id": {"$in": slots}})
    for app_id, (result, person) in outcomes.items():
        log = history(booking_db, app_id)
        latest = log[-1]
        recorded = {hold_of(t) for t in log if hold_of(t)}
        assert (latest["status"] in LIVE) == (result in ("paid", "booked")), (app_id, result, latest["status"])
        billings = list(payment_db["billings"].find({"application_id": app_id}, {"_outbox": 0}))
        live = []
        for b in billings:
            decided = outcome(payment_db, b["_id"])
            if decided is None or decided["kind"] == "SETTLED":
                live.append(b)
                assert b["appointment_id"] in recorded, f"a live billing of an unrecorded attempt: {b['_id']}"
            if decided is not None and decided["kind"] == "SETTLED":
                confirmed = any(t["status"] == "PAID" and hold_of(t) == b["appointment_id"] for t in log)
                refunded = payment_db["refunds"].find_one({"billing_code": b["_id"]}, {"_id": 1})
                assert confirmed or refunded, f"money taken for nothing: {b['_id']}"
        assert len(live) <= 1, f"{app_id} has {len(live)} live billings"
    assert live_seats == sum(1 for o in outcomes.values() if o[0] in ("paid", "booked"))

    def booking_messages_settled() -> bool:
        for app_id, (result, person) in outcomes.items():
            if result == "no-seat":
                continue
            items = fapi.get(f"/v1/applications/{app_id}/notifications", token=person["token"]).body["items"]
            for channel in ("EMAIL", "SMS"):
                told = sum(1 for n in items if n["channel"] == channel and n["template"] == "appointment_booked")
                if told != 1 and not (result == "cancelled" and told == 0):
                    return False
        return True
    assert wait_for(booking_messages_settled, 120, 2), "one booking message per channel per recorded booking"
