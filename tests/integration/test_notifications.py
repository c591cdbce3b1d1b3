"""Notifications end to end: real Kafka, FerretDB, SMTP (aiosmtpd maildir sink) and HTTP (SMS sink)."""
from __future__ import annotations

import re
import time

from kafka import KafkaConsumer, KafkaProducer
import pymongo

from passport.v1 import booking_pb2  # noqa: F401 (registers AppointmentBooked for decode)
from servicekit.events import decode
from tests.integration.helpers import book_for, delivery_log, eventually, mails_to, metric, sms_to


def all_sent(api, person, app_id, expected: int = 2):
    items = delivery_log(api, person, app_id)
    return items if len(items) == expected and all(i["status"] == "SENT" and i.get("sent_at") for i in items) \
        else None


def test_booking_sends_email_and_sms_in_indonesian_by_default(stack, api):
    person = api.register_applicant()
    app_id = book_for(api, person)
    items = eventually(lambda: all_sent(api, person, app_id))
    # One booking message per channel carries the billing code; BillingIssued itself tells nothing (issue 22).
    assert {(i["event_type"], i["channel"]) for i in items} == {("AppointmentBooked", "EMAIL"),
                                                                ("AppointmentBooked", "SMS")}
    assert all(i["language"] == "id" for i in items)
    mails, texts = mails_to(stack, person["email"]), sms_to(stack, person["phone"])
    assert len(mails) == 1 and mails[0]["subject"].startswith("Kursi Anda ditahan")
    code = re.search(r"Kode billing: (\d{15})", mails[0]["body"]).group(1)
    assert app_id in mails[0]["body"] and "Rp 950.000" in mails[0]["body"] and "WIB" in mails[0]["body"]
    assert len(texts) == 1 and texts[0]["message"].startswith("Paspor:") and "WIB" in texts[0]["message"]
    assert code in texts[0]["message"]
    # the booking proof link (issue 16): the web app's proof page with the QR code the counter scans
    proof = f"{stack.web_url}/applications/{app_id}/proof"
    assert proof in mails[0]["body"] and proof in texts[0]["message"]


def test_english_after_preference_change(stack, api):
    person = api.register_applicant()
    reply = api.put("/v1/me/notification-preferences", {"language": "en", "channels": ["EMAIL", "SMS"]},
                    token=person["token"])
    assert reply.status == 200 and reply.body["language"] == "en", reply.body
    app_id = book_for(api, person)
    items = eventually(lambda: all_sent(api, person, app_id))
    mails, texts = mails_to(stack, person["email"]), sms_to(stack, person["phone"])
    assert len(mails) == 1 and "Your seat is held" in mails[0]["subject"]
    assert len(texts) == 1 and texts[0]["message"].startswith("Passport:")
    assert all(i["language"] == "en" for i in items)
    proof = f"{stack.web_url}/applications/{app_id}/proof"
    assert f"Your booking proof (show its QR code at the counter): {proof}" in mails[0]["body"]
    assert texts[0]["message"].endswith(f"Proof: {proof}")


def _booked_envelope(stack, app_id: str) -> bytes:
    consumer = KafkaConsumer("booking.events", **stack.kafka_config(),
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        for msg in consumer:
            if msg.key != app_id.encode():  # other tests put poison messages on the topic too
                continue
            envelope, payload = decode(msg.value)
            if envelope.event_type == "AppointmentBooked" and payload.application_id == app_id:
                return msg.value
    finally:
        consumer.close()
    raise AssertionError("AppointmentBooked not found on booking.events")


def test_redelivered_event_sends_nothing_new(stack, api):
    person = api.register_applicant()
    app_id = book_for(api, person)
    eventually(lambda: all_sent(api, person, app_id))
    mails_before, sms_before = mails_to(stack, person["email"]), sms_to(stack, person["phone"])
    raw = _booked_envelope(stack, app_id)
    duplicates = metric(stack, "notification", "consumer_events_total", group="notification", event_type="AppointmentBooked",
                        outcome="duplicate")
    producer = KafkaProducer(**stack.kafka_config("booking"))
    producer.send("booking.events", key=app_id.encode(), value=raw).get(timeout=10)
    producer.close()
    # The consumer has seen the copy once its duplicate counter moves.
    eventually(lambda: metric(stack, "notification", "consumer_events_total", group="notification", event_type="AppointmentBooked",
                              outcome="duplicate") > duplicates)
    # Nothing new was recorded for delivery, so nothing new can be sent.
    assert len(delivery_log(api, person, app_id)) == 2
    assert len(mails_to(stack, person["email"])) == len(mails_before) == 1
    assert len(sms_to(stack, person["phone"])) == len(sms_before) == 1


def test_replaying_every_topic_from_offset_0_sends_nothing_new(stack, api):
    """Every event the notification service ever consumed, produced again (a consumer-group reset,
    a mirror replay or a broker failover look like this): no mail, no SMS, no log entry is new."""
    person = api.register_applicant()
    app_id = book_for(api, person)
    eventually(lambda: all_sent(api, person, app_id))
    messages = pymongo.MongoClient(stack.env()["MONGO_URI"])["passport_notification"]["messages"]
    recorded = messages.count_documents({})
    mails, sms = len(mails_to(stack, person["email"])), len(sms_to(stack, person["phone"]))
    topics = ["booking.events", "payment.events", "biometrics.events", "complaint.events"]
    source = KafkaConsumer(**stack.kafka_config(), group_id=None,
                           auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    source.subscribe([t for t in topics if t in source.topics()])
    replay = [(m.topic, m.key, m.value) for m in source if m.value and not m.value.startswith(b"\x08\x96")]
    source.close()
    assert any(topic == "booking.events" for topic, _k, _v in replay)
    handled_before = metric(stack, "notification", "consumer_events_total", group="notification")
    producer = KafkaProducer(**stack.kafka_config("admin"))  # a replay across topics: the operator's tool
    for topic, key, value in replay:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()
    # every copy has been looked at once the group's counter has moved by the number replayed
    eventually(lambda: metric(stack, "notification", "consumer_events_total", group="notification") - handled_before >= len(replay),
               timeout_s=180)
    time.sleep(3)  # a send that the replay wrongly caused would be on its way by now
    assert messages.count_documents({}) == recorded  # no message to anyone was recorded again
    assert len(mails_to(stack, person["email"])) == mails and len(sms_to(stack, person["phone"])) == sms
    assert len(delivery_log(api, person, app_id)) == 2


def test_sms_outage_delays_but_does_not_lose_messages(stack, api):
    person = api.register_applicant()
    failed_before = metric(stack, "notification", "notification_messages_total", channel="SMS", outcome="failed_attempt")
    stack.stop("sms-sink")
    try:
        app_id = book_for(api, person)
        # Email is not held up by the SMS outage...
        eventually(lambda: len(mails_to(stack, person["email"])) == 1)
        # ...while SMS attempts fail and are retried later.
        eventually(lambda: metric(stack, "notification", "notification_messages_total", channel="SMS",
                                  outcome="failed_attempt") >= failed_before + 1)
        items = delivery_log(api, person, app_id)
        assert {i["status"] for i in items if i["channel"] == "SMS"} == {"RECORDED"}
        assert {i["status"] for i in items if i["channel"] == "EMAIL"} == {"SENT"}
        assert sms_to(stack, person["phone"]) == []
    finally:
        stack.start_sinks()
    eventually(lambda: all_sent(api, person, app_id))
    assert len(sms_to(stack, person["phone"])) == 1
    assert metric(stack, "notification", "notification_retries_total", channel="SMS") >= 1
