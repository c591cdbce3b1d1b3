"""Outbox without multi-document transactions.

A state change and its events are ONE insert: the decision record carries its events in
`_outbox` and `_outbox_pending: true`. The relay publishes pending events to Kafka (acks=all) and
then flips the flag. A kill between insert and publish, or Kafka being down, only delays events;
a kill between publish and flag re-publishes them, and consumers drop the duplicate by event id.

Rule for outbox-carrying collections: the records are immutable after insert except for the
relay's flag (FerretDB's updates are read-modify-write, so two writers to one document could lose
an update); later state changes are new records.
"""
from __future__ import annotations

import logging

from bson.binary import Binary
from kafka.errors import KafkaError

from passport.v1 import envelope_pb2
from servicekit import kafka, metrics
from servicekit.clock import Clock
from servicekit.events import TOPICS
from servicekit.lease import WindowLease

logger = logging.getLogger("servicekit.outbox")

PENDING = "_outbox_pending"


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


class OutboxRelay:
    """Publishes pending outbox events of the given collections, oldest first."""

    def __init__(self, db, service: str, collections: list[str], clock: Clock, batch: int = 200):
        self.db, self.service, self.collections, self.clock, self.batch = db, service, collections, clock, batch
        self.lease = WindowLease(db, "outbox-relay", window_s=15, clock=clock)
        self._producer = None
        self._topics_ready = False
        ensure_indexes(db, collections)

    def _get_producer(self):
        if self._producer is None:
            self._producer = kafka.producer(f"{self.service}-outbox")
        return self._producer

    def pending(self) -> list[tuple[str, dict]]:
        docs = []
        for name in self.collections:
            for doc in self.db[name].find({PENDING: True}, {"_outbox": 1, "_outbox_at": 1}) \
                    .sort("_outbox_at", 1).limit(self.batch):
                docs.append((name, doc))
        docs.sort(key=lambda pair: pair[1]["_outbox_at"])
        return docs

    def cycle(self) -> int:
        """One pass; returns the number of events published."""
        if not self.lease.held():
            return 0
        docs = self.pending()
        metrics.OUTBOX_PENDING.set(sum(len(d.get("_outbox", [])) for _, d in docs))
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
            for name, doc in docs:
                futures = [producer.send(ev["topic"], key=ev["key"].encode(), value=bytes(ev["data"]),
                                         headers=[("event_type", ev["event_type"].encode())])
                           for ev in doc["_outbox"]]
                for fut, ev in zip(futures, doc["_outbox"]):
                    fut.get(timeout=10)
                    metrics.OUTBOX_PUBLISHED.labels(ev["topic"], ev["event_type"]).inc()
                    published += 1
                self.db[name].update_one({"_id": doc["_id"]}, {"$set": {PENDING: False}})
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
