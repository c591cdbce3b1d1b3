"""The due queues, the collided-claim path, the safety sweep and the keyed delivery log, on an in-memory
store that counts what each query would scan (pure logic: no servers)."""
from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import booking_pb2, common_pb2, envelope_pb2
from services.notification.adapters import queue
from services.notification.entrypoints.events import handlers
from services.notification.usecases.delivery import BatchContacts, Delivery
from services.notification.usecases.messages import Messages
from tests.unit.fakemongo import Collection, Database
from tests.unit.test_notification_delivery import POLICY, T0, FakeClock, FakeContacts, FlakySender


class CountingCollection(Collection):
    """Counts documents a query looks at: all of them, except for a keyed lookup (`_id` equality or an
    `_id: {$in: [...]}` list, both served by the _id index on our FerretDB build)."""

    def __init__(self, name="fake", database=None):
        super().__init__(name, database)
        self.scanned = self.finds = 0

    def find(self, query=None, projection=None):
        self.finds += 1
        keyed = query and set(query) == {"_id"} and (not isinstance(query["_id"], dict) or set(query["_id"]) == {"$in"})
        if not keyed:
            self.scanned += len(self.docs)
        return super().find(query, projection)

    def delete_many(self, query):
        self.scanned += len(self.docs)
        return super().delete_many(query)

    def find_one(self, query=None, projection=None):
        found = super().find(query, projection) if query and set(query) == {"_id"} else self.find(query)
        return found[0] if found else None


class CountingDb(Database):
    def __missing__(self, name):
        self[name] = CountingCollection(name, self)
        return self[name]

    def scanned(self) -> dict[str, int]:
        return {name: c.scanned for name, c in self.items() if c.scanned}

    def reset(self) -> None:
        for c in self.values():
            c.scanned = c.finds = 0


class CountingContacts(FakeContacts):
    def __init__(self):
        self.asked = 0

    def address_of(self, account_id, channel):
        self.asked += 1
        return super().address_of(account_id, channel)


def message(i: int, channel: str = "SMS", account: str = "acc-1") -> dict:
    return {"_id": f"e{i}:{channel}", "event_id": f"e{i}", "event_type": "BillingIssued", "account_id": account,
            "application_id": f"app-{i}", "channel": channel, "subject": "", "body": f"hello {i}",
            "created_at": T0, "event_at": T0}


def record(db, m: dict) -> None:
    """As Messages._record: the queue entry first, then the message."""
    queue.enqueue(db, m, T0)
    db["messages"].insert_one(m)


def setup(sender=None, batch=100):
    db, sender = CountingDb(), sender or FlakySender(failures=0)
    d = Delivery(db, FakeClock(), {"SMS": sender}, CountingContacts(), POLICY, batch=batch, rand=lambda: 1.0)
    return db, d, sender


def test_a_poll_scans_the_open_messages_only_never_the_delivered_history():
    costs = []
    for history in (5, 500):
        db, d, sender = setup(batch=1000)
        for i in range(history):
            record(db, message(i))
        assert d.cycle("SMS") == history and len(sender.sent) == history and db["due_sms"].docs == {}
        record(db, message(10_000))
        db.reset()
        assert d.cycle("SMS") == 1
        costs.append(db.scanned())
    # One new message after 5 or after 500 delivered ones: the poll looks at the one queue entry, then
    # at the open entries of its application (event order), nothing of `messages` or `deliveries`;
    # the done entry leaves in one delete (the third look).
    assert costs[0] == costs[1] == {"due_sms": 3}


def test_contacts_are_asked_once_per_account_per_batch():
    db, d, sender = setup()
    for i in range(30):
        record(db, message(i, account=f"acc-{i % 3}"))
    d.cycle("SMS")
    assert len(sender.sent) == 30 and d.contacts.asked == 3
    contacts = BatchContacts(FakeContacts())
    assert contacts.address_of("acc-1", "EMAIL") == "applicant@example.id"


def test_a_crash_after_sent_before_the_queue_entry_left_sends_nothing_again():
    db, d, sender = setup()
    m = message(1)
    record(db, m)
    d.cycle("SMS")
    queue.enqueue(db, m, T0)  # the entry is back as if its removal had not happened
    assert d.cycle("SMS") == 0
    assert len(sender.sent) == 1 and db["due_sms"].docs == {}


