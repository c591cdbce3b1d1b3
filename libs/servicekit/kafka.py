"""Kafka clients configured once, from the environment.

Every client authenticates over TLS (SASL_SSL) with its service's own SCRAM user, and the broker's
ACLs decide what that user may write and read (deploy/local/kafka_acl.py):
  KAFKA_BOOTSTRAP_SERVERS   host:port[,host:port...]
  KAFKA_SECURITY_PROTOCOL   SASL_SSL (default); PLAINTEXT only with PASSPORT_LOCAL_MODE=1 (a local experiment)
  KAFKA_SASL_MECHANISM      SCRAM-SHA-512 (default) or SCRAM-SHA-256
  KAFKA_SASL_USERNAME       this service's Kafka user
  KAFKA_SASL_PASSWORD       its password (a secret: demo values refused outside local mode)
  KAFKA_SSL_CAFILE          the CA that signed the brokers' certificates (default: the system's)
Topics (created by the admin: the local stack at start, a cluster's Helm hook Job, kafka_access.py):
  KAFKA_TOPIC_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS   their settings
  KAFKA_CREATE_TOPICS       1 (default): a service also creates its topics when missing; 0 in a
                            cluster, where the hook Job made them with the operator's settings
"""
from __future__ import annotations

import logging
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from servicekit.config import ConfigError, env, env_bool, env_int, secret

logger = logging.getLogger("servicekit.kafka")

PROTOCOLS = ("SASL_SSL", "PLAINTEXT")
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")


def bootstrap_servers() -> list[str]:
    return env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")


def client_config() -> dict:
    """Connection and security settings for any kafka-python client (producer, consumer, admin).
    Raises ConfigError naming what is missing, so a service checks it at start."""
    protocol = env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL").upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    config = {"bootstrap_servers": bootstrap_servers(), "security_protocol": protocol}
    if protocol == "PLAINTEXT":
        # Unauthenticated Kafka lets anyone on the network forge any event: never outside a local experiment.
        if not env_bool("PASSPORT_LOCAL_MODE"):
            raise ConfigError("KAFKA_SECURITY_PROTOCOL=PLAINTEXT is a local opt-out only (needs PASSPORT_LOCAL_MODE=1); "
                              "use SASL_SSL with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        return config
    mechanism = env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
    if mechanism not in MECHANISMS:
        raise ConfigError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, got {mechanism!r}")
    config.update(sasl_mechanism=mechanism, sasl_plain_username=env("KAFKA_SASL_USERNAME"),
                  sasl_plain_password=secret("KAFKA_SASL_PASSWORD"), ssl_check_hostname=True)
    cafile = env("KAFKA_SSL_CAFILE", "")
    if cafile:
        if not Path(cafile).is_file():
            raise ConfigError(f"KAFKA_SSL_CAFILE points to {cafile}, which is not a file")
        config["ssl_cafile"] = cafile
    return config


def producer(client_id: str) -> KafkaProducer:
    # acks=all and idempotence: an acknowledged event is on every in-sync replica, once.
    return KafkaProducer(
        **client_config(), client_id=client_id, acks="all",
        enable_idempotence=True, linger_ms=5, max_block_ms=5000, request_timeout_ms=10000,
        retries=5)


def topic_settings() -> tuple[int, int, dict[str, str]]:
    """Partitions, replication factor and topic configs (min.insync.replicas) of a new topic."""
    replication = env_int("KAFKA_REPLICATION_FACTOR", 1)
    # acks=all waits for these replicas: with replication 3, two survive one broker's loss.
    min_insync = env_int("KAFKA_MIN_INSYNC_REPLICAS", max(1, replication - 1))
    if not 1 <= min_insync <= replication:
        raise ConfigError(f"KAFKA_MIN_INSYNC_REPLICAS must be between 1 and KAFKA_REPLICATION_FACTOR ({replication}), "
                          f"got {min_insync}")
    return env_int("KAFKA_TOPIC_PARTITIONS", 3), replication, {"min.insync.replicas": str(min_insync)}


def ensure_topics(topics, client_id: str) -> None:
    """Create topics that do not exist yet (settings from the environment), unless
    KAFKA_CREATE_TOPICS=0 (a cluster: a Helm hook Job created them; a missing one is the operator's
    to make, not a consumer's to guess). A service's user may create only its own topics (ACLs)."""
    if not env_bool("KAFKA_CREATE_TOPICS", True):
        return
    partitions, replication, configs = topic_settings()
    admin = KafkaAdminClient(**client_config(), client_id=client_id, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(t, partitions, replication, topic_configs=configs) for t in topics if t not in existing]
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
