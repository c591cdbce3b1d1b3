"""Kafka clients configured once: bootstrap servers from KAFKA_BOOTSTRAP_SERVERS."""
from __future__ import annotations

import logging

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from servicekit.config import env, env_int

logger = logging.getLogger("servicekit.kafka")


def bootstrap_servers() -> list[str]:
    return env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")


def producer(client_id: str) -> KafkaProducer:
    # acks=all and idempotence: an acknowledged event is on every in-sync replica, once.
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers(), client_id=client_id, acks="all",
        enable_idempotence=True, linger_ms=5, max_block_ms=5000, request_timeout_ms=10000,
        retries=5)


def ensure_topics(topics, client_id: str) -> None:
    """Create topics that do not exist yet (partitions and replication from the environment)."""
    partitions = env_int("KAFKA_TOPIC_PARTITIONS", 3)
    replication = env_int("KAFKA_REPLICATION_FACTOR", 1)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(), client_id=client_id,
                             request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(t, partitions, replication) for t in topics if t not in existing]
        if wanted:
            try:
                admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another replica created it first
    finally:
        admin.close()


def ensure_topics_quietly(topics, client_id: str) -> bool:
    try:
        ensure_topics(topics, client_id)
        return True
    except KafkaError as exc:
        logger.warning("cannot ensure topics yet: %s", exc)
        return False
