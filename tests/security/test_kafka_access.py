"""Kafka asks who is writing: a client without a user, or with a wrong password, gets no connection;
a service's user writes only its own topic and reads only what it consumes, with its own group
(SASL/SCRAM over TLS and the broker's ACLs, servicekit/kafka_access.py). Nothing is written, nothing
is consumed, the application stays unpaid."""
from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import (GroupAuthorizationFailedError, KafkaConnectionError, KafkaTimeoutError,
                          TopicAuthorizationFailedError)

from tests.integration.helpers import booked_applicant, forged_settlement, metric, wait_for

REFUSED = (KafkaTimeoutError, KafkaConnectionError)
QUICK = {"bootstrap_timeout_ms": 6000, "max_block_ms": 6000, "request_timeout_ms": 6000}
QUICK_READ = {"bootstrap_timeout_ms": 6000, "request_timeout_ms": 12000}


def on_topic(stack, topic: str, event) -> bool:
    """Whether this event is on `topic`, read from the beginning by the admin (the topic's own
    producer keeps writing meanwhile, so its offsets say nothing)."""
    raw = event.SerializeToString()
    return any(m.value == raw for m in read_as(stack, "admin", topic))


def failed_authentications(stack) -> int:
    return (stack.run_dir / "logs" / "kafka.log").read_text(errors="replace").count(
        "Authentication failed during authentication due to invalid credentials")


@pytest.mark.parametrize("transport", [
    {"security_protocol": "PLAINTEXT"},  # an attacker on the network, as before this control
    {"security_protocol": "SSL"},        # TLS, but no user
])
def test_a_client_without_credentials_gets_no_connection(api, stack, transport):
    person, app_id, event = forged_settlement(api, "FORGED-KAFKA")
    options = {**transport, "ssl_cafile": stack.kafka_config()["ssl_cafile"]} if transport["security_protocol"] == "SSL" else transport
    with pytest.raises(REFUSED):
        producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}", **options, **QUICK)
        producer.send("payment.events", key=app_id.encode(), value=event.SerializeToString()).get(timeout=6)
    with pytest.raises(REFUSED):
        reader = KafkaConsumer("booking.events", bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}", **options,
                               bootstrap_timeout_ms=6000, consumer_timeout_ms=3000, auto_offset_reset="earliest")
        list(reader)
    assert not on_topic(stack, "payment.events", event), "nothing was written"
    assert api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] not in ("PAID", "CONFIRMED")


def test_a_wrong_password_is_refused(api, stack):
    person, app_id, event = forged_settlement(api, "FORGED-KAFKA")
    failures = failed_authentications(stack)
    with pytest.raises(REFUSED):
        producer = KafkaProducer(**{**stack.kafka_config("payment"), "sasl_plain_password": "guessed-Passw0rd"}, **QUICK)
        producer.send("payment.events", key=app_id.encode(), value=event.SerializeToString()).get(timeout=6)
    assert not on_topic(stack, "payment.events", event), "nothing was written"
    # the broker says why, for whoever watches its log
    assert wait_for(lambda: failed_authentications(stack) > failures, 10)
    assert api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] not in ("PAID", "CONFIRMED")


def test_a_service_cannot_write_another_services_topic(api, stack):
    """Booking's user (say booking was taken over) writes a PaymentSettled on payment.events:
    the broker refuses it, nothing reaches the topic, nothing is consumed, nothing is paid."""
    person, app_id, event = forged_settlement(api, "FORGED-KAFKA")
    handled = metric(stack, "booking", "consumer_events_total", event_type="PaymentSettled", outcome="handled")
    producer = KafkaProducer(**stack.kafka_config("booking"), **QUICK)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("payment.events", key=app_id.encode(), value=event.SerializeToString()).get(timeout=10)
    finally:
        producer.close(timeout=2)
    assert not on_topic(stack, "payment.events", event), "nothing was written"
    assert metric(stack, "booking", "consumer_events_total", event_type="PaymentSettled", outcome="handled") == handled
    assert api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] not in ("PAID", "CONFIRMED")


def read_as(stack, user: str, topic: str, group: str | None = None) -> list:
    """What `user` gets from `topic` from the beginning (in `group`); a refusal counts as nothing."""
    reader = KafkaConsumer(**stack.kafka_config(user), group_id=group, auto_offset_reset="earliest",
                           enable_auto_commit=False, consumer_timeout_ms=5000, **QUICK_READ)
    try:
        reader.subscribe([topic])
        return list(reader)
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError):
        return []
    finally:
        reader.close(autocommit=False)


def denials(stack, user: str) -> int:
    return (stack.run_dir / "logs" / "kafka.log").read_text(errors="replace").count(f"Principal = User:{user} is Denied")


def test_a_service_reads_only_what_it_consumes_with_its_own_group(api, stack):
    booked_applicant(api)  # booking.events is not empty
    assert read_as(stack, "admin", "booking.events"), "the admin reads the topic"
    # complaint's user consumes nothing: it reads no booking (applicants' bookings are not its business)
    before = denials(stack, "complaint")
    assert read_as(stack, "complaint", "booking.events") == []
    assert wait_for(lambda: denials(stack, "complaint") > before, 10), "the broker denied it"
    # payment reads booking.events, but only in its own group: not in notification's, whose offsets it
    # could otherwise move so that notification would skip events
    before = denials(stack, "payment")
    assert read_as(stack, "payment", "booking.events", group="notification") == []
    assert wait_for(lambda: denials(stack, "payment") > before, 10), "the broker denied it"
