"""Events are believed only from their producer's topic: a PaymentSettled written on another
topic that booking reads is dead-lettered and pays nothing."""
from __future__ import annotations

from kafka import KafkaProducer

from tests.integration.helpers import forged_settlement, metric, wait_for


def test_a_settlement_on_the_wrong_topic_pays_nothing(api, stack):
    person, app_id, forged = forged_settlement(api, "FORGED-1")
    before = metric(stack, "booking", "consumer_events_total", outcome="wrong_topic")
    producer = KafkaProducer(**stack.kafka_config("biometrics-capture"))
    producer.send("biometrics.events", key=app_id.encode(), value=forged.SerializeToString()).get(timeout=10)
    producer.close()

    assert wait_for(lambda: metric(stack, "booking", "consumer_events_total", outcome="wrong_topic") > before, 60)
    status = api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"]
    assert status != "PAID" and status != "CONFIRMED", status
