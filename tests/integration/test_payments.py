"""Payment through the real path: signed bank notifications via the gateway, the bank simulator,
recheck, the expiry sweeper (two replicas) and reconciliation, against real Kafka and FerretDB."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest
from kafka import KafkaConsumer

from deploy.local import bank_simulator
from deploy.local.stack import DEMO_STAFF, LOCAL_SECRETS, REPO
from passport.v1 import payment_pb2, payment_pb2_grpc
from servicekit import grpcclient
from servicekit.clock import rfc3339
from servicekit.events import decode
from services.payment.domain import billing_codes
from tests.integration.helpers import applicant_with_application, metric, wait_for

SECRET = LOCAL_SECRETS["BANK_CALLBACK_SECRET"]
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def payment_db(stack):
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True, tz_aware=True)
    yield client["passport_payment"]
    client.close()


@pytest.fixture(scope="module")
def payment_stub(stack):
    return payment_pb2_grpc.PaymentServiceStub(
        grpcclient.channel(stack.ports.address("payment"), 10, tls_files=stack.tls("gateway")))


def booked(api, skip_days=5):
    person, app_id = applicant_with_application(api)
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=skip_days)
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert reply.status == 201, reply.body
    return person, app_id, reply.body["billing"]


def notify(api, payment: dict, secret: str = SECRET, body: bytes | None = None, signature: str | None = None):
    raw = body if body is not None else json.dumps(payment).encode()
    headers = {} if signature == "" else {"X-Signature": signature or bank_simulator.sign(secret, raw)}
    return api.request("POST", "/v1/payments/notifications", raw=raw, headers=headers)


def payment_for(billing: dict, ref: str | None = None, amount: int | None = None, paid_at: str | None = None):
    return bank_simulator.new_payment(billing["billing_code"], billing["amount"] if amount is None else amount,
                                      ref or "IT-" + uuid.uuid4().hex[:12], paid_at)


def payment_events(stack, application_ids: set[str]) -> list[tuple[str, str, object]]:
    """(event_type, aggregate_id, payload) of every payment event about these applications, once per
    event_id (the outbox relay publishes at least once; consumers drop repeats by event_id)."""
    consumer = KafkaConsumer("payment.events", **stack.kafka_config(),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=4000)
    out, seen = [], set()
    try:
        for msg in consumer:
            if msg.key and msg.key.decode() in application_ids:
                envelope, payload = decode(msg.value)
                if envelope.event_id not in seen:
                    seen.add(envelope.event_id)
                    out.append((envelope.event_type, envelope.aggregate_id, payload))
    finally:
        consumer.close()
    return out


def billing_of(api, person, app_id):
    reply = api.get(f"/v1/applications/{app_id}/billing", token=person["token"])
    assert reply.status == 200, reply.body
    return reply.body


# -- the journey -------------------------------------------------------------------------------
def test_journey_pays_through_the_signed_bank_path(api, stack, payment_db):
    person, app_id, billing = booked(api)
    assert billing_of(api, person, app_id)["status"] == "UNPAID"
    # The bank simulator's CLI records the payment and sends the signed notification.
    ref = "IT-" + uuid.uuid4().hex[:12]
    done = subprocess.run([sys.executable, "-m", "deploy.local.bank_simulator", "pay", "--gateway", stack.gateway_url,
                           "--billing-code", billing["billing_code"], "--amount", str(billing["amount"]),
                           "--bank-reference", ref], env=stack.env(), cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    view = billing_of(api, person, app_id)
    assert view["status"] == "PAID" and view["paid_at"]
    assert payment_db["outcomes"].find_one({"_id": billing["billing_code"]})["bank_reference"] == ref
    # The redelivery of the same notification is answered 200 and changes nothing.
    paid = [p for p in bank_simulator.payments(bank_simulator.state_path(stack.env()["BANK_SIMULATOR_STATE"]))
            if p["bank_reference"] == ref][0]
    again = notify(api, paid)
    assert again.status == 200 and again.body["outcome"] == "SETTLED"
    settled = wait_for(lambda: [e for e in payment_events(stack, {app_id}) if e[0] == "PaymentSettled"])
    assert len(settled) == 1
    assert settled[0][2].bank_reference == ref and settled[0][2].amount.amount == billing["amount"]
    assert settled[0][2].billing_code == billing["billing_code"]


def test_bad_signatures_are_refused_and_nothing_is_paid(api, payment_db):
    person, app_id, billing = booked(api)
    payment = payment_for(billing)
    raw = json.dumps(payment).encode()
    altered = json.dumps({**payment, "amount": billing["amount"] + 1}).encode()
    attempts = [
        notify(api, payment, signature=""),                                   # missing
        notify(api, payment, secret="forged-secret"),                         # forged
        notify(api, payment, body=altered, signature=bank_simulator.sign(SECRET, raw)),  # altered body
        notify(api, payment, body=raw + b" ", signature=bank_simulator.sign(SECRET, raw)),
        notify(api, payment, signature="sha256=" + "0" * 64),
    ]
    for reply in attempts:
        assert reply.status == 401, reply.body
        assert reply.body["type"].endswith("/invalid-signature")
    assert payment_db["payments"].count_documents({"billing_code": billing["billing_code"]}) == 0
    assert payment_db["outcomes"].count_documents({"_id": billing["billing_code"]}) == 0
    assert billing_of(api, person, app_id)["status"] == "UNPAID"


def test_malformed_and_mismatched_notifications_get_clear_422(api, payment_db):
    person, app_id, billing = booked(api)
    code = billing["billing_code"]
    cases = [
        ({**payment_for(billing), "amount": -950000}, "validation-error"),
        ({**payment_for(billing), "amount": 950000.5}, "validation-error"),
        ({**payment_for(billing), "amount": "950000"}, "validation-error"),
        ({**payment_for(billing), "billing_code": "12345"}, "validation-error"),
        ({**payment_for(billing), "paid_at": "yesterday"}, "validation-error"),
        ({k: v for k, v in payment_for(billing).items() if k != "bank_reference"}, "validation-error"),
        ({**payment_for(billing), "billing_code": billing_codes.new_code()}, "unknown-billing-code"),
    ]
    for body, slug in cases:
        reply = notify(api, body)
        assert reply.status == 422 and reply.body["type"].endswith("/" + slug), (body, reply.body)
    not_json = notify(api, {}, body=b"{not json")
    assert not_json.status == 400
    short = payment_for(billing, amount=billing["amount"] - 1000)
    reply = notify(api, short)
    assert reply.status == 422 and reply.body["type"].endswith("/amount-mismatch")
    assert payment_db["mismatches"].find_one({"_id": short["bank_reference"]})["expected"] == billing["amount"]
    refund = payment_db["refunds"].find_one({"_id": short["bank_reference"]})  # refunded in full
    assert (refund["reason"], refund["status"], refund["amount"]) == ("AMOUNT_MISMATCH", "PENDING", short["amount"])
    assert billing_of(api, person, app_id)["status"] == "UNPAID"
    assert payment_db["outcomes"].count_documents({"_id": code}) == 0


def test_a_paid_at_far_in_the_future_is_refused_and_the_bill_stays_payable(api, payment_db):
    """A far-future paid_at read as "paid after the deadline" used to expire a valid bill."""
    person, app_id, billing = booked(api)
    for ahead in (dt.timedelta(minutes=10), dt.timedelta(days=400)):
        future = payment_for(billing, paid_at=rfc3339(dt.datetime.now(UTC) + ahead))
        reply = notify(api, future)
        assert reply.status == 422 and reply.body["type"].endswith("/validation-error"), reply.body
        assert [e["field"] for e in reply.body["errors"]] == ["paid_at"]
        assert payment_db["payments"].count_documents({"_id": future["bank_reference"]}) == 0
        assert payment_db["late_payments"].count_documents({"_id": future["bank_reference"]}) == 0
    assert payment_db["outcomes"].count_documents({"_id": billing["billing_code"]}) == 0
    assert billing_of(api, person, app_id)["status"] == "UNPAID"
    # the bank's clock a minute ahead is an ordinary payment
    assert notify(api, payment_for(billing, paid_at=rfc3339(dt.datetime.now(UTC) + dt.timedelta(minutes=1)))).status == 200
    assert billing_of(api, person, app_id)["status"] == "PAID"


# -- exactly once ------------------------------------------------------------------------------
def test_same_settlement_delivered_20_times_in_parallel_settles_once(api, stack, payment_db):
    person, app_id, billing = booked(api)
    payment = payment_for(billing)
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: notify(api, payment), range(20)))
    assert [r.status for r in replies] == [200] * 20, [r.body for r in replies if r.status != 200]
    assert {r.body["outcome"] for r in replies} == {"SETTLED"}
    assert payment_db["outcomes"].count_documents({"_id": billing["billing_code"]}) == 1
    # A second, different payment for the paid billing is an overpayment for refund.
    second = payment_for(billing)
    reply = notify(api, second)
    assert reply.status == 200 and reply.body["outcome"] == "OVERPAYMENT"
    assert payment_db["refunds"].find_one({"_id": second["bank_reference"]})["reason"] == "OVERPAYMENT"
    assert billing_of(api, person, app_id)["status"] == "PAID"
    wait_for(lambda: any(e[0] == "OverpaymentRecorded" for e in payment_events(stack, {app_id})))
    kinds = [e[0] for e in payment_events(stack, {app_id})]
    assert kinds.count("PaymentSettled") == 1 and kinds.count("OverpaymentRecorded") == 1


def test_settlement_racing_the_expiry_sweepers_has_exactly_one_outcome(api, stack, payment_db, payment_stub):
    stack.start_service("payment", 1)  # a second replica, with its own sweeper
    from servicekit.grpcserver import wait_healthy
    assert wait_healthy(f"127.0.0.1:{stack.ports.grpc('payment', 1)}", 60, stack.tls("gateway"))
    try:
        start = dt.datetime.now(UTC)
        billings = []
        for i in range(10):
            app_id = f"race-{uuid.uuid4().hex[:10]}"
            expires = start + dt.timedelta(seconds=4, milliseconds=150 * i)
            b = payment_stub.IssueBilling(payment_pb2.IssueBillingRequest(
                appointment_id=f"hold-{app_id}", application_id=app_id, account_id="acc-race", office_id="TBK",
                fee=payment_pb2.FeeParameters(passport_type="ORDINARY", validity_years=5, service_type="NEW"),
                expires_at=rfc3339(expires)))
            billings.append((app_id, expires, {"billing_code": b.billing_code, "amount": b.amount.amount}))
        unpaid = []  # billings nobody pays: both sweepers race for them
        for _ in range(3):
            app_id = f"race-{uuid.uuid4().hex[:10]}"
            b = payment_stub.IssueBilling(payment_pb2.IssueBillingRequest(
                appointment_id=f"hold-{app_id}", application_id=app_id, account_id="acc-race", office_id="TBK",
                fee=payment_pb2.FeeParameters(passport_type="ORDINARY", validity_years=5, service_type="NEW"),
                expires_at=rfc3339(start + dt.timedelta(seconds=2))))
            unpaid.append((app_id, b.billing_code))

        def pay_at_deadline(entry):
            app_id, expires, billing = entry
            # Paid (at the bank) one second before the deadline; the notification arrives around it.
            payment = payment_for(billing, paid_at=(expires - dt.timedelta(seconds=1)).isoformat())
            delay = (expires - dt.datetime.now(UTC)).total_seconds() - 0.3
            if delay > 0:
                time.sleep(delay)
            return app_id, billing, payment, [notify(api, payment) for _ in range(3)]

        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(pay_at_deadline, billings))

        outcomes_seen = set()
        for app_id, billing, payment, replies in results:
            code = billing["billing_code"]
            outcome = wait_for(lambda: payment_db["outcomes"].find_one({"_id": code}), 30)
            assert payment_db["outcomes"].count_documents({"_id": code}) == 1
            outcomes_seen.add(outcome["kind"])
            statuses = {r.status for r in replies}
            if outcome["kind"] == "SETTLED":
                assert statuses == {200} and outcome["bank_reference"] == payment["bank_reference"]
                assert payment_db["late_payments"].count_documents({"_id": payment["bank_reference"]}) == 0
            else:
                assert statuses == {422} and all(r.body["type"].endswith("/billing-expired") for r in replies)
                assert payment_db["late_payments"].count_documents({"_id": payment["bank_reference"]}) == 1
        for app_id, code in unpaid:
            assert wait_for(lambda: payment_db["outcomes"].find_one({"_id": code}), 30)["kind"] == "EXPIRED"

        ids = {a for a, _, _ in billings} | {a for a, _ in unpaid}
        expected = len(ids) + sum(1 for _, b, p, _ in results
                                  if payment_db["late_payments"].find_one({"_id": p["bank_reference"]}))
        events = wait_for(lambda: (lambda ev: ev if len(ev) >= expected else None)(payment_events(stack, ids)), 60)
        assert events, "every outcome was published"
        for app_id in ids:
            decisions = [e[0] for e in events if e[1] == app_id and e[0] in ("PaymentSettled", "BillingExpired")]
            assert len(decisions) == 1, (app_id, decisions)
            late = [e for e in events if e[1] == app_id and e[0] == "LatePaymentReceived"]
            assert len(late) == (1 if decisions == ["BillingExpired"] and app_id not in dict(unpaid) else 0)
    finally:
        stack.stop("payment-1")


def test_a_deadline_missed_while_down_expires_once_after_the_restart(stack, payment_db, payment_stub):
    from servicekit.grpcserver import wait_healthy
    app_id = f"downtime-{uuid.uuid4().hex[:10]}"
    # Its deadline passed three days ago, as after a long outage: beyond the look-back (48 h) of the
    # running sweeper's regular passes, so only a start-up pass can find it.
    code = payment_stub.IssueBilling(payment_pb2.IssueBillingRequest(
        appointment_id=f"hold-{app_id}", application_id=app_id, account_id="acc-downtime", office_id="TBK",
        fee=payment_pb2.FeeParameters(passport_type="ORDINARY", validity_years=5, service_type="NEW"),
        expires_at=rfc3339(dt.datetime.now(UTC) - dt.timedelta(days=3)))).billing_code
    time.sleep(2.5)  # two regular passes (PAYMENT_SWEEP_INTERVAL_SECONDS=1)
    assert payment_db["outcomes"].find_one({"_id": code}) is None, "the regular pass did not reach it"

    stack.stop("payment")
    stack.start_service("payment")
    assert wait_healthy(stack.ports.address("payment"), 60, stack.tls("gateway"))
    outcome = wait_for(lambda: payment_db["outcomes"].find_one({"_id": code}), 30)
    assert outcome and outcome["kind"] == "EXPIRED"
    expired = wait_for(lambda: [e for e in payment_events(stack, {app_id}) if e[0] == "BillingExpired"], 60)
    assert len(expired) == 1 and expired[0][2].billing_code == code
    time.sleep(2.5)  # later passes change nothing
    assert payment_db["outcomes"].count_documents({"_id": code}) == 1
    assert [e[0] for e in payment_events(stack, {app_id})] == ["BillingIssued", "BillingExpired"]


# -- recheck and reconciliation ----------------------------------------------------------------
def test_recheck_settles_a_payment_whose_notification_was_lost(api, stack):
    person, app_id, billing = booked(api)
    before = api.post(f"/v1/applications/{app_id}/billing/recheck", {}, token=person["token"])
    assert before.status == 200 and before.body["status"] == "UNPAID"
    done = subprocess.run([sys.executable, "-m", "deploy.local.bank_simulator", "pay", "--no-notify",
                           "--billing-code", billing["billing_code"], "--amount", str(billing["amount"])],
                          env=stack.env(), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert billing_of(api, person, app_id)["status"] == "UNPAID"
    after = api.post(f"/v1/applications/{app_id}/billing/recheck", {}, token=person["token"])
    assert after.status == 200 and after.body["status"] == "PAID" and after.body["paid_at"]
    assert billing_of(api, person, app_id)["status"] == "PAID"
    stranger = api.register_applicant()
    assert api.post(f"/v1/applications/{app_id}/billing/recheck", {}, token=stranger["token"]).status == 404


def test_reconciliation_of_a_statement(api, stack, payment_db, tmp_path):
    _, _, paid = booked(api)
    _, _, missed = booked(api)
    _, _, unpaid = booked(api)
    matched = payment_for(paid)
    assert notify(api, matched).status == 200
    lost = payment_for(missed)  # the bank has it; its notification never came
    bank_simulator.record_payment(bank_simulator.state_path(stack.env()["BANK_SIMULATOR_STATE"]), lost)
    ours_only = payment_for(unpaid)
    assert notify(api, ours_only).status == 200  # we have it; the statement will not
    wrong = payment_for(paid)
    assert notify(api, wrong).status == 200  # an overpayment, but the statement says another amount
    lines = [matched, lost, {**wrong, "amount": wrong["amount"] + 1}]
    text = "bank_reference,billing_code,amount,paid_at\n" + "".join(
        f"{p['bank_reference']},{p['billing_code']},{p['amount']},{p['paid_at']}\n" for p in lines)

    supervisor = next(s for s in DEMO_STAFF if s["role"] == "SUPERVISOR")
    token = api.login(supervisor["email"], supervisor["password"])
    reply = api.request("POST", "/v1/offices/TBK/reconciliations", raw=text.encode(), content_type="text/csv",
                        token=token)
    assert reply.status == 200, reply.body
    refs = {k: [i["bank_reference"] for i in v] for k, v in reply.body.items()}
    assert matched["bank_reference"] in refs["matched"]
    assert refs["missing_ours"] == [lost["bank_reference"]] and reply.body["missing_ours"][0]["outcome"] == "SETTLED"
    assert wrong["bank_reference"] in refs["mismatched"]
    assert ours_only["bank_reference"] in refs["missing_bank"]
    assert payment_db["outcomes"].find_one({"_id": missed["billing_code"]})["kind"] == "SETTLED"

    applicant = api.register_applicant()
    assert api.request("POST", "/v1/offices/TBK/reconciliations", raw=text.encode(), content_type="text/csv",
                       token=applicant["token"]).status == 403

    # The CLI reports the same statement; the missed payment is now matched.
    path = tmp_path / "statement.csv"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "services.payment.reconcile", str(path), "--json"],
                          env=stack.env(), cwd=REPO, capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout)
    cli_refs = {k: [i["line"]["bank_reference"] for i in v] for k, v in report.items()}
    assert {matched["bank_reference"], lost["bank_reference"]} <= set(cli_refs["matched"])
    assert cli_refs["missing_ours"] == [] and wrong["bank_reference"] in cli_refs["mismatched"]
    assert done.returncode == 1  # there are differences left to look at


# -- refunds -----------------------------------------------------------------------------------
def publish_cancellation(stack, app_id: str, appointment_id: str, reason: str, raw: bytes | None = None) -> bytes:
    """Booking's contract: AppointmentCancelled on booking.events, keyed by application_id."""
    from kafka import KafkaProducer

    from passport.v1 import booking_pb2
    from servicekit.clock import Clock
    from servicekit.events import new_event
    if raw is None:
        raw = new_event("booking", app_id, booking_pb2.AppointmentCancelled(
            application_id=app_id, account_id="acc", office_id="TBK", appointment_id=appointment_id,
            slot_id="slot", reason=reason), Clock()).SerializeToString()
    producer = KafkaProducer(**stack.kafka_config("booking"), acks="all")
    try:
        producer.send("booking.events", key=app_id.encode(), value=raw).get(timeout=30)
    finally:
        producer.close()
    return raw


