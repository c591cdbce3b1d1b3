"""Notifications end to end: real Kafka, FerretDB, SMTP (aiosmtpd maildir sink) and HTTP (SMS sink)."""
from __future__ import annotations

import json
import mailbox
import re
import time
import urllib.request
from email.header import decode_header, make_header

from kafka import KafkaConsumer, KafkaProducer
import pymongo

from passport.v1 import booking_pb2  # noqa: F401 (registers AppointmentBooked for decode)
from servicekit.events import decode


def eventually(check, timeout_s: float = 90, interval_s: float = 0.5):
    """Poll until `check()` returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s}s; last value {value!r}")
        time.sleep(interval_s)


def mails_to(stack, address: str) -> list[dict]:
    box = mailbox.Maildir(str(stack.run_dir / "mail"), create=True)
    out = []
    for msg in box:
        if msg["To"] == address:
            out.append({"subject": str(make_header(decode_header(msg["Subject"]))),
                        "body": msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8"),
                        "message_id": msg["Message-ID"]})
    return out


def sms_to(stack, phone: str) -> list[dict]:
    path = stack.run_dir / "sms.jsonl"
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["to"] == phone]


def metric(stack, name: str, **labels) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.metrics('notification')}/metrics",
                                  timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def book(api, person) -> str:
    created = api.create_application(person["token"])
    assert created.status == 201, created.body
    app_id = created.body["application_id"]
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=3)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    return app_id


def delivery_log(api, person, app_id, restarting: bool = False) -> list[dict]:
    """The applicant's delivery log; while a service is being restarted on purpose, its 503
    (with Retry-After) is an answer to wait through, not a failure."""
    reply = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"])
    if restarting and reply.status == 503:
        return []
    assert reply.status == 200, reply.body
    return reply.body["items"]


def all_sent(api, person, app_id, expected: int = 2):
    items = delivery_log(api, person, app_id)
    return items if len(items) == expected and all(i["status"] == "SENT" and i.get("sent_at") for i in items) \
        else None


def test_booking_sends_email_and_sms_in_indonesian_by_default(stack, api):
    person = api.register_applicant()
    app_id = book(api, person)
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


def test_english_after_preference_change(stack, api):
    person = api.register_applicant()
    reply = api.put("/v1/me/notification-preferences", {"language": "en", "channels": ["EMAIL", "SMS"]},
                    token=person["token"])
    assert reply.status == 200 and reply.body["language"] == "en", reply.body
    app_id = book(api, person)
    items = eventually(lambda: all_sent(api, person, app_id))
    mails, texts = mails_to(stack, person["email"]), sms_to(stack, person["phone"])
    assert len(mails) == 1 and "Your seat is held" in mails[0]["subject"]
    assert len(texts) == 1 and texts[0]["message"].startswith("Passport:")
    assert all(i["language"] == "en" for i in items)


def _booked_envelope(stack, app_id: str) -> bytes:
    consumer = KafkaConsumer("booking.events", bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}",
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
    app_id = book(api, person)
    eventually(lambda: all_sent(api, person, app_id))
    mails_before, sms_before = mails_to(stack, person["email"]), sms_to(stack, person["phone"])
    raw = _booked_envelope(stack, app_id)
    duplicates = metric(stack, "consumer_events_total", group="notification", event_type="AppointmentBooked",
                        outcome="duplicate")
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}")
    producer.send("booking.events", key=app_id.encode(), value=raw).get(timeout=10)
    producer.close()
    # The consumer has seen the copy once its duplicate counter moves.
    eventually(lambda: metric(stack, "consumer_events_total", group="notification", event_type="AppointmentBooked",
                              outcome="duplicate") > duplicates)
    # Nothing new was recorded for delivery, so nothing new can be sent.
    assert len(delivery_log(api, person, app_id)) == 2
    assert len(mails_to(stack, person["email"])) == len(mails_before) == 1
    assert len(sms_to(stack, person["phone"])) == len(sms_before) == 1


def test_replaying_every_topic_from_offset_0_sends_nothing_new(stack, api):
    """Every event the notification service ever consumed, produced again (a consumer-group reset,
    a mirror replay or a broker failover look like this): no mail, no SMS, no log entry is new."""
    person = api.register_applicant()
    app_id = book(api, person)
    eventually(lambda: all_sent(api, person, app_id))
    messages = pymongo.MongoClient(stack.env()["MONGO_URI"])["passport_notification"]["messages"]
    recorded = messages.count_documents({})
    mails, sms = len(mails_to(stack, person["email"])), len(sms_to(stack, person["phone"]))
    topics = ["booking.events", "payment.events", "biometrics.events", "complaint.events"]
    source = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}", group_id=None,
                           auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    source.subscribe([t for t in topics if t in source.topics()])
    replay = [(m.topic, m.key, m.value) for m in source if m.value and not m.value.startswith(b"\x08\x96")]
    source.close()
    assert any(topic == "booking.events" for topic, _k, _v in replay)
    handled_before = metric(stack, "consumer_events_total", group="notification")
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{stack.ports.kafka}")
    for topic, key, value in replay:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()
    # every copy has been looked at once the group's counter has moved by the number replayed
    eventually(lambda: metric(stack, "consumer_events_total", group="notification") - handled_before >= len(replay),
               timeout_s=180)
    time.sleep(3)  # a send that the replay wrongly caused would be on its way by now
    assert messages.count_documents({}) == recorded  # no message to anyone was recorded again
    assert len(mails_to(stack, person["email"])) == mails and len(sms_to(stack, person["phone"])) == sms
    assert len(delivery_log(api, person, app_id)) == 2


def test_sms_outage_delays_but_does_not_lose_messages(stack, api):
    person = api.register_applicant()
    failed_before = metric(stack, "notification_messages_total", channel="SMS", outcome="failed_attempt")
    stack.stop("sms-sink")
    try:
        app_id = book(api, person)
        # Email is not held up by the SMS outage...
        eventually(lambda: len(mails_to(stack, person["email"])) == 1)
        # ...while SMS attempts fail and are retried later.
        eventually(lambda: metric(stack, "notification_messages_total", channel="SMS",
                                  outcome="failed_attempt") >= failed_before + 1)
        items = delivery_log(api, person, app_id)
        assert {i["status"] for i in items if i["channel"] == "SMS"} == {"RECORDED"}
        assert {i["status"] for i in items if i["channel"] == "EMAIL"} == {"SENT"}
        assert sms_to(stack, person["phone"]) == []
    finally:
        stack.start_sinks()
    eventually(lambda: all_sent(api, person, app_id))
    assert len(sms_to(stack, person["phone"])) == 1
    assert metric(stack, "notification_retries_total", channel="SMS") >= 1
