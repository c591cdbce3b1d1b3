"""Kafka client settings and the ACL plan: authenticated by default, plain text only as an explicit
local opt-out; each service's user writes its own topic and reads what it consumes."""
from __future__ import annotations

import pytest

from servicekit import kafka, kafka_access
from servicekit.config import ConfigError
from servicekit.events import TOPICS


def test_sasl_ssl_is_the_default_and_needs_a_user(monkeypatch, tmp_path):
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE",
                 "PASSPORT_LOCAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME"):
        kafka.client_config()
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "booking")
    with pytest.raises(ConfigError, match="KAFKA_SASL_PASSWORD"):
        kafka.client_config()
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-from-a-Secret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "missing.crt"))
    with pytest.raises(ConfigError, match="KAFKA_SSL_CAFILE"):
        kafka.client_config()
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "ca.crt"))
    config = kafka.client_config()
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "booking" and config["ssl_cafile"] == str(tmp_path / "ca.crt")


def test_plaintext_only_in_explicit_local_mode(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.delenv("PASSPORT_LOCAL_MODE", raising=False)
    with pytest.raises(ConfigError, match="local opt-out"):
        kafka.client_config()
    monkeypatch.setenv("PASSPORT_LOCAL_MODE", "1")
    assert kafka.client_config()["security_protocol"] == "PLAINTEXT"
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    with pytest.raises(ConfigError, match="KAFKA_SECURITY_PROTOCOL"):
        kafka.client_config()


def test_each_service_writes_only_its_own_topics():
    for service in kafka_access.SERVICES:
        written = {name for kind, name, op in kafka_access.permissions(service) if op == "WRITE"}
        assert TOPICS[service] in written
        assert written <= {TOPICS[service], f"{service}.dlq"}, service


def test_reads_are_the_consumed_topics_with_the_services_own_group():
    for service in kafka_access.SERVICES:
        allowed = kafka_access.permissions(service)
        read = {name for kind, name, op in allowed if kind == "TOPIC" and op == "READ"}
        groups = {name for kind, name, op in allowed if kind == "GROUP"}
        assert read == set(kafka_access.CONSUMES[service])
        assert groups == ({service} if read else set())
    assert not any(op in ("ALL", "ALTER", "DELETE") for s in kafka_access.SERVICES
                   for _k, _n, op in kafka_access.permissions(s))
    assert set(kafka_access.CONSUMES["payment"]) == {TOPICS["booking"]}  # settles nothing from other topics


def test_topic_settings_come_from_the_environment(monkeypatch):
    for name in ("KAFKA_TOPIC_PARTITIONS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
        monkeypatch.delenv(name, raising=False)
    assert kafka.topic_settings() == (3, 1, {"min.insync.replicas": "1"})
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "12")
    assert kafka.topic_settings() == (12, 3, {"min.insync.replicas": "2"})  # one broker may be lost
    monkeypatch.setenv("KAFKA_MIN_INSYNC_REPLICAS", "4")
    with pytest.raises(ConfigError, match="KAFKA_MIN_INSYNC_REPLICAS"):
        kafka.topic_settings()


def test_a_cluster_service_creates_no_topic(monkeypatch):
    """KAFKA_CREATE_TOPICS=0: ensure_topics returns before it opens any connection (the charts set
    it; the Helm hook Job made the topics). With no broker at that address, a connection would fail."""
    monkeypatch.setenv("KAFKA_CREATE_TOPICS", "0")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    kafka.ensure_topics(["booking.events"], "test")
    assert kafka.ensure_topics_quietly(["booking.events"], "test") is True