def handled(payment_db, raw: bytes) -> bool:
    envelope, _ = decode(raw)
    return wait_for(lambda: payment_db["processed_events"].find_one({"_id": f"payment:{envelope.event_id}"}), 60)


def test_office_cancellation_of_a_paid_application_is_refunded_once_and_paid_out(api, stack, payment_db):
    person, app_id, billing = booked(api)
    code = billing["billing_code"]
    assert notify(api, payment_for(billing)).status == 200
    assert billing_of(api, person, app_id)["refunds"] == []
    paid_before = metric(stack, "payment", "payment_refunds_total", reason="OFFICE_CANCELLED", status="PAID_OUT")
    appointment_id = payment_db["billings"].find_one({"_id": code})["appointment_id"]

    raw = publish_cancellation(stack, app_id, appointment_id, "OFFICE")
    view = wait_for(lambda: (lambda b: b if b["refunds"] else None)(billing_of(api, person, app_id)), 60)
    assert view["status"] == "PAID"
    [refund] = view["refunds"]
    assert refund["reason"] == "OFFICE_CANCELLED" and refund["status"] == "PENDING"
    assert refund["amount"] == billing["amount"] and refund["recorded_at"] and "paid_out_at" not in refund
    # Redelivery of the same event, and a second event about the same cancellation: one refund.
    publish_cancellation(stack, app_id, appointment_id, "OFFICE", raw=raw)
    again = publish_cancellation(stack, app_id, appointment_id, "OFFICE")
    assert handled(payment_db, again)
    assert payment_db["refunds"].count_documents({"billing_code": code}) == 1
    assert len(billing_of(api, person, app_id)["refunds"]) == 1
    recorded = wait_for(lambda: [e for e in payment_events(stack, {app_id}) if e[0] == "RefundRecorded"])
    assert len(recorded) == 1 and recorded[0][2].amount.amount == billing["amount"]

    supervisor = next(s for s in DEMO_STAFF if s["role"] == "SUPERVISOR")
    token = api.login(supervisor["email"], supervisor["password"])
    pending = api.get("/v1/offices/TBK/refunds?status=PENDING", token=token)
    assert pending.status == 200 and code in [r["billing_code"] for r in pending.body["items"]]
    assert api.get("/v1/offices/TBK/refunds?status=LOST", token=token).status == 422
    assert api.get("/v1/offices/TBK/refunds", token=person["token"]).status == 403
    assert api.post(f"/v1/offices/TBK/refunds/{code}/payout", {"bank_reference": "TRF-1"},
                    token=person["token"]).status == 403
    bad = api.post(f"/v1/offices/TBK/refunds/{code}/payout", {"bank_reference": "not valid"}, token=token)
    assert bad.status == 422 and payment_db["refund_payouts"].count_documents({"billing_code": code}) == 0
    ref = "TRF-" + uuid.uuid4().hex[:10]
    paid = api.post(f"/v1/offices/TBK/refunds/{code}/payout", {"bank_reference": ref}, token=token)
    assert paid.status == 200, paid.body
    assert paid.body["status"] == "PAID_OUT" and paid.body["payout_reference"] == ref
    repeat = api.post(f"/v1/offices/TBK/refunds/{code}/payout", {"bank_reference": ref}, token=token)
    assert repeat.status == 200 and repeat.body["paid_out_at"] == paid.body["paid_out_at"]
    other = api.post(f"/v1/offices/TBK/refunds/{code}/payout", {"bank_reference": "TRF-OTHER"}, token=token)
    assert other.status == 409 and other.body["type"].endswith("/refund-already-paid-out")
    audit = payment_db["refund_payouts"].find_one({"_id": f"refund:{code}:paid_out"})
    assert audit["bank_reference"] == ref and audit["actor"] and audit["actor"] != "unknown"
    [after] = billing_of(api, person, app_id)["refunds"]
    assert after["status"] == "PAID_OUT" and after["paid_out_at"] == paid.body["paid_out_at"]
    done = api.get("/v1/offices/TBK/refunds?status=PAID_OUT", token=token)
    assert code in [r["billing_code"] for r in done.body["items"]]
    assert code not in [r["billing_code"] for r in api.get("/v1/offices/TBK/refunds?status=PENDING",
                                                            token=token).body["items"]]
    assert metric(stack, "payment", "payment_refunds_total", reason="OFFICE_CANCELLED", status="PAID_OUT") == paid_before + 1
    assert metric(stack, "payment", "payment_billings_paid_total", office_id="TBK", passport_type="ELECTRONIC") >= 1


