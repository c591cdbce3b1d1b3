"""Outbox without multi-document transactions.

A state change and its events are ONE insert: the decision record carries its events in
`_outbox` and `_outbox_pending: true`. The relay publishes pending events to Kafka (acks=all) and
then flips the flag. A kill between insert and publish, or Kafka being down, only delays events;
a kill between publish and flag re-publishes them, and consumers drop the duplicate by event id.

Finding pending records: FerretDB pushes only `_id` equality down to its store, so asking the
growing record collections for `_outbox_pending: true` would scan them on every poll. Instead the
writer first inserts a small *intent* `<collection>:<record id>` into `outbox_intents`, then the
record; the relay scans only the intents (a short collection: an intent lives until its events are
out), reads each record by `_id`, publishes, and deletes the intent. An intent whose record never
appeared (the write failed or lost a race) is dropped after INTENT_GRACE. As a safety net for a
writer that stalled longer than that between its two inserts, the relay also scans the record
collections for pending records every FULL_SWEEP (rarely; nothing is ever left unpublished).

Rule for outbox-carrying collections: the records are immutable after insert except for the
relay's flag (FerretDB's updates are read-modify-write, so two writers to one document could lose
an update); later state changes are new records.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from bson.binary import Binary
from kafka.errors import KafkaError

from passport.v1 import envelope_pb2
from servicekit import kafka, metrics
from servicekit.clock import Clock
from servicekit.events import TOPICS
from servicekit.lease import WindowLease
from servicekit.mongo import insert_unique

logger = logging.getLogger("servicekit.outbox")

PENDING = "_outbox_pending"
INTENTS = "outbox_intents"
INTENT_GRACE = dt.timedelta(seconds=60)  # an intent without its record after this was abandoned
FULL_SWEEP_S = 300.0


def insert(collection, record: dict, events: list[envelope_pb2.EventEnvelope], topic: str, clock: Clock) -> bool:
    """Insert a record with its events (False when a record with that `_id` or unique key exists,
    as servicekit.mongo.insert_unique). The intent goes first, so no record is ever unseen."""
    insert_unique(collection.database[INTENTS], {
        "_id": f"{collection.name}:{record['_id']}", "collection": collection.name,
        "record_id": record["_id"], "at": clock.now()})
    return insert_unique(collection, with_events(record, events, topic, clock))


def with_events(record: dict, events: list[envelope_pb2.EventEnvelope], topic: str, clock: Clock) -> dict:
    """Attach events to a record that is about to be inserted."""
    record["_outbox"] = [{
        "event_id": e.event_id, "event_type": e.event_type, "topic": topic,
        "key": e.aggregate_id, "data": Binary(e.SerializeToString()),
    } for e in events]
    record["_outbox_at"] = clock.now()
    record[PENDING] = bool(events)
    return record


def ensure_indexes(db, collections: list[str]) -> None:
    for name in collections:
        db[name].create_index(PENDING)
    db[INTENTS].create_index("at")


class OutboxRelay:
    """Publishes pending outbox events of the given collections, oldest first."""

    def __init__(self, db, service: str, collections: list[str], clock: Clock, batch: int = 200):
        self.db, self.service, self.collections, self.clock, self.batch = db, service, collections, clock, batch
        self.lease = WindowLease(db, "outbox-relay", window_s=15, clock=clock)
        self._next_full_sweep = 0.0  # the first cycle sweeps: catches what a previous run left
        self._producer = None
        self._topics_ready = False
        ensure_indexes(db, collections)

    def _get_producer(self):
        if self._producer is None:
            self._producer = kafka.producer(f"{self.service}-outbox")
        return self._producer

    def pending(self) -> list[tuple[str, dict, str | None]]:
        """(collection, record, intent id) of records whose events are not out yet, oldest first."""
        intents = self.db[INTENTS]
        now, docs = self.clock.now(), []
        for intent in intents.find({}).sort("at", 1).limit(self.batch):
            doc = self.db[intent["collection"]].find_one({"_id": intent["record_id"]},
                                                         {"_outbox": 1, "_outbox_at": 1, PENDING: 1})
            if doc is not None and doc.get(PENDING):
                docs.append((intent["collection"], doc, intent["_id"]))
            elif doc is not None or now - intent["at"] > INTENT_GRACE:
                intents.delete_one({"_id": intent["_id"]})  # already out, or its record never came
        if time.monotonic() >= self._next_full_sweep:
            self._next_full_sweep = time.monotonic() + FULL_SWEEP_S
            seen = {(name, doc["_id"]) for name, doc, _ in docs}
            for name in self.collections:
                for doc in self.db[name].find({PENDING: True}, {"_outbox": 1, "_outbox_at": 1}) \
                        .sort("_outbox_at", 1).limit(self.batch):
                    if (name, doc["_id"]) not in seen:
                        docs.append((name, doc, None))
        docs.sort(key=lambda item: item[1]["_outbox_at"])
        return docs

    def cycle(self) -> int:
        """One pass; returns the number of events published."""
        if not self.lease.held():
            return 0
        docs = self.pending()
        metrics.OUTBOX_PENDING.set(sum(len(d.get("_outbox", [])) for _, d, _ in docs))
        metrics.OUTBOX_OLDEST_PENDING_SECONDS.set(
            (self.clock.now() - docs[0][1]["_outbox_at"]).total_seconds() if docs else 0)
        if not docs:
            return 0
        published = 0
        try:
            if not self._topics_ready:
                kafka.ensure_topics([TOPICS[self.service]], f"{self.service}-outbox")
                self._topics_ready = True
            producer = self._get_producer()
            for name, doc, intent_id in docs:
                futures = [producer.send(ev["topic"], key=ev["key"].encode(), value=bytes(ev["data"]),
                                         headers=[("event_type", ev["event_type"].encode())])
                           for ev in doc["_outbox"]]
                for fut, ev in zip(futures, doc["_outbox"]):
                    fut.get(timeout=10)
                    metrics.OUTBOX_PUBLISHED.labels(ev["topic"], ev["event_type"]).inc()
                    published += 1
                self.db[name].update_one({"_id": doc["_id"]}, {"$set": {PENDING: False}})
                if intent_id is not None:
                    self.db[INTENTS].delete_one({"_id": intent_id})
        except KafkaError as exc:
            metrics.OUTBOX_PUBLISH_FAILURES.inc()
            logger.warning("outbox publish failed, will retry: %s", exc)
            self._close_producer()
        return published

    def _close_producer(self):
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:
                pass
            self._producer = None

    def run(self, stop, interval_s: float = 0.5) -> None:
        """Worker loop: fast while there is work, backs off while Kafka is unreachable."""
        backoff = interval_s
        while not stop.is_set():
            try:
                published = self.cycle()
                metrics.WORKER_LAST_RUN.labels("outbox_relay").set_to_current_time()
                backoff = interval_s
                if published:
                    continue
            except Exception:
                logger.exception("outbox relay cycle failed")
                backoff = min(backoff * 2, 5.0)
            stop.wait(backoff)
        self._close_producer()
