"""Who may do what on Kafka: one SCRAM user per service, ACLs from the event topology, and the setup
that applies them with the admin user (the local stack at start; a cluster once, by an operator).

Each service's user writes its own topic (and its consumer's dead-letter topic), reads the topics it
consumes, with its own consumer group; nothing else. So a service that is taken over cannot write a
PaymentSettled on payment.events, and a client without a user gets nowhere at all.

    python -m servicekit.kafka_access setup [--passwords FILE]
uses this process's Kafka settings (servicekit.kafka: KAFKA_SASL_USERNAME must be a super user, the
admin), creates or updates the service users from FILE (JSON {user: password}) if given, creates the
topics (KAFKA_TOPIC_PARTITIONS, KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS; an existing
topic gets the min.insync.replicas and, if fewer, the partitions asked) and the ACLs. Running it
again changes nothing. In a cluster the platform chart's pre-install/pre-upgrade hook Job runs it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from servicekit.events import ALL_TOPICS, TOPICS

SERVICES = ("booking", "payment", "biometrics-capture", "notification", "complaint")
ADMIN = "admin"  # a super user of the brokers: creates topics, users and ACLs, reads anything (operators, tests)

# The topics each service consumes (its EventConsumer subscribes to exactly these, group = service name).
CONSUMES: dict[str, tuple[str, ...]] = {
    "booking": (TOPICS["payment"], TOPICS["biometrics-capture"]),
    "payment": (TOPICS["booking"],),
    "notification": ALL_TOPICS,
    "biometrics-capture": (),
    "complaint": (),
}


def dead_letter_topic(group: str) -> str:
    return f"{group}.dlq"


def writes(service: str) -> tuple[str, ...]:
    """Its own events topic, and its consumer's dead-letter topic when it consumes."""
    return (TOPICS[service],) + ((dead_letter_topic(service),) if CONSUMES[service] else ())


def all_topics() -> list[str]:
    return list(ALL_TOPICS) + [dead_letter_topic(s) for s in SERVICES if CONSUMES[s]]


def permissions(service: str) -> list[tuple[str, str, str]]:
    """(resource type, resource name, operation) allowed to the service's user, literal names only."""
    allowed = []
    for topic in writes(service):  # CREATE: the outbox creates its topic on a fresh cluster itself
        allowed += [("TOPIC", topic, op) for op in ("WRITE", "DESCRIBE", "CREATE")]
    for topic in CONSUMES[service]:
        allowed += [("TOPIC", topic, op) for op in ("READ", "DESCRIBE")]
    if CONSUMES[service]:
        allowed.append(("GROUP", service, "READ"))
    return allowed


def acls() -> list:
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType
    return [ACL(principal=f"User:{service}", host="*", operation=ACLOperation[op],
                permission_type=ACLPermissionType.ALLOW,
                resource_pattern=ResourcePattern(ResourceType[kind], name, ACLResourcePatternType.LITERAL))
            for service in SERVICES for kind, name, op in permissions(service)]


def setup(admin_config: dict, passwords: dict[str, str] | None = None, partitions: int = 3,
          replication: int = 1, topic_configs: dict[str, str] | None = None) -> list[str]:
    """Users (when passwords are given), topics and ACLs, idempotently, as the admin user.
    Returns what it changed (for the Job's log)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic, ScramMechanism, \
        UserScramCredentialUpsertion
    from kafka.errors import TopicAlreadyExistsError
    topic_configs = topic_configs or {}
    changed = []
    admin = KafkaAdminClient(**admin_config, client_id="passport-kafka-setup", request_timeout_ms=15000)
    try:
        if passwords:
            failed = {user: error for user, error in admin.alter_user_scram_credentials([
                UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, password)
                for user, password in passwords.items()]).items() if error}
            if failed:
                raise RuntimeError(f"Kafka refused to set the SCRAM credentials of {sorted(failed)}: {failed}")
        existing = set(admin.list_topics())
        wanted = [NewTopic(t, partitions, replication, topic_configs=topic_configs)
                  for t in all_topics() if t not in existing]
        if wanted:
            try:
                admin.create_topics(wanted)
                changed += [f"created topic {t.name}" for t in wanted]
            except TopicAlreadyExistsError:
                pass
        present = [t for t in all_topics() if t in existing]
        if present and topic_configs:  # incremental: other settings of the topic stay as they are
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t, configs=dict(topic_configs))
                                 for t in present])
        grow = {}
        for desc in admin.describe_topics(present) if present else []:
            if len(desc.get("partitions", [])) < partitions:
                grow[desc.get("topic") or desc.get("name")] = NewPartitions(partitions)
        if grow:  # partitions only ever grow (a key's partition moves: ordering per key restarts)
            admin.create_partitions(grow)
            changed += [f"topic {t} grown to {partitions} partitions" for t in grow]
        result = admin.create_acls(acls())  # an ACL that exists already is accepted again, unchanged
        if result.get("failed"):
            raise RuntimeError(f"Kafka refused ACLs: {result['failed'][:3]}")
    finally:
        admin.close()
    return changed


def main(argv=None) -> None:
    from servicekit import kafka
    from servicekit.config import env_int
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["setup", "show"])
    parser.add_argument("--passwords", type=Path, help="JSON {user: password} of the service users to create or update")
    args = parser.parse_args(argv)
    if args.command == "show":
        for service in SERVICES:
            for kind, name, op in permissions(service):
                print(f"User:{service:<20} ALLOW {op:<9} {kind:<6} {name}")
        return
    passwords = json.loads(args.passwords.read_text()) if args.passwords else None
    unknown = set(passwords or {}) - set(SERVICES)
    if unknown:
        sys.exit(f"--passwords names users that are not services: {sorted(unknown)}")
    partitions, replication, configs = kafka.topic_settings()
    deadline = time.monotonic() + env_int("KAFKA_SETUP_TIMEOUT_S", 0)
    while True:  # a broker that is still starting (a fresh cluster's hook Job) is waited for, bounded
        try:
            changed = setup(kafka.client_config(), passwords, partitions, replication, configs)
            break
        except Exception as exc:  # noqa: BLE001 - any failure is retried until the deadline, then raised
            if time.monotonic() >= deadline:
                raise
            print(f"Kafka not ready for the setup yet ({exc}); retrying", file=sys.stderr)
            time.sleep(3)
    for line in changed:
        print(line)
    print(f"Kafka users {sorted(passwords or {})} set; topics ({partitions} partitions, replication {replication}, "
          f"{configs}) and ACLs of {len(SERVICES)} services in place")


if __name__ == "__main__":
    main()