def test_applicant_cancellation_is_not_refunded_and_overpayments_are_paid_out_by_cli(api, stack, payment_db):
    person, app_id, billing = booked(api)
    code = billing["billing_code"]
    assert notify(api, payment_for(billing)).status == 200
    appointment_id = payment_db["billings"].find_one({"_id": code})["appointment_id"]
    raw = publish_cancellation(stack, app_id, appointment_id, "APPLICANT")
    assert handled(payment_db, raw)
    assert payment_db["cancellations"].find_one({"_id": appointment_id})["reason"] == "APPLICANT"
    assert payment_db["refunds"].count_documents({"billing_code": code}) == 0
    assert billing_of(api, person, app_id)["refunds"] == []

    # An overpayment of the same billing is refunded; the CLI records its payout.
    extra = payment_for(billing)
    assert notify(api, extra).body["outcome"] == "OVERPAYMENT"
    [owed] = billing_of(api, person, app_id)["refunds"]
    assert (owed["reason"], owed["status"]) == ("OVERPAYMENT", "PENDING")
    cli = [sys.executable, "-m", "services.payment.refunds"]
    done = subprocess.run(cli + ["mark-paid", code, "--bank-reference", "TRF-CLI-1"], env=stack.env(), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "PAID_OUT"
    [owed] = billing_of(api, person, app_id)["refunds"]
    assert owed["status"] == "PAID_OUT" and owed["paid_out_at"]
    assert payment_db["refund_payouts"].find_one({"_id": f"{extra['bank_reference']}:paid_out"})["actor"].startswith("cli:")
    unknown = subprocess.run(cli + ["mark-paid", billing_codes.new_code(), "--bank-reference", "TRF-CLI-2"],
                             env=stack.env(), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "refund-not-found" in unknown.stderr
