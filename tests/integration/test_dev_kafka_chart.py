"""The development Kafka chart and the platform chart's topics Job, without a cluster: the broker
runs the start script that `helm template deploy/helm/dev-kafka` renders (paths mapped to a temporary
directory, the local stack's Kafka jars, ports PASSPORT_TEST_PORT_BASE + 990/991), with its SCRAM
users and certificate as the chart's Secrets would mount them; then the hook Job's command
(`python -m servicekit.kafka_access setup`, as the chart sets its environment) makes the topics with
min.insync.replicas and the ACLs, and a second run grows the partitions. A service's user writes its
own topic and is refused another's; a wrong password gets nothing."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from deploy.local.stack import KAFKA_LIB
from servicekit import kafka_access, tls

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PASSPORT_CACHE", Path.home() / ".cache/passport-platform"))
HELM = CACHE / "tools/helm-v3.22.0/helm"
PORT = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000")) + 990
CONTROLLER_PORT = PORT + 1


def rendered(chart: str, *args: str) -> list[dict]:
    if not HELM.is_file():
        subprocess.run(["bash", str(REPO / "deploy/helm/validate.sh")], check=True, capture_output=True, timeout=1800)
    out = subprocess.run([str(HELM), "template", chart, str(REPO / "deploy/helm" / chart), *args],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def broker():
    subprocess.run(["bash", str(REPO / "deploy/local/provision.sh")], check=True, capture_output=True, timeout=1800)
    work = Path(tempfile.mkdtemp(prefix="passport-dev-kafka-"))
    # The certificate the chart reads from Secret kafka-tls (DNS name "localhost" among others), and the
    # users of Secret passport-kafka-users: one file per key, as the volume mounts them.
    keys = work / "keys"
    tls.make_local_ca(keys, identities=("kafka",))
    files = tls.local_files(keys, "kafka")
    (work / "tls").mkdir()
    for name, src in (("ca.crt", files.ca), ("tls.crt", files.cert), ("tls.key", files.key)):
        (work / "tls" / name).write_bytes(src.read_bytes())
    passwords = {u: secrets.token_urlsafe(24) for u in (kafka_access.ADMIN, "broker", *kafka_access.SERVICES)}
    (work / "users").mkdir()
    for user, password in passwords.items():
        (work / "users" / user).write_text(password)
    (work / "data").mkdir()
    config = next(d for d in rendered("dev-kafka", "--set", "sasl.advertisedHost=localhost")
                  if d["kind"] == "ConfigMap")["data"]
    script = config["start.sh"]
    for old, new in (("/var/lib/kafka", work / "data"), ("/etc/kafka-tls", work / "tls"),
                     ("/etc/kafka-users", work / "users"), ("/opt/kafka/lib", KAFKA_LIB),
                     ("/etc/kafka/log4j2.yaml", work / "log4j2.yaml"),
                     ("0.0.0.0:9092", "127.0.0.1:9092"),  # this machine is shared: loopback only
                     (":9092", f":{PORT}"), (":9093", f":{CONTROLLER_PORT}")):
        script = script.replace(old, str(new))
    (work / "start.sh").write_text(script)
    (work / "log4j2.yaml").write_text(config["log4j2.yaml"])
    log = open(work / "kafka.log", "w")
    proc = subprocess.Popen(["sh", str(work / "start.sh")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240  # a JVM on a loaded 2-core machine
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", PORT)) == 0:
                    break
            assert proc.poll() is None, (work / "kafka.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the broker did not listen within 240 s"
            time.sleep(1)
        yield {"work": work, "passwords": passwords, "cafile": str(work / "tls/ca.crt"), "log": work / "kafka.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)


def job_env(broker, partitions: int) -> dict:
    """The environment the passport-platform chart gives its kafka-setup hook Job (default values)."""
    job = next(d for d in rendered_platform() if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "servicekit.kafka_access", "setup"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    env.update(KAFKA_BOOTSTRAP_SERVERS=f"localhost:{PORT}", KAFKA_SSL_CAFILE=broker["cafile"],
               KAFKA_SASL_PASSWORD=broker["passwords"]["admin"], KAFKA_TOPIC_PARTITIONS=str(partitions))
    return env


_PLATFORM: list[dict] = []


def rendered_platform() -> list[dict]:
    """The umbrella chart renders with its file:// dependencies built in a copy."""
    if not _PLATFORM:
        import shutil
        tmp = Path(tempfile.mkdtemp(prefix="passport-dev-kafka-charts-"))
        try:
            shutil.copytree(REPO / "deploy/helm", tmp / "charts")
            for c in ("booking", "payment", "biometrics-capture", "notification", "complaint", "gateway", "web",
                      "passport-platform"):
                subprocess.run([str(HELM), "dependency", "build", str(tmp / "charts" / c)], check=True,
                               capture_output=True, timeout=300)
            out = subprocess.run([str(HELM), "template", "passport", str(tmp / "charts/passport-platform")],
                                 check=True, capture_output=True, text=True, timeout=300).stdout
            _PLATFORM.extend(d for d in yaml.safe_load_all(out) if d)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _PLATFORM


def run_job(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servicekit.kafka_access", "setup"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def client(broker, user: str, password: str | None = None) -> dict:
    return {"bootstrap_servers": f"localhost:{PORT}", "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
            "sasl_plain_password": password or broker["passwords"][user], "ssl_cafile": broker["cafile"]}


def test_the_hook_job_makes_topics_with_their_settings_and_the_acls(broker):
    done = run_job(job_env(broker, partitions=3))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "created topic booking.events" in done.stdout
    grown = run_job(job_env(broker, partitions=4))  # pre-upgrade with more partitions: idempotent, grows
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert "topic booking.events grown to 4 partitions" in grown.stdout
    admin = KafkaAdminClient(**client(broker, "admin"))
    try:
        assert set(kafka_access.all_topics()) <= set(admin.list_topics())
        assert len(admin.describe_topics(["booking.events"])[0]["partitions"]) == 4
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "booking.events",
                                                         ["min.insync.replicas"])])
        entry = configs["topic"]["booking.events"]["min.insync.replicas"]
        assert entry["value"] == "1" and entry["config_source"] == "DYNAMIC_TOPIC_CONFIG", entry
    finally:
        admin.close()


def test_a_service_user_writes_its_own_topic_only_and_a_wrong_password_gets_nothing(broker):
    assert run_job(job_env(broker, partitions=4)).returncode == 0
    producer = KafkaProducer(**client(broker, "booking"), max_block_ms=15000)
    try:
        producer.send("booking.events", b"{}").get(timeout=15)
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("payment.events", b"{}").get(timeout=15)
    finally:
        producer.close()
    with pytest.raises(KafkaError):
        KafkaProducer(**client(broker, "booking", password="not-the-password"), max_block_ms=5000) \
            .send("booking.events", b"{}").get(timeout=5)
    log = broker["log"].read_text()
    assert "Denied operation = WRITE" in log and "User:booking" in log
    # The format step's output (the users' salted keys) is not in the log.
    assert "UserScramCredentialRecord" not in log and "storedKey" not in log
    assert not any(p in log for p in broker["passwords"].values())


def test_the_services_charts_create_no_topics():
    for d in rendered_platform():
        if d["kind"] != "Deployment":
            continue
        env = {e["name"]: e.get("value") for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        if "KAFKA_BOOTSTRAP_SERVERS" in env:
            assert env["KAFKA_CREATE_TOPICS"] == "0", d["metadata"]["name"]
