"""Events: redelivery is harmless, and bookings made while Kafka is down are published after."""
from __future__ import annotations

import re

from kafka import KafkaConsumer, KafkaProducer

from servicekit.events import decode
from tests.integration.helpers import applicant_with_application, metric, wait_for


def book(api, skip_days=4):
    person, app_id = applicant_with_application(api)
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=skip_days)
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert reply.status == 201, reply.body
    return person, app_id


def notifications(api, person, app_id):
    return api.get(f"/v1/applications/{app_id}/notifications", token=person["token"]).body["items"]


def test_redelivered_event_produces_no_second_notification(api, stack):
    person, app_id = book(api)
    # one booking message per channel: it carries the billing code (BillingIssued tells nobody)
    first = wait_for(lambda: len(notifications(api, person, app_id)) >= 2 and notifications(api, person, app_id))
    assert first, "messages were recorded"
    consumer = KafkaConsumer("booking.events", **stack.kafka_config(),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    raw = [m.value for m in consumer if m.key == app_id.encode()]
    consumer.close()
    booked = [v for v in raw if decode(v)[0].event_type == "AppointmentBooked"]
    assert len(booked) == 1, "exactly one AppointmentBooked was published"
    duplicates_before = metric(stack, "notification", "consumer_events_total", outcome="duplicate")
    producer = KafkaProducer(**stack.kafka_config("booking"))
    for _ in range(3):
        producer.send("booking.events", key=app_id.encode(), value=booked[0]).get(timeout=10)
    producer.close()
    assert wait_for(lambda: metric(stack, "notification", "consumer_events_total", outcome="duplicate")
                    >= duplicates_before + 3), "the consumer saw the redelivered events"
    def messages(items):  # delivery status moves on (RECORDED -> SENT); which messages exist must not
        return sorted((m["event_type"], m["channel"], m["created_at"]) for m in items)

    assert messages(notifications(api, person, app_id)) == messages(first)


def test_poison_message_goes_to_the_dead_letter_topic(api, stack):
    producer = KafkaProducer(**stack.kafka_config("booking"))
    producer.send("booking.events", key=b"poison", value=b"\x08\x96\x01 definitely not an envelope").get(timeout=10)
    producer.close()
    consumer = KafkaConsumer("notification.dlq", **stack.kafka_config(),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)

    def dead_lettered():
        return [m for m in consumer if m.value.endswith(b"definitely not an envelope")]

    assert wait_for(dead_lettered, timeout_s=30)
    consumer.close()
    book(api)  # and the consumer keeps going: the next booking is still told
    person, app_id = book(api)
    assert wait_for(lambda: len(notifications(api, person, app_id)) >= 2)


def test_bookings_while_kafka_is_down_are_published_once_when_it_is_back(api, stack):
    """Kafka down, then the processes holding the unpublished events killed (SIGKILL, as a crash)
    and started again: the events are in the store, not in memory, so they all arrive once Kafka is
    back."""
    producers = [("booking", r) for r in range(stack.ports.booking_replicas)] + [("payment", 0)]
    stack.stop("kafka", timeout_s=30)
    try:
        booked = [book(api, skip_days=5) for _ in range(3)]  # still accepted: the outbox holds the events
        assert all(notifications(api, p, a) == [] for p, a in booked)
        for service, replica in producers:
            stack.kill(service if replica == 0 else f"{service}-{replica}")
    finally:
        stack.start_kafka()
        for service, replica in producers:
            stack.start_service(service, replica)
        stack.wait_healthy()

    def reachable() -> bool:  # every gateway worker's channels reconnect within their backoff (<= 3 s)
        person, app_id = booked[0]
        return all(api.get(path, token=person["token"]).status == 200 for _ in range(4)
                   for path in (f"/v1/applications/{app_id}", f"/v1/applications/{app_id}/billing"))
    assert wait_for(reachable, timeout_s=60), "the gateway reaches booking and payment again"
    for person, app_id in booked:
        items = wait_for(lambda: len(notifications(api, person, app_id)) >= 2 and notifications(api, person, app_id),
                         timeout_s=90)
        assert items, "events stored during the outage were delivered after it"
        keys = [(m["event_type"], m["channel"]) for m in items]
        assert len(keys) == len(set(keys)) == 2 and {k[0] for k in keys} == {"AppointmentBooked"}
    consumer = KafkaConsumer("booking.events", **stack.kafka_config(),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    ids = [decode(m.value)[0].event_id for m in consumer
           if m.key and m.key.decode() in {a for _, a in booked} and not re.match(rb"^poison", m.key)]
    consumer.close()
    # Publishing is at-least-once (a send that timed out during the outage may have landed and is
    # re-sent); every event is there, and consumers applied each once (the messages above).
    assert len(set(ids)) == 2 * len(booked), "every stored event was published"
