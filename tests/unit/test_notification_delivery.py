"""Retry/backoff policy and the delivery state machine, on fakes (no servers)."""
from __future__ import annotations

import datetime as dt

import pytest

from services.notification.adapters import queue
from services.notification.adapters.channels import SendError, mask_recipient
from services.notification.domain.delivery import RetryPolicy, plan, status_of
from tests.unit.fakemongo import Database as FakeDb

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)
POLICY = RetryPolicy(base_s=1, factor=2, max_delay_s=60, max_attempts=4, jitter=0.5, stale_attempt_s=30)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_backoff_is_exponential_capped_and_jittered_within_bounds():
    assert [POLICY.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4, 7, 8)] == [1, 2, 4, 8, 60, 60]
    assert [POLICY.delay(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [0.5, 1, 2]
    import random
    rng = random.Random(7)
    for n in range(1, 12):
        d = POLICY.delay(n, rand=rng.random)
        cap = min(60, 2 ** (n - 1))
        assert cap * 0.5 <= d <= cap


def test_first_send_then_done_after_sent():
    assert plan([], at(0), POLICY).action == "send"
    assert plan([], at(0), POLICY).attempt == 1
    recs = [{"kind": "attempt", "n": 1, "at": at(0)}, {"kind": "sent", "n": 1, "at": at(1)}]
    assert plan(recs, at(2), POLICY).action == "done"
    assert status_of(recs) == ("SENT", at(1))


def test_failed_attempt_waits_until_due_then_sends_next():
    recs = [{"kind": "attempt", "n": 1, "at": at(0)},
            {"kind": "failed", "n": 1, "at": at(0), "error": "ConnectionRefusedError", "permanent": False,
             "next_at": at(5)}]
    p = plan(recs, at(4), POLICY)
    assert (p.action, p.due_at) == ("wait", at(5))
    p = plan(recs, at(5), POLICY)
    assert (p.action, p.attempt) == ("send", 2)
    assert status_of(recs) == ("RECORDED", None)


def test_in_flight_attempt_waits_then_counts_as_unknown_outcome():
    recs = [{"kind": "attempt", "n": 1, "at": at(0)}]
    p = plan(recs, at(10), POLICY)
    assert (p.action, p.due_at) == ("wait", at(30))
    p = plan(recs, at(31), POLICY)  # the worker died mid-send: one more try (the duplicate window)
    assert (p.action, p.attempt) == ("send", 2)


def test_gives_up_after_max_attempts_or_permanent_error():
    recs = []
    for n in range(1, 5):
        recs += [{"kind": "attempt", "n": n, "at": at(n)},
                 {"kind": "failed", "n": n, "at": at(n), "error": "timeout", "permanent": False, "next_at": at(n)}]
    p = plan(recs, at(100), POLICY)
    assert (p.action, p.attempt) == ("dead", 4) and "4 attempts" in p.reason
    recs = [{"kind": "attempt", "n": 1, "at": at(0)},
            {"kind": "failed", "n": 1, "at": at(0), "error": "recipient refused", "permanent": True, "next_at": at(0)}]
    assert plan(recs, at(0), POLICY).action == "dead"
    assert status_of(recs + [{"kind": "dead", "n": 1, "at": at(0)}]) == ("FAILED", None)


class FakeClock:
    def __init__(self):
        self.t = T0

    def now(self):
        return self.t


class FlakySender:
    def __init__(self, failures: int, permanent: bool = False):
        self.failures, self.permanent, self.sent = failures, permanent, []

    def send(self, to, rendered, message_id):
        if self.failures:
            self.failures -= 1
            raise SendError("ConnectionRefusedError", permanent=self.permanent)
        self.sent.append((to, rendered.body, message_id))


class FakeContacts:
    def address_of(self, account_id, channel):
        return "applicant@example.id" if channel == "EMAIL" else "081234567890"


def _delivery(sender):
    from services.notification.usecases.delivery import Delivery
    db = FakeDb()
    d = Delivery(db, FakeClock(), {"SMS": sender}, FakeContacts(), POLICY, rand=lambda: 1.0)
    msg = {"_id": "e1:SMS", "event_id": "e1", "event_type": "BillingIssued", "account_id": "acc-1",
           "application_id": "app-1", "channel": "SMS", "subject": "", "body": "hello", "event_at": T0}
    db["messages"].insert_one(msg)
    queue.enqueue(db, msg, T0)
    return d, db, msg


def _run_until_settled(d, db, msg, steps=20):
    for _ in range(steps):
        d.cycle("SMS")
        d.clock.t += dt.timedelta(seconds=61)


def test_worker_retries_then_sends_exactly_once():
    sender = FlakySender(failures=2)
    d, db, msg = _delivery(sender)
    _run_until_settled(d, db, msg)
    assert sender.sent == [("081234567890", "hello", "e1:SMS")]
    keys = set(db["deliveries"].docs)
    assert {"e1:SMS:attempt:1", "e1:SMS:failed:1", "e1:SMS:attempt:3", "e1:SMS:sent"} <= keys
    assert "e1:SMS:dead" not in keys and "e1:SMS" not in db["due_sms"].docs  # done: out of the queue


def test_worker_dead_letters_with_notification_failed_event():
    sender = FlakySender(failures=100)
    d, db, msg = _delivery(sender)
    _run_until_settled(d, db, msg)
    dead = db["deliveries"].docs["e1:SMS:dead"]
    assert sender.sent == [] and dead["n"] == POLICY.max_attempts and db["due_sms"].docs == {}
    assert "deliveries:e1:SMS:dead" in db["outbox_intents"].docs  # the relay will publish it
    assert dead["_outbox"][0]["event_type"] == "NotificationFailed"
    assert dead["_outbox"][0]["topic"] == "notification.events"


def test_a_lost_claim_means_no_send():
    sender = FlakySender(failures=0)
    d, db, msg = _delivery(sender)
    db["deliveries"].insert_one({"_id": "e1:SMS:attempt:1", "message_id": "e1:SMS", "kind": "attempt", "n": 1,
                                 "at": T0})
    entry = db["due_sms"].docs["e1:SMS"]
    assert d.deliver(entry).collided  # another worker won attempt 1
    assert d.cycle("SMS") == 0        # ...and is sending it: wait until that attempt could be stale
    assert sender.sent == [] and db["due_sms"].docs["e1:SMS"]["due_at"] == T0 + dt.timedelta(seconds=30)


@pytest.mark.parametrize("to,masked", [("budi.santoso@example.id", "b***@example.id"),
                                       ("081234567890", "0812****7890")])
def test_recipients_are_masked(to, masked):
    assert mask_recipient(to) == masked
