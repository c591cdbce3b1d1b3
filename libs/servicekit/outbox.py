"""Outbox without multi-document transactions.

A state change and its events are ONE insert: the decision record carries its events in `_outbox`.
Before it, the writer inserts a small *intent* `<collection>:<record id>` into `outbox_intents`; an
intent is the mark "events not out yet". The relay scans only the intents (a short collection:
FerretDB would scan the growing record collections for anything but an `_id` lookup), reads each
record by `_id`, publishes its events to Kafka (acks=all), then deletes the intents it finished, in
one delete per cycle. A kill between insert and publish, or Kafka being down, only delays events; a
kill between publish and delete re-publishes them, and consumers drop the duplicate by event id.

An intent whose record never appeared (the write failed or lost its race) is dropped after
INTENT_GRACE. A writer that took longer than half of that between its two inserts writes its intent
again after the record, so an intent can never be given up for a record that does exist.

Rule for outbox-carrying collections: records are immutable after insert (FerretDB's updates are
read-modify-write, so two writers to one document could lose an update); later state changes are
new records.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from bson.binary import Binary
from kafka.errors import KafkaError

from passport.v1 import envelope_pb2
from servicekit import idle, kafka, metrics
from servicekit.clock import Clock
from servicekit.events import TOPICS
from servicekit.lease import WindowLease
from servicekit.mongo import insert_unique

logger = logging.getLogger("servicekit.outbox")

INTENTS = "outbox_intents"
INTENT_GRACE = dt.timedelta(seconds=60)  # an intent without its record after this was abandoned
IDLE_MAX_S = 5.0  # an idle relay looks at most this seldom; a write in its own process wakes it at once


def insert(collection, record: dict, events: list[envelope_pb2.EventEnvelope], topic: str, clock: Clock) -> bool:
    """Insert a record with its events (False when a record with that `_id` or unique key exists,
    as servicekit.mongo.insert_unique). The intent goes first, so no record is ever unseen."""
    intent = {"_id": f"{collection.name}:{record['_id']}", "collection": collection.name,
              "record_id": record["_id"], "at": clock.now()}
    started = time.monotonic()
    insert_unique(collection.database[INTENTS], intent)
    inserted = insert_unique(collection, with_events(record, events, topic, clock))
    if inserted and time.monotonic() - started > INTENT_GRACE.total_seconds() / 2:
        # stalled between the two inserts: the relay may have dropped the intent as abandoned
        insert_unique(collection.database[INTENTS], dict(intent, at=clock.now()))
    if inserted:
        idle.wake(INTENTS)
    return inserted


def with_events(record: dict, events: list[envelope_pb2.EventEnvelope], topic: str, clock: Clock) -> dict:
    """Attach events to a record that is about to be inserted."""
    record["_outbox"] = [{
        "event_id": e.event_id, "event_type": e.event_type, "topic": topic,
        "key": e.aggregate_id, "data": Binary(e.SerializeToString()),
    } for e in events]
    record["_outbox_at"] = clock.now()
    return record


def ensure_indexes(db) -> None:
    db[INTENTS].create_index("at")


class OutboxRelay:
    """Publishes the events of a service's outbox records, oldest first (one replica at a time)."""

    def __init__(self, db, service: str, clock: Clock, batch: int = 200):
        self.db, self.service, self.clock, self.batch = db, service, clock, batch
        self.lease = WindowLease(db, "outbox-relay", window_s=15, clock=clock)
        self._producer = None
        self._topics_ready = False
        ensure_indexes(db)

    def _get_producer(self):
        if self._producer is None:
            self._producer = kafka.producer(f"{self.service}-outbox")
        return self._producer

    def pending(self) -> tuple[list[tuple[dict, str]], list[str]]:
        """(record, intent id) of records whose events are not out yet, oldest first, and the ids of
        intents to drop (their record was published already, or never came)."""
        now, docs, drop = self.clock.now(), [], []
        for intent in self.db[INTENTS].find({}).sort("at", 1).limit(self.batch):
            doc = self.db[intent["collection"]].find_one({"_id": intent["record_id"]}, {"_outbox": 1, "_outbox_at": 1})
            if doc is not None and doc.get("_outbox"):
                docs.append((doc, intent["_id"]))
            elif doc is not None or now - intent["at"] > INTENT_GRACE:
                drop.append(intent["_id"])  # nothing to publish, or its record never came
        docs.sort(key=lambda item: item[0]["_outbox_at"])
        return docs, drop

    def cycle(self) -> int:
        """One pass; returns the number of events published."""
        if not self.lease.held():
            return 0
        docs, done = self.pending()
        metrics.OUTBOX_PENDING.set(sum(len(d["_outbox"]) for d, _ in docs))
        metrics.OUTBOX_OLDEST_PENDING_SECONDS.set(
            (self.clock.now() - docs[0][0]["_outbox_at"]).total_seconds() if docs else 0)
        published = 0
        try:
            if docs and not self._topics_ready:
                kafka.ensure_topics([TOPICS[self.service]], f"{self.service}-outbox")
                self._topics_ready = True
            producer = self._get_producer() if docs else None
            for doc, intent_id in docs:
                futures = [producer.send(ev["topic"], key=ev["key"].encode(), value=bytes(ev["data"]),
                                         headers=[("event_type", ev["event_type"].encode())])
                           for ev in doc["_outbox"]]
                for fut, ev in zip(futures, doc["_outbox"]):
                    fut.get(timeout=10)
                    metrics.OUTBOX_PUBLISHED.labels(ev["topic"], ev["event_type"]).inc()
                    published += 1
                done.append(intent_id)
        except KafkaError as exc:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            logger.warning("outbox publish failed, will retry: %s", exc)
            self._close_producer()
        if done:  # one write for the whole cycle (the intents collection is short, so this is cheap)
            self.db[INTENTS].delete_many({"_id": {"$in": done}})
        return published

    def _close_producer(self):
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:
                pass
            self._producer = None

    def run(self, stop, interval_s: float = 0.5) -> None:
        """Worker loop: at once while there is work; idle, it looks ever more seldom (interval_s
        doubling up to IDLE_MAX_S: an idle platform should not poll its store) unless a write of this
        process wakes it; it backs off up to 5 s while Kafka is unreachable. A record written by
        another replica waits at most IDLE_MAX_S."""
        waiting = idle.register(INTENTS, interval_s, IDLE_MAX_S)
        backoff = interval_s
        try:
            while not stop.is_set():
                try:
                    published = self.cycle()
                except Exception:
                    logger.exception("outbox relay cycle failed")
                    backoff = min(backoff * 2, 5.0)
                    stop.wait(backoff)
                    continue
                metrics.WORKER_LAST_RUN.labels("outbox_relay").set_to_current_time()
                backoff = interval_s
                waiting.after(acted=published > 0)
        finally:
            idle.unregister(INTENTS, waiting)
            self._close_producer()
