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

Cost: a poll scans only the channel's due queue (queue.py: open messages, whole). A message's next
attempt comes from its queue entry's `failed` hint, so the usual send is insert claim, send, insert
outcome; the message's records are read (one query per poll for all such messages) only when a claim
collides - after a crash or with a second replica. Done entries leave the queue in one delete per poll.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from concurrent.futures import ThreadPoolExecutor
import threading
from dataclasses import dataclass
from typing import Callable, Protocol

import grpc
from prometheus_client import Counter, Histogram

from passport.v1 import accounts_pb2, accounts_pb2_grpc, complaint_pb2, complaint_pb2_grpc, notification_pb2
from servicekit import grpcclient, log, metrics, outbox
from servicekit.clock import Clock
from servicekit.events import TOPICS, new_event
from servicekit.lease import WindowLease
from servicekit.mongo import insert_unique

from services.notification import queue
from services.notification.messages import application_facts
from services.notification.ordering import _aware, awaited_cause, order_key, stale_reason
from services.notification.channels import SendError, mask_recipient
from services.notification.policy import RetryPolicy, plan
from services.notification.templates import Rendered

logger = logging.getLogger("notification.delivery")

MESSAGES = Counter("notification_messages_total", "Delivery outcomes by channel.",
                   ["channel", "outcome"])  # outcome: sent | failed_attempt | dead_lettered | skipped
