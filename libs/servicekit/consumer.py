"""Idempotent Kafka consumer with manual commits and a dead-letter topic.

- An event is handled at most once per group as far as its effects go: a processed-event record
  `<group>:<event_id>` is inserted under the unique _id after handling, and checked before. A kill
  between handling and that insert re-handles the event, so handlers must themselves be keyed
  (insert-unique) - which they are throughout the platform.
- Offsets are committed after each handled batch (at-least-once delivery).
- A message that cannot be decoded, or whose handler keeps failing, goes to `<group>.dlq` with
  the reason in its headers, and the consumer moves on: no poison-message loop.
- An event is believed only from its producer's topic (a PaymentSettled written on another
  topic is dead-lettered as `wrong_topic`, never handled).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kafka import KafkaConsumer
from kafka.errors import KafkaError

from passport.v1 import envelope_pb2
from servicekit import kafka, log, metrics, tracing
from servicekit.config import env_int
from servicekit.events import MalformedEvent, decode, home_topic
from servicekit.mongo import insert_unique

logger = logging.getLogger("servicekit.consumer")
FETCH_MAX_WAIT_MS = env_int("KAFKA_FETCH_MAX_WAIT_MS", 5000)

Handler = Callable[[envelope_pb2.EventEnvelope, object], None]


class PermanentError(Exception):
    """The event can never be handled (violates a contract): dead-letter it without retrying."""


class EventConsumer:
    def __init__(self, db, group: str, topics: list[str], handlers: dict[str, Handler],
                 max_attempts: int = 5, retry_base_s: float = 0.2):
        self.db, self.group, self.topics, self.handlers = db, group, topics, handlers
        self.max_attempts, self.retry_base_s = max_attempts, retry_base_s
        self.processed = db["processed_events"]
        self.dlq_topic = f"{group}.dlq"
        self._producer = None
        self._lag_checked = 0.0
        self._consumed_since_lag = True  # events handled since the lag was last asked for

    # -- one message -------------------------------------------------------------------------
    def process(self, topic: str, value: bytes) -> str:
        """Handle one raw message; returns the outcome label (also used by tests)."""
        try:
            envelope, payload = decode(value)
        except MalformedEvent as exc:
            self._dead_letter(topic, value, str(exc))
            metrics.CONSUMER_EVENTS.labels(self.group, topic, "unknown", "dead_lettered").inc()
            return "dead_lettered"
        etype = envelope.event_type
        token = log.correlation_id.set(envelope.correlation_id)
        traced = tracing.consumer_span(envelope, topic, self.group)
        try:
            handler = self.handlers.get(etype)
            if handler is None or payload is None:
                log.event(logger, "event type not handled here, skipped", event_type=etype, topic=topic)
                metrics.CONSUMER_EVENTS.labels(self.group, topic, etype, "skipped").inc()
                return "skipped"
            if home_topic(payload) != topic:
                self._dead_letter(topic, value, f"{etype} is published on {home_topic(payload)}, not {topic}")
                metrics.CONSUMER_EVENTS.labels(self.group, topic, etype, "wrong_topic").inc()
                return "wrong_topic"
            key = f"{self.group}:{envelope.event_id}"
            if self.processed.find_one({"_id": key}, {"_id": 1}):
                metrics.CONSUMER_EVENTS.labels(self.group, topic, etype, "duplicate").inc()
                return "duplicate"
            error = self._handle_with_retries(handler, envelope, payload, topic)
            if error is not None:
                self._dead_letter(topic, value, error)
                metrics.CONSUMER_EVENTS.labels(self.group, topic, etype, "dead_lettered").inc()
                return "dead_lettered"
            insert_unique(self.processed, {"_id": key, "event_type": etype, "at": time.time()})
            metrics.CONSUMER_EVENTS.labels(self.group, topic, etype, "handled").inc()
            return "handled"
        finally:
            tracing.end(traced)
            log.correlation_id.reset(token)

    def _handle_with_retries(self, handler, envelope, payload, topic) -> str | None:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                handler(envelope, payload)
                metrics.CONSUMER_HANDLE_SECONDS.labels(self.group, envelope.event_type).observe(
                    time.perf_counter() - started)
                return None
            except PermanentError as exc:
                return f"permanent: {exc}"
            except Exception as exc:
                metrics.CONSUMER_EVENTS.labels(self.group, topic, envelope.event_type, "retried").inc()
                logger.warning("handling %s failed (attempt %d/%d): %s", envelope.event_type,
                               attempt, self.max_attempts, exc)
                if attempt == self.max_attempts:
                    return f"failed {attempt} times: {exc}"
                time.sleep(self.retry_base_s * 2 ** (attempt - 1))
        return None

    def _dead_letter(self, topic: str, value: bytes, reason: str) -> None:
        logger.error("dead-lettering a message from %s: %s", topic, reason)
        tracing.mark_error("dead-lettered")
        if self._producer is None:
            self._producer = kafka.producer(f"{self.group}-dlq")
        self._producer.send(self.dlq_topic, value=value, headers=[
            ("original_topic", topic.encode()), ("reason", reason[:500].encode())]).get(timeout=10)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        kafka.ensure_topics_quietly(list(self.topics) + [self.dlq_topic], self.group)
        consumer = KafkaConsumer(
            *self.topics, **kafka.client_config(), group_id=self.group,
            client_id=self.group, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=200, session_timeout_ms=10000, heartbeat_interval_ms=3000,
            metadata_max_age_ms=10000,
            # the broker holds a fetch until an event comes (answered at once then) or this long: an
            # idle consumer asks every 5 s, not twice a second (the default 500 ms was most of idle Kafka's CPU)
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        try:
            while not stop.is_set():
                # events wake it at once; the timeout only bounds how soon it notices a stop (each
                # empty return costs the client's IO thread a round of wake-ups: 2 s, not 0.5 s)
                batches = consumer.poll(timeout_ms=2000)
                for tp, messages in batches.items():
                    for msg in messages:
                        self.process(tp.topic, msg.value)
                if batches:
                    consumer.commit()
                    self._consumed_since_lag = True
                metrics.WORKER_LAST_RUN.labels(f"consumer:{self.group}").set_to_current_time()
                self._report_lag(consumer)
        except KafkaError:
            logger.exception("consumer %s lost Kafka; restarting", self.group)
            raise
        finally:
            consumer.close(autocommit=False)

    def _report_lag(self, consumer: KafkaConsumer) -> None:
        """Every 10 s while events come (the first time after they stop shows the lag caught up),
        every minute while none do: each is a request to the broker, most of an idle consumer's."""
        if time.monotonic() - self._lag_checked < (10 if self._consumed_since_lag else 60):
            return
        self._lag_checked, self._consumed_since_lag = time.monotonic(), False
        assigned = list(consumer.assignment())
        if not assigned:
            return
        try:
            ends = consumer.end_offsets(assigned)
        except KafkaError:
            return
        for tp in assigned:
            position = consumer.position(tp)
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, str(tp.partition)).set(
                max(0, ends.get(tp, position) - position))

