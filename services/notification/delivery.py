"""The delivery worker: sends recorded messages, one worker loop per channel.

Exactly once per (event, channel) as the recipient sees it, across redelivery, restarts and
parallel workers:
1. insert `<mid>:attempt:<n>` (unique _id) BEFORE sending: only the winner of that insert sends;
2. send through the channel's adapter;
3. insert `<mid>:sent` (or `<mid>:failed:<n>` with the time of the next attempt).
A crash between 2 and 3 leaves an attempt without outcome; after `stale_attempt_s` it is treated
as failed and attempt n+1 sends again: at most one duplicate per such crash. That is the window.

A failing channel only delays its own messages (each channel has its own loop, and a message in
backoff is not looked at until it is due); after `max_attempts` (or a permanent error) a
dead-letter record carrying a NotificationFailed event is inserted (outbox, notification.events).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from concurrent.futures import ThreadPoolExecutor
import threading
from typing import Callable, Protocol

import grpc
from prometheus_client import Counter, Histogram

from passport.v1 import accounts_pb2, accounts_pb2_grpc, notification_pb2
from servicekit import grpcclient, log, metrics
from servicekit.clock import Clock
from servicekit.events import TOPICS, new_event
from servicekit.mongo import insert_unique
from servicekit.outbox import with_events

from services.notification.channels import SendError, mask_recipient
from services.notification.policy import RetryPolicy, plan
from services.notification.templates import Rendered

logger = logging.getLogger("notification.delivery")

MESSAGES = Counter("notification_messages_total", "Delivery outcomes by channel.",
                   ["channel", "outcome"])  # outcome: sent | failed_attempt | dead_lettered
DELIVERY_LATENCY = Histogram(
    "notification_event_to_delivery_seconds", "From the event's occurred_at to the provider's acceptance.",
    ["channel"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
RETRIES = Counter("notification_retries_total", "Attempts after the first one, by channel.", ["channel"])
DEAD_LETTERS = Counter("notification_dead_letters_total", "Messages given up on, by channel.", ["channel"])


class Sender(Protocol):
    def send(self, to: str, rendered: Rendered, message_id: str) -> None: ...


class Contacts:
    """Recipients come from the booking service's AccountService.GetContact, never from events."""

    def __init__(self, address: str, deadline_s: float = 3.0):
        self.stub = accounts_pb2_grpc.AccountServiceStub(grpcclient.channel(address, deadline_s))

    def address_of(self, account_id: str, channel: str) -> str:
        try:
            contact = self.stub.GetContact(accounts_pb2.GetAccountRequest(account_id=account_id))
        except grpc.RpcError as exc:
            permanent = exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
            raise SendError(f"contact lookup {exc.code().name}", permanent=permanent) from None
        to = contact.email if channel == "EMAIL" else contact.phone
        if not to:
            raise SendError(f"account has no {channel.lower()} address", permanent=True)
        return to