DELIVERY_LATENCY = Histogram(
    "notification_event_to_delivery_seconds", "From the event's occurred_at to the provider's acceptance.",
    ["channel"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
RETRIES = Counter("notification_retries_total", "Attempts after the first one, by channel.", ["channel"])
DEAD_LETTERS = Counter("notification_dead_letters_total", "Messages given up on, by channel.", ["channel"])
REQUEUED = Counter("notification_requeued_total", "Open messages the safety sweep found without a queue entry.",
                   ["channel"])


class Sender(Protocol):
    def send(self, to: str, rendered: Rendered, message_id: str) -> None: ...


REPORTER_PREFIX = "complaint:"  # "account" of an anonymous reporter who left a contact: complaint:<id>


class Contacts:
    """Recipients come from the booking service's AccountService.GetContact, never from events; an
    anonymous reporter's contact (`complaint:<complaint_id>`) from ComplaintService.GetReporterContact."""

    def __init__(self, address: str, deadline_s: float = 3.0, complaint_address: str = ""):
        self.stub = accounts_pb2_grpc.AccountServiceStub(grpcclient.channel(address, deadline_s))
        self.reporters = complaint_pb2_grpc.ComplaintServiceStub(grpcclient.channel(complaint_address, deadline_s)) \
            if complaint_address else None

    def address_of(self, account_id: str, channel: str) -> str:
        try:
            if account_id.startswith(REPORTER_PREFIX) and self.reporters is not None:
                contact = self.reporters.GetReporterContact(complaint_pb2.GetReporterContactRequest(
                    complaint_id=account_id[len(REPORTER_PREFIX):]))
            else:
                contact = self.stub.GetContact(accounts_pb2.GetAccountRequest(account_id=account_id))
        except grpc.RpcError as exc:
            permanent = exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
            raise SendError(f"contact lookup {exc.code().name}", permanent=permanent) from None
        to = contact.email if channel == "EMAIL" else contact.phone
        if not to:
            raise SendError(f"account has no {channel.lower()} address", permanent=True)
        return to


class BatchContacts:
    """One GetContact per account and channel per poll: a burst to a few accounts asks once per batch,
    and the next batch asks again (recipients stay as fresh as a poll). A failed lookup fails that
    account's messages of the batch alike (retried with backoff) instead of waiting out one deadline each."""

    def __init__(self, contacts):
        self.contacts, self.known, self.lock = contacts, {}, threading.Lock()

    def address_of(self, account_id: str, channel: str) -> str:
        key = (account_id, channel)
        with self.lock:
            known = self.known.get(key)
        if known is None:
            try:
                known = (self.contacts.address_of(account_id, channel), None)
            except SendError as exc:
                known = ("", exc)
            with self.lock:
                self.known[key] = known
        if known[1] is not None:
            raise known[1]
        return known[0]


@dataclass(frozen=True)
class Outcome:
    acted: int = 0          # sent, failed or dead-lettered
    done: bool = False      # `<mid>:sent` or `<mid>:dead` exists: the queue entry can go
    collided: bool = False  # the claim of the hinted attempt existed: read the records to decide
    next_at: dt.datetime | None = None  # not done: when the message is looked at again (if known)


class Delivery:
    def __init__(self, db, clock: Clock, senders: dict[str, Sender], contacts, policy: RetryPolicy,
                 batch: int = 100, rand: Callable[[], float] = random.random, concurrency: int = 1,
                 cause_wait_s: float = 1800.0):
        self.db, self.messages, self.deliveries = db, db["messages"], db["deliveries"]
        self.cause_wait = dt.timedelta(seconds=cause_wait_s)
        self.queues = {channel: queue.of(db, channel) for channel in senders}
        self.clock, self.senders, self.contacts, self.policy = clock, senders, contacts, policy
        self.batch, self.rand = batch, rand
        # Sends of one channel overlap (each message is claimed by its own keyed attempt record,
        # so parallel senders never send one message twice); a crash duplicates at most the
        # messages in flight at that moment, each at most once.
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") if concurrency > 1 else None

    def _map(self, fn, items: list) -> list:
        return list(self.pool.map(fn, items)) if self.pool is not None and len(items) > 1 else [fn(i) for i in items]

    # -- one pass over one channel -------------------------------------------------------------
    def cycle(self, channel: str) -> int:
        """Act on the due entries of one channel's queue; returns how many were acted on (sent, failed, dead)."""
        due = self.queues[channel]
        entries = list(due.find({"due_at": {"$lte": self.clock.now()}}).sort("due_at", 1).limit(self.batch))
        if not entries:
            return 0
        contacts = BatchContacts(self.contacts)
        # Messages of one application (or complaint) go out one after the other in event order
        # (ordering.py); groups, and messages of no group, go out in parallel.
        groups = sorted({_group(e) for e in entries} - {""})
        singles = [e for e in entries if not _group(e)]
        tasks = [("group", g) for g in groups] + [("single", e) for e in singles]
        open_entries = self._open_of(due, groups, entries)
        results = self._map(lambda t: self._walk(t[1], open_entries.get(t[1], []), contacts) if t[0] == "group"
                            else [(t[1], self.deliver(t[1], contacts))], tasks)
        entries, outcomes = [], []
        for pairs in results:
            for entry, outcome in pairs:
                entries.append(entry)
                outcomes.append(outcome)
        collided = [e for e, o in zip(entries, outcomes) if o.collided]
        if collided:
            outcomes += self._resolve(collided, contacts)
            entries += collided
        done = [e["_id"] for e, o in zip(entries, outcomes) if o.done]
        if done:
            due.delete_many({"_id": {"$in": done}})
        return sum(o.acted for o in outcomes)

    def _open_of(self, due, groups: list[str], batch: list[dict]) -> dict[str, list[dict]]:
        """Every open message of these groups in this channel's queue, in event order (the queue holds
        only open messages, so this reads the backlog of a few applications, never the history)."""
        out: dict[str, dict[str, dict]] = {}
        for e in batch:  # whole entries
            if _group(e):
                out.setdefault(_group(e), {})[e["_id"]] = e
        # the others only by what ordering needs (usually none: most groups have one open message);
        # one of them is read whole, by `_id`, only when it is its turn to be sent
        for e in (due.find({"group": {"$in": groups}}, LIGHT) if groups else []):
            out.setdefault(_group(e), {}).setdefault(e["_id"], e)
        return {g: sorted(es.values(), key=order_key) for g, es in out.items()}

    def _walk(self, group: str, entries: list[dict], contacts) -> list[tuple[dict, Outcome]]:
        """One application's open messages of one channel, oldest event first: each is sent, or skipped
        when a later event made it stale; the first one that is not due, waits for its cause or is not
        done (failed, in flight elsewhere) holds back the rest, so the channel keeps the event order."""
        now, out = self.clock.now(), []
        facts = application_facts(self.db, group) if any(e.get("application_id") for e in entries) else []
        blocked_until, rest = None, []
        for i, entry in enumerate(entries):
            rest = entries[i + 1:]
            if _aware(entry["due_at"]) > now:
                blocked_until = _aware(entry["due_at"])
                break
            reason = stale_reason(entry, facts)
            cause = awaited_cause(entry, facts)
            if not reason and cause:
                if now < _aware(entry["created_at"]) + self.cause_wait:
                    blocked_until = now + dt.timedelta(seconds=1)
                    self._hint(entry, {"due_at": blocked_until})
                    break
                reason = f"no {cause} was recorded for it"
            if reason:
                out.append((entry, self._skip(entry, reason)))
                continue
            if "body" not in entry:  # read light (see _open_of)
                entry = due_entry = self.queues[entry["channel"]].find_one({"_id": entry["_id"]})
                if due_entry is None:  # done meanwhile by a parallel worker
                    continue
            outcome = self.deliver(entry, contacts)
            if outcome.collided:
                outcome = self._resolve([entry], contacts)[0]
            out.append((entry, outcome))
            if not outcome.done:
                blocked_until = outcome.next_at or now + dt.timedelta(seconds=1)
                break
        # The held-back ones are not due before the one holding them: off the head of the queue until
        # then, so a backlog of held messages never crowds out other applications' due ones.
        for entry in rest if blocked_until is not None else []:
            if _aware(entry["due_at"]) < blocked_until:
                self._hint(entry, {"due_at": blocked_until})
        return out

    def _skip(self, entry: dict, reason: str) -> Outcome:
        """A stale message is not sent; `<mid>:skipped` closes it (the delivery log shows SKIPPED)."""
        mid, channel = entry["_id"], entry["channel"]
        insert_unique(self.deliveries, {"_id": f"{mid}:skipped", "message_id": mid, "kind": "skipped", "n": 0,
                                        "at": self.clock.now(), "reason": reason})
        MESSAGES.labels(channel, "skipped").inc()
        log.event(logger, "stale message not sent", channel=channel, event_type=entry["event_type"], reason=reason)
        return Outcome(acted=1, done=True)

    def deliver(self, entry: dict, contacts=None) -> Outcome:
        """The usual case, from the entry's hint alone: claim the next attempt and send."""
        return self._attempt(entry, entry.get("failed", 0) + 1, contacts or self.contacts)

    def _resolve(self, entries: list[dict], contacts) -> list[Outcome]:
        """Claims that collided: decide from the messages' delivery records (one query for all)."""
        records: dict[str, list[dict]] = {e["_id"]: [] for e in entries}
        for r in self.deliveries.find({"message_id": {"$in": list(records)}}, {"_outbox": 0}):
            records[r["message_id"]].append(r)
        return self._map(lambda e: self._decide(e, records[e["_id"]], contacts), entries)

    def _decide(self, entry: dict, records: list[dict], contacts) -> Outcome:
        step = plan(records, self.clock.now(), self.policy)
        if step.action == "done":
            return Outcome(done=True)
        if step.action == "dead":
            self._dead_letter(entry, step.attempt, step.reason)
            return Outcome(acted=1, done=True)
        if step.action == "wait":
            hint = {"due_at": step.due_at}
            if any(r["kind"] == "failed" and r["n"] == step.attempt for r in records):
                hint["failed"] = step.attempt  # a retried failure: the hint's promise holds
            self._hint(entry, hint)
            return Outcome(next_at=step.due_at)
        outcome = self._attempt(entry, step.attempt, contacts)
        if outcome.collided:  # a parallel worker claimed it first and is sending it
            return Outcome()
        return outcome

    def _attempt(self, entry: dict, n: int, contacts) -> Outcome:
        mid, channel = entry["_id"], entry["channel"]
        now = self.clock.now()
        # The claim: inserted before sending; a parallel worker that loses the race does not send.
        if not insert_unique(self.deliveries, {"_id": f"{mid}:attempt:{n}", "message_id": mid, "kind": "attempt",
                                               "n": n, "at": now}):
            return Outcome(collided=True)
        if n > 1:
            RETRIES.labels(channel).inc()
        token = log.correlation_id.set(entry["event_id"])
        try:
            to = contacts.address_of(entry["account_id"], channel)
            self.senders[channel].send(to, Rendered(entry.get("subject", ""), entry["body"]), mid)
        except SendError as exc:
            return self._failed(entry, n, exc.reason, exc.permanent)
        except Exception as exc:  # an adapter bug must not stop the loop; retried like an outage
            logger.exception("unexpected error sending %s", channel)
            return self._failed(entry, n, type(exc).__name__, False)
        finally:
            log.correlation_id.reset(token)
        sent_at = self.clock.now()
        insert_unique(self.deliveries, {"_id": f"{mid}:sent", "message_id": mid, "kind": "sent", "n": n,
                                        "at": sent_at})
        MESSAGES.labels(channel, "sent").inc()
        event_at = entry.get("event_at")
        if event_at is not None:
            DELIVERY_LATENCY.labels(channel).observe(max(0.0, (sent_at - event_at).total_seconds()))
        log.event(logger, "message sent", channel=channel, event_type=entry["event_type"], attempt=n,
                  recipient=mask_recipient(to))
        return Outcome(acted=1, done=True)

    def _failed(self, entry: dict, n: int, reason: str, permanent: bool) -> Outcome:
        mid, channel = entry["_id"], entry["channel"]
        now = self.clock.now()
        next_at = now if permanent else now + dt.timedelta(seconds=self.policy.delay(n, self.rand))
        failure = {"_id": f"{mid}:failed:{n}", "message_id": mid, "kind": "failed", "n": n, "at": now,
                   "error": reason, "permanent": permanent, "next_at": next_at}
        insert_unique(self.deliveries, failure)
        MESSAGES.labels(channel, "failed_attempt").inc()
        log.event(logger, "send failed", logging.WARNING, channel=channel, event_type=entry["event_type"],
                  attempt=n, reason=reason, permanent=permanent)
        # What next, by the same rules as from all records (only the last attempt counts there).
        step = plan([{"kind": "attempt", "n": n, "at": now}, failure], now, self.policy)
        if step.action == "dead":
            self._dead_letter(entry, n, step.reason)
            return Outcome(acted=1, done=True)
        self._hint(entry, {"due_at": next_at, "failed": n})
        return Outcome(acted=1, next_at=next_at)

    def _dead_letter(self, doc: dict, attempts: int, reason: str) -> None:
        mid, channel = doc["_id"], doc["channel"]
        failed = notification_pb2.NotificationFailed(
            notification_id=mid, event_id=doc["event_id"], event_type=doc["event_type"],
            account_id=doc["account_id"], application_id=doc.get("application_id", ""), channel=channel,
            attempts=attempts, reason=reason[:200])
        event = new_event("notification", doc.get("application_id") or doc["account_id"], failed, self.clock)
        record = {"_id": f"{mid}:dead", "message_id": mid, "kind": "dead", "n": attempts,
                  "at": self.clock.now(), "reason": reason[:200]}
        if outbox.insert(self.deliveries, record, [event], TOPICS["notification"], self.clock):
            MESSAGES.labels(channel, "dead_lettered").inc()
            DEAD_LETTERS.labels(channel).inc()
            log.event(logger, "message dead-lettered", logging.ERROR, channel=channel,
                      event_type=doc["event_type"], attempts=attempts, reason=reason[:200])

    def _hint(self, entry: dict, fields: dict) -> None:
        """Scheduling hints on the queue entry (see queue.py); an update lost to a parallel writer costs
        a re-check. Never re-creates an entry that was removed meanwhile (no upsert)."""
        self.queues[entry["channel"]].update_one({"_id": entry["_id"]}, {"$set": fields})

    # -- the safety sweep ------------------------------------------------------------------------
    def sweep(self) -> int:
        """Re-queue every open message (neither `<mid>:sent` nor `<mid>:dead`) that has no queue entry;
        returns how many. Cannot happen by design (the entry is inserted before the message and removed
        after its outcome), so this is the net under a bug or a hand-edited store. Full scans of
        `messages` and `deliveries`: rare (NOTIFY_SWEEP_INTERVAL_S) and off the send path. Read in this
        order so that an entry removed between two reads has its outcome visible in the last one."""
        channels = {m["_id"]: m["channel"] for m in self.messages.find({}, {"channel": 1})}
        queued = {e["_id"] for due in self.queues.values() for e in due.find({}, {"_id": 1})}
        done = {r["message_id"] for r in self.deliveries.find({"kind": {"$in": ["sent", "dead", "skipped"]}},
                                                               {"message_id": 1})}
        requeued = 0
        for mid, channel in channels.items():
            if mid in queued or mid in done or channel not in self.queues:
                continue
            message = self.messages.find_one({"_id": mid})
            if message is not None and queue.enqueue(self.db, message, self.clock.now()):
                requeued += 1
                REQUEUED.labels(channel).inc()
                log.event(logger, "open message re-queued by the sweep", logging.WARNING, channel=channel,
                          event_type=message.get("event_type", ""))
        return requeued

    # -- the loops -----------------------------------------------------------------------------
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

    def sweeper(self, interval_s: float = 300.0):
        """At start and then every interval, by one replica per interval (a lease; sweeping twice is harmless)."""
        lease = WindowLease(self.db, "notification-sweep", window_s=max(1, int(interval_s)), clock=self.clock)

        def run(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    if lease.held():
                        self.sweep()
                    metrics.WORKER_LAST_RUN.labels("delivery:sweep").set_to_current_time()
                except Exception:
                    logger.exception("notification sweep failed")
                stop.wait(interval_s)
        return run


# What the order walk needs of a queue entry that is not in the poll's due batch.
LIGHT = {"_id": 1, "group": 1, "application_id": 1, "channel": 1, "event_type": 1, "event_id": 1, "event_at": 1,
         "due_at": 1, "created_at": 1, "fact": 1, "failed": 1}


def _group(entry: dict) -> str:
    """The order group of a queue entry (entries queued before groups existed: their application)."""
    return entry.get("group", entry.get("application_id", "")) or ""