def test_a_crash_mid_send_resends_once_after_the_attempt_went_stale():
    db, d, sender = setup()
    m = message(1)
    record(db, m)
    # A worker claimed attempt 1 and died before recording its outcome.
    db["deliveries"].insert_one({"_id": "e1:SMS:attempt:1", "message_id": "e1:SMS", "kind": "attempt", "n": 1,
                                 "at": T0})
    assert d.cycle("SMS") == 0 and sender.sent == []
    d.clock.t = T0 + dt.timedelta(seconds=POLICY.stale_attempt_s)
    assert d.cycle("SMS") == 1
    assert [s[2] for s in sender.sent] == ["e1:SMS"] and db["deliveries"].docs["e1:SMS:sent"]["n"] == 2
    assert db["due_sms"].docs == {}


def test_a_retry_hint_lost_to_a_parallel_update_costs_a_re_check_not_a_decision():
    db, d, sender = setup(FlakySender(failures=2))
    record(db, message(1))
    d.cycle("SMS")
    d.clock.t += dt.timedelta(seconds=5)
    d.cycle("SMS")
    assert db["due_sms"].docs["e1:SMS"]["failed"] == 2
    db["due_sms"].docs["e1:SMS"]["failed"] = 0  # as if the last two hint updates were lost
    d.clock.t += dt.timedelta(seconds=5)
    assert d.cycle("SMS") == 1
    assert len(sender.sent) == 1 and db["deliveries"].docs["e1:SMS:sent"]["n"] == 3


def test_a_message_whose_queue_entry_was_lost_is_delivered_after_the_sweep():
    db, d, sender = setup()
    done, lost = message(1), message(2)
    record(db, done)
    d.cycle("SMS")
    record(db, lost)
    del db["due_sms"].docs[lost["_id"]]  # lost: nothing would ever send it
    assert d.cycle("SMS") == 0
    assert d.sweep() == 1                # the open one comes back, the delivered one does not
    assert d.cycle("SMS") == 1
    assert [s[2] for s in sender.sent] == ["e1:SMS", "e2:SMS"]
    assert d.sweep() == 0


def _booked(event_id: str, app_id: str) -> tuple:
    ts = Timestamp()
    ts.FromDatetime(dt.datetime(2026, 3, 2, 3, 0))
    payload = booking_pb2.AppointmentBooked(
        application_id=app_id, account_id="acc-1", office_id="TBK", appointment_id=f"apt-{event_id}",
        slot_id="s1", date="2026-03-10", start_time="09:00", lane="REGULAR", pay_before="2026-03-02T11:00:00+07:00",
        billing_code="800000000000001", amount=common_pb2.Money(amount=950000, currency="IDR"))
    return envelope_pb2.EventEnvelope(event_id=event_id, event_type="AppointmentBooked", occurred_at=ts), payload


def test_delivery_log_is_read_by_keyed_probes_and_shows_each_message_once():
    db = CountingDb()
    messages = Messages(db, FakeClock())
    handle = handlers(messages)["AppointmentBooked"]
    for i in range(50):  # other applications' history
        handle(*_booked(f"other-{i}", f"app-other-{i}"))
    envelope, payload = _booked("e1", "app-1")
    handle(envelope, payload)
    handle(envelope, payload)  # re-handled after a crash: appended twice, shown once
    handle(*_booked("e2", "app-1"))
    assert [k for k in db["application_log"].docs if k.startswith("app-1:")] == ["app-1:1", "app-1:2", "app-1:3"]
    d = Delivery(db, FakeClock(), {"SMS": FlakySender(failures=0), "EMAIL": FlakySender(failures=0)},
                 FakeContacts(), POLICY)
    d.cycle("SMS")
    db.reset()
    items = messages.for_application("app-1")
    assert db.scanned() == {}  # no scan of messages, deliveries or the log: `_id` lookups only
    assert db["deliveries"].finds == 1  # every message's closing records in one read (one per message cost 4)
    assert [(i["_id"], i["status"]) for i in items] == [
        ("e1:SMS", "SENT"), ("e1:EMAIL", "RECORDED"), ("e2:SMS", "SENT"), ("e2:EMAIL", "RECORDED")]
    assert messages.for_application("app-unknown") == []