class Delivery:
    def __init__(self, db, clock: Clock, senders: dict[str, Sender], contacts, policy: RetryPolicy,
                 batch: int = 100, rand: Callable[[], float] = random.random, concurrency: int = 1):
        self.messages, self.deliveries = db["messages"], db["deliveries"]
        self.clock, self.senders, self.contacts, self.policy = clock, senders, contacts, policy
        self.batch, self.rand = batch, rand
        # Sends of one channel overlap (each message is claimed by its own keyed attempt record,
        # so parallel senders never send one message twice); a crash duplicates at most the
        # messages in flight at that moment, each at most once.
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") if concurrency > 1 else None

    # -- one pass over one channel -------------------------------------------------------------
    def cycle(self, channel: str) -> int:
        """Look at due messages of one channel; returns how many were acted on (sent, failed, dead)."""
        now = self.clock.now()
        docs = list(self.messages.find({"open": True, "channel": channel, "due_at": {"$lte": now}})
                    .sort("due_at", 1).limit(self.batch))
        if not docs:
            return 0
        records: dict[str, list[dict]] = {d["_id"]: [] for d in docs}
        for r in self.deliveries.find({"message_id": {"$in": list(records)}}, {"_outbox": 0}):
            records[r["message_id"]].append(r)
        if self.pool is None:
            return sum(self.deliver(doc, records[doc["_id"]]) for doc in docs)
        return sum(self.pool.map(lambda doc: self.deliver(doc, records[doc["_id"]]), docs))

    def deliver(self, doc: dict, records: list[dict]) -> int:
        mid, channel = doc["_id"], doc["channel"]
        now = self.clock.now()
        step = plan(records, now, self.policy)
        if step.action == "done":
            self._hint(mid, {"open": False})
            return 0
        if step.action == "wait":
            self._hint(mid, {"due_at": step.due_at})
            return 0
        if step.action == "dead":
            self._dead_letter(doc, step.attempt, step.reason)
            return 1
        n = step.attempt
        # The claim: inserted before sending; a parallel worker that loses the race skips.
        if not insert_unique(self.deliveries, {"_id": f"{mid}:attempt:{n}", "message_id": mid, "kind": "attempt",
                                               "n": n, "at": now}):
            return 0
        if n > 1:
            RETRIES.labels(channel).inc()
        token = log.correlation_id.set(doc["event_id"])
        try:
            to = self.contacts.address_of(doc["account_id"], channel)
            self.senders[channel].send(to, Rendered(doc.get("subject", ""), doc["body"]), mid)
        except SendError as exc:
            self._failed(doc, n, exc.reason, exc.permanent)
            return 1
        except Exception as exc:  # an adapter bug must not stop the loop; retried like an outage
            logger.exception("unexpected error sending %s", channel)
            self._failed(doc, n, type(exc).__name__, False)
            return 1
        finally:
            log.correlation_id.reset(token)
        sent_at = self.clock.now()
        insert_unique(self.deliveries, {"_id": f"{mid}:sent", "message_id": mid, "kind": "sent", "n": n,
                                        "at": sent_at})
        self._hint(mid, {"open": False})
        MESSAGES.labels(channel, "sent").inc()
        event_at = doc.get("event_at")
        if event_at is not None:
            DELIVERY_LATENCY.labels(channel).observe(max(0.0, (sent_at - event_at).total_seconds()))
        log.event(logger, "message sent", channel=channel, event_type=doc["event_type"], attempt=n,
                  recipient=mask_recipient(to))
        return 1

    def _failed(self, doc: dict, n: int, reason: str, permanent: bool) -> None:
        mid, channel = doc["_id"], doc["channel"]
        next_at = self.clock.now()
        if not permanent:
            next_at = next_at + dt.timedelta(seconds=self.policy.delay(n, self.rand))
        insert_unique(self.deliveries, {"_id": f"{mid}:failed:{n}", "message_id": mid, "kind": "failed", "n": n,
                                        "at": self.clock.now(), "error": reason, "permanent": permanent,
                                        "next_at": next_at})
        self._hint(mid, {"due_at": next_at})
        MESSAGES.labels(channel, "failed_attempt").inc()
        log.event(logger, "send failed", logging.WARNING, channel=channel, event_type=doc["event_type"],
                  attempt=n, reason=reason, permanent=permanent)

    def _dead_letter(self, doc: dict, attempts: int, reason: str) -> None:
        mid, channel = doc["_id"], doc["channel"]
        failed = notification_pb2.NotificationFailed(
            notification_id=mid, event_id=doc["event_id"], event_type=doc["event_type"],
            account_id=doc["account_id"], application_id=doc.get("application_id", ""), channel=channel,
            attempts=attempts, reason=reason[:200])
        event = new_event("notification", doc.get("application_id") or doc["account_id"], failed, self.clock)
        record = with_events({"_id": f"{mid}:dead", "message_id": mid, "kind": "dead", "n": attempts,
                              "at": self.clock.now(), "reason": reason[:200]},
                             [event], TOPICS["notification"], self.clock)
        if insert_unique(self.deliveries, record):
            MESSAGES.labels(channel, "dead_lettered").inc()
            DEAD_LETTERS.labels(channel).inc()
            log.event(logger, "message dead-lettered", logging.ERROR, channel=channel,
                      event_type=doc["event_type"], attempts=attempts, reason=reason[:200])
        self._hint(mid, {"open": False})

    def _hint(self, mid: str, fields: dict) -> None:
        """Scheduling hints only (never the basis of a decision): a lost update costs a re-check."""
        self.messages.update_one({"_id": mid}, {"$set": fields})

    # -- the loop ------------------------------------------------------------------------------
    def worker(self, channel: str, idle_s: float = 0.5):
        def run(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    acted = self.cycle(channel)
                    metrics.WORKER_LAST_RUN.labels(f"delivery:{channel}").set_to_current_time()
                except Exception:
                    logger.exception("delivery cycle for %s failed", channel)
                    acted = 0
                if not acted:
                    stop.wait(idle_s)
        return run
