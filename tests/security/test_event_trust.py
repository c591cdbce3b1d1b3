"""Events are believed only from their producer's topic: a PaymentSettled written on another
topic that booking reads is dead-lettered and pays nothing."""
from __future__ import annotations

from kafka import KafkaProducer

from passport.v1 import common_pb2, payment_pb2
from servicekit.clock import Clock
from servicekit.events import new_event
from tests.integration.helpers import booked_applicant, metric, wait_for


def test_a_settlement_on_the_wrong_topic_pays_nothing(api, stack):
    person, app_id, booking = booked_applicant(api)
    billing = booking["billing"]
    forged = new_event("payment", app_id, payment_pb2.PaymentSettled(
        billing_code=billing["billing_code"], application_id=app_id, account_id=person["account_id"],
        office_id="TBK", amount=common_pb2.Money(amount=billing["amount"], currency="IDR"),
        paid_at="2026-12-03T10:00:00Z", bank_reference="FORGED-1"), Clock())
    before = metric(stack, "booking", "consumer_events_total", outcome="wrong_topic")
    producer = KafkaProducer(**stack.kafka_config("biometrics-capture"))
    producer.send("biometrics.events", key=app_id.encode(), value=forged.SerializeToString()).get(timeout=10)
    producer.close()

    assert wait_for(lambda: metric(stack, "booking", "consumer_events_total", outcome="wrong_topic") > before, 60)
    status = api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"]
    assert status != "PAID" and status != "CONFIRMED", status
