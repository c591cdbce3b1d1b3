"""Delivering recorded messages: one pass over one channel's due queue (entrypoints/workers.py loops it).

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

Cost: a poll scans only the channel's due queue (adapters/queue.py: open messages, whole). A message's next
attempt comes from its queue entry's `failed` hint, so the usual send is insert claim, send, insert
outcome; the message's records are read (one query per poll for all such messages) only when a claim
collides - after a crash or with a second replica. Done entries leave the queue in one delete per poll.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Protocol

from servicekit import log
from servicekit.clock import Clock

from services.notification import metrics
from services.notification.adapters.channels import mask_recipient
from services.notification.adapters.queue import DueQueues
from services.notification.adapters.repositories import ApplicationLog, DeliveryRecords, MessageArchive
from services.notification.domain.delivery import Delivery as DeliveryState
from services.notification.domain.delivery import RetryPolicy, SendError
from services.notification.domain.ordering import as_utc, awaited_cause, order_key, stale_reason
from services.notification.domain.templates import Rendered

logger = logging.getLogger("notification.delivery")


class Sender(Protocol):
    def send(self, to: str, rendered: Rendered, message_id: str) -> None: ...


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
        self.archive, self.deliveries = MessageArchive(db), DeliveryRecords(db, clock)
        self.log = ApplicationLog(db, clock)
        self.cause_wait = dt.timedelta(seconds=cause_wait_s)
        self.queues = DueQueues(db, senders)
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
        entries = self.queues.due(channel, self.clock.now(), self.batch)
        if not entries:
            return 0
        contacts = BatchContacts(self.contacts)
        # Messages of one application (or complaint) go out one after the other in event order
        # (ordering.py); groups, and messages of no group, go out in parallel.
        groups = sorted({_group(e) for e in entries} - {""})
        singles = [e for e in entries if not _group(e)]
        tasks = [("group", g) for g in groups] + [("single", e) for e in singles]
        open_entries = self._open_of(channel, groups, entries)
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
        self.queues.remove(channel, [e["_id"] for e, o in zip(entries, outcomes) if o.done])
        return sum(o.acted for o in outcomes)

    def _open_of(self, channel: str, groups: list[str], batch: list[dict]) -> dict[str, list[dict]]:
        """Every open message of these groups in this channel's queue, in event order (the queue holds
        only open messages, so this reads the backlog of a few applications, never the history)."""
        out: dict[str, dict[str, dict]] = {}
        for e in batch:  # whole entries
            if _group(e):
                out.setdefault(_group(e), {})[e["_id"]] = e
        # the others only by what ordering needs (usually none: most groups have one open message);
        # one of them is read whole, by `_id`, only when it is its turn to be sent
        for e in self.queues.open_of(channel, groups):
            out.setdefault(_group(e), {}).setdefault(e["_id"], e)
        return {g: sorted(es.values(), key=order_key) for g, es in out.items()}

    def _walk(self, group: str, entries: list[dict], contacts) -> list[tuple[dict, Outcome]]:
        """One application's open messages of one channel, oldest event first: each is sent, or skipped
        when a later event made it stale; the first one that is not due, waits for its cause or is not
        done (failed, in flight elsewhere) holds back the rest, so the channel keeps the event order."""
        now, out = self.clock.now(), []
        facts = self.log.facts(group) if any(e.get("application_id") for e in entries) else []
        blocked_until, rest = None, []
        for i, entry in enumerate(entries):
            rest = entries[i + 1:]
            if as_utc(entry["due_at"]) > now:
                blocked_until = as_utc(entry["due_at"])
                break
            reason = stale_reason(entry, facts)
            cause = awaited_cause(entry, facts)
            if not reason and cause:
                if now < as_utc(entry["created_at"]) + self.cause_wait:
                    blocked_until = now + dt.timedelta(seconds=1)
                    self._hint(entry, {"due_at": blocked_until})
                    break
                reason = f"no {cause} was recorded for it"
            if reason:
                out.append((entry, self._skip(entry, reason)))
                continue
            if "body" not in entry:  # read light (see _open_of)
                entry = due_entry = self.queues.get(entry["channel"], entry["_id"])
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
            if as_utc(entry["due_at"]) < blocked_until:
                self._hint(entry, {"due_at": blocked_until})
        return out

    def _skip(self, entry: dict, reason: str) -> Outcome:
        """A stale message is not sent; `<mid>:skipped` closes it (the delivery log shows SKIPPED)."""
        mid, channel = entry["_id"], entry["channel"]
        self.deliveries.skipped(mid, self.clock.now(), reason)
        metrics.MESSAGES.labels(channel, "skipped").inc()
        log.event(logger, "stale message not sent", channel=channel, event_type=entry["event_type"], reason=reason)
        return Outcome(acted=1, done=True)

    def deliver(self, entry: dict, contacts=None) -> Outcome:
        """The usual case, from the entry's hint alone: claim the next attempt and send."""
        return self._attempt(entry, entry.get("failed", 0) + 1, contacts or self.contacts)

    def _resolve(self, entries: list[dict], contacts) -> list[Outcome]:
        """Claims that collided: decide from the messages' delivery records (one query for all)."""
        deliveries = self.deliveries.of([e["_id"] for e in entries])
        return self._map(lambda e: self._decide(e, deliveries[e["_id"]], contacts), entries)

    def _decide(self, entry: dict, delivery: DeliveryState, contacts) -> Outcome:
        step = delivery.next_step(self.clock.now(), self.policy)
        if step.action == "done":
            return Outcome(done=True)
        if step.action == "dead":
            self._dead_letter(entry, step.attempt, step.reason)
            return Outcome(acted=1, done=True)
        if step.action == "wait":
            hint = {"due_at": step.due_at}
            if any(r["kind"] == "failed" and r["n"] == step.attempt for r in delivery.records):
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
        if not self.deliveries.claim(mid, n, now):
            return Outcome(collided=True)
        if n > 1:
            metrics.RETRIES.labels(channel).inc()
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
        self.deliveries.sent(mid, n, sent_at)
        metrics.MESSAGES.labels(channel, "sent").inc()
        event_at = entry.get("event_at")
        if event_at is not None:
            metrics.DELIVERY_LATENCY.labels(channel).observe(max(0.0, (sent_at - event_at).total_seconds()))
        log.event(logger, "message sent", channel=channel, event_type=entry["event_type"], attempt=n,
                  recipient=mask_recipient(to))
        return Outcome(acted=1, done=True)

    def _failed(self, entry: dict, n: int, reason: str, permanent: bool) -> Outcome:
        mid, channel = entry["_id"], entry["channel"]
        now = self.clock.now()
        next_at = now if permanent else now + dt.timedelta(seconds=self.policy.delay(n, self.rand))
        failure = self.deliveries.failed(mid, n, now, reason, permanent, next_at)
        metrics.MESSAGES.labels(channel, "failed_attempt").inc()
        log.event(logger, "send failed", logging.WARNING, channel=channel, event_type=entry["event_type"],
                  attempt=n, reason=reason, permanent=permanent)
        step = DeliveryState.after_failure(n, failure, now, self.policy)
        if step.action == "dead":
            self._dead_letter(entry, n, step.reason)
            return Outcome(acted=1, done=True)
        self._hint(entry, {"due_at": next_at, "failed": n})
        return Outcome(acted=1, next_at=next_at)

    def _dead_letter(self, doc: dict, attempts: int, reason: str) -> None:
        failed = DeliveryState.given_up(doc, attempts, reason)
        if self.deliveries.dead(failed, doc.get("application_id") or doc["account_id"]):
            metrics.MESSAGES.labels(failed.channel, "dead_lettered").inc()
            metrics.DEAD_LETTERS.labels(failed.channel).inc()
            log.event(logger, "message dead-lettered", logging.ERROR, channel=failed.channel,
                      event_type=doc["event_type"], attempts=attempts, reason=failed.reason)

    def _hint(self, entry: dict, fields: dict) -> None:
        """Scheduling hints on the queue entry (see adapters/queue.py)."""
        self.queues.hint(entry["channel"], entry["_id"], fields)

    # -- the safety sweep ------------------------------------------------------------------------
    def sweep(self) -> int:
        """Re-queue every open message (neither `<mid>:sent` nor `<mid>:dead`) that has no queue entry;
        returns how many. Cannot happen by design (the entry is inserted before the message and removed
        after its outcome), so this is the net under a bug or a hand-edited store. Full scans of
        `messages` and `deliveries`: rare (NOTIFY_SWEEP_INTERVAL_S) and off the send path. Read in this
        order so that an entry removed between two reads has its outcome visible in the last one."""
        channels = self.archive.channels()
        queued = self.queues.ids()
        done = self.deliveries.closed()
        requeued = 0
        for mid, channel in channels.items():
            if mid in queued or mid in done or not self.queues.serves(channel):
                continue
            message = self.archive.get(mid)
            if message is not None and self.queues.enqueue(message, self.clock.now()):
                requeued += 1
                metrics.REQUEUED.labels(channel).inc()
                log.event(logger, "open message re-queued by the sweep", logging.WARNING, channel=channel,
                          event_type=message.get("event_type", ""))
        return requeued


def _group(entry: dict) -> str:
    """The order group of a queue entry (entries queued before groups existed: their application)."""
    return entry.get("group", entry.get("application_id", "")) or ""
