"""The local stack: Kafka (KRaft), FerretDB, the five services and the gateway as background
processes on loopback, with their data, logs and process ids in one run directory.

    python -m deploy.local.stack up|down|status|watch --run-dir .run [--port-base N]

Integration tests use the same class with their own run directory and port block, so they
never touch the data of `make up`. `make up` also starts a watcher that restarts any process of
the stack that dies, as Kubernetes would (`watch`; restarts are logged in logs/watcher.log and
counted by `make status`).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.config import DEMO_SECRETS

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PASSPORT_CACHE", Path.home() / ".cache" / "passport-platform"))
KAFKA_LIB = CACHE / "kafka-4.3.1" / "lib"
FERRETDB_BIN = CACHE / "ferretdb-v1.24.2-p4" / "localferretdb"  # see deploy/local/provision.sh

SERVICES = ["booking", "payment", "biometrics-capture", "notification", "complaint"]
MODULES = {s: "services." + s.replace("-", "_") for s in SERVICES}

# Demo secrets for a local stack only (services accept them in the explicit local mode); a cluster
# takes its own from Kubernetes Secrets.
LOCAL_SECRETS = {**{k: v for k, v in DEMO_SECRETS.items() if k != "SMS_GATEWAY_TOKEN"}, "PASSPORT_LOCAL_MODE": "1"}
DEMO_STAFF = [
    {"role": "OFFICER", "email": "officer@tbk.imigrasi.example", "password": "Officer-Demo-2026!",
     "full_name": "Demo Officer TBK", "office_id": "TBK"},
    {"role": "SUPERVISOR", "email": "supervisor@tbk.imigrasi.example", "password": "Supervisor-Demo-2026!",
     "full_name": "Demo Supervisor TBK", "office_id": "TBK"},
]
# A head of office for every other office of offices.json, so each office's console can be used after
# `make up` (issue 17). The passwords of BTM and DPS are the ones the integration tests already use.
_SUPERVISOR_PASSWORDS = {"BTM": "Supervisor-BTM-2026!", "DPS": "Supervisor-Dps-2026!"}
OFFICE_SUPERVISORS = [
    {"role": "SUPERVISOR", "email": f"supervisor@{o['office_id'].lower()}.imigrasi.example",
     "password": _SUPERVISOR_PASSWORDS.get(o["office_id"], f"Supervisor-{o['office_id']}-2026!"),
     "full_name": f"Demo Supervisor {o['office_id']}", "office_id": o["office_id"]}
    for o in json.loads((REPO / "services" / "booking" / "offices.json").read_text())["offices"]
    if o["office_id"] != "TBK"]


@dataclass
class Ports:
    """Where one local stack listens.

    Base 0 is `make up`: the well-known ports (gateway 8080, gRPC 50051.., Kafka 9092, FerretDB 27017).
    Any other base is a compact block [base, base + 100) for tests and benchmarks: infrastructure
    at base + 0..9, gRPC at base + 10.., metrics at base + 50... Pick bases below 32768 so that no
    port lies in Linux's ephemeral range (32768-60999), where an outgoing connection of the same
    machine may already hold it when a server starts (that made a CI run fail once).
    """
    base: int = 0
    booking_replicas: int = 1
    MAX_REPLICAS = 4  # gRPC and metrics of one service are 10 apart per replica inside the block

    def __post_init__(self):
        if not 1 <= self.booking_replicas <= self.MAX_REPLICAS:
            raise ValueError(f"booking_replicas must be 1..{self.MAX_REPLICAS}")

    def _at(self, well_known: int, slot: int) -> int:
        return well_known if self.base == 0 else self.base + slot

    @property
    def kafka(self): return self._at(9092, 0)
    @property
    def kafka_controller(self): return self._at(9093, 1)
    @property
    def mongo(self): return self._at(27017, 2)
    @property
    def smtp(self): return self._at(2525, 3)
    @property
    def sms(self): return self._at(8025, 4)
    @property
    def gateway(self): return self._at(int(os.environ.get("GATEWAY_PORT", 8080)), 5)
    @property
    def bank(self): return self._at(8090, 6)  # the bank simulator
    @property
    def web(self): return self._at(int(os.environ.get("WEB_PORT", 8081)), 7)  # the applicant web app
    @property
    def spare(self): return self._at(8099, 9)  # free for a helper process of a test or benchmark

    def grpc(self, service: str, replica: int = 0) -> int:
        step = SERVICES.index(service) + 10 * replica
        return self._at(50051 + step, 10 + step)

    def metrics(self, service: str, replica: int = 0) -> int:
        step = SERVICES.index(service) + 10 * replica
        return self._at(9101 + step, 50 + step)

    def address(self, service: str) -> str:
        replicas = self.booking_replicas if service == "booking" else 1
        return ",".join(f"127.0.0.1:{self.grpc(service, r)}" for r in range(replicas))


@dataclass
class Stack:
    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    gateway_workers: int = 4
    extra_env: dict = field(default_factory=dict)
    watch: bool = False  # run the watcher that restarts crashed processes

    def __post_init__(self):
        from servicekit import identity, tls
        self.run_dir = Path(self.run_dir).resolve()
        for sub in ("logs", "pids", "commands", "restarts", "data/kafka", "data/ferretdb"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        # This stack's own CA, one certificate per service identity, and the gateway's identity key.
        tls.make_local_ca(self.tls_dir)
        self.identity_env = identity.make_local_keys(self.tls_dir)
        self.kafka_passwords = _kafka_passwords(self.tls_dir / "kafka-users.json")

    @property
    def tls_dir(self) -> Path:
        return self.run_dir / "tls"

    def tls(self, identity: str):
        """The certificate files of one identity (tests call services as 'gateway' or as a peer)."""
        from servicekit import tls
        return tls.local_files(self.tls_dir, identity)

    def identity_env_of(self, identity: str) -> dict:
        """What a process of `identity` needs to talk gRPC: its certificate; the gateway also signs."""
        from servicekit import tls
        env = {**tls.env_for(self.tls(identity)), "IDENTITY_VERIFY_KEYS": self.identity_env["IDENTITY_VERIFY_KEYS"]}
        if identity == "gateway":
            env.update(self.identity_env)
        return env

    # -- Kafka users: SASL/SCRAM over TLS, one user per service (servicekit/kafka_access.py) ----
    def kafka_env(self, user: str) -> dict:
        """The servicekit.kafka settings of a process that talks to Kafka as `user`."""
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": self.kafka_passwords[user],
                "KAFKA_SSL_CAFILE": str(self.tls_dir / "ca.crt")}

    def kafka_config(self, user: str = "admin") -> dict:
        """kafka-python keyword arguments for a test or tool acting as `user` ('admin': a super user;
        a service name: that service's rights, e.g. to write its topic)."""
        return {"bootstrap_servers": f"127.0.0.1:{self.ports.kafka}", "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": user,
                "sasl_plain_password": self.kafka_passwords[user], "ssl_cafile": str(self.tls_dir / "ca.crt")}

    # -- environment handed to every platform process ---------------------------------------
    def env(self) -> dict:
        env = dict(os.environ)
        env.update(LOCAL_SECRETS)
        env.update({
            "PYTHONPATH": f"{REPO}:{REPO / 'libs'}:{REPO / 'gen' / 'python'}",
            "PYTHONUNBUFFERED": "1",
            "MONGO_URI": f"mongodb://127.0.0.1:{self.ports.mongo}/",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.ports.kafka}",
            "RUN_DIR": str(self.run_dir),
            "TRACES_DIR": str(self.run_dir / "traces"),  # spans as JSON lines (servicekit/tracing.py)
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.ports.smtp),
            "SMS_GATEWAY_URL": f"http://127.0.0.1:{self.ports.sms}/messages", "SMS_GATEWAY_TOKEN": DEMO_SECRETS["SMS_GATEWAY_TOKEN"],
            "BANK_API_URL": f"http://127.0.0.1:{self.ports.bank}",
            "WEB_BASE_URL": self.web_url,  # messages link to the applicant web app's booking proof
            "BANK_SIMULATOR_STATE": str(self.run_dir / "bank_simulator.jsonl"),
            "GRPC_BIND_HOST": "127.0.0.1",  # a local stack is reachable from this machine only
            # Every person of a local stack (tests, benchmarks, the web app) comes from 127.0.0.1:
            # the web app's forwarded address is believed, and per-address limits are out of the way.
            "GATEWAY_TRUSTED_PROXIES": "127.0.0.1",
            "LOGIN_ATTEMPTS_PER_CLIENT": "1000000", "REGISTRATIONS_PER_CLIENT": "1000000",
            "PASSWORD_RESETS_PER_CLIENT": "1000000",
            # The demo staff sign in with their password until they enrol an authenticator app
            # (the console offers it); production requires it (STAFF_TOTP=required, the default).
            "STAFF_TOTP": "optional",
        })
        for s in SERVICES:
            env[f"{s.upper().replace('-', '_')}_ADDR"] = self.ports.address(s)
        env.update(self.extra_env)
        return env

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    # -- processes ---------------------------------------------------------------------------
    def _pidfile(self, name: str) -> Path:
        return self.run_dir / "pids" / f"{name}.pid"

    def running(self, name: str) -> int | None:
        """The recorded pid, if that process is alive and is still the one we started."""
        try:
            pid = int(self._pidfile(name).read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid if str(self.run_dir) in cmdline or f"--run-marker={self.run_dir}" in cmdline else None

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen | None:
        if self.running(name):
            return None
        env = env or self.env()
        # What the watcher needs to start it again (local demo secrets included: owner-only file).
        command = self.run_dir / "commands" / f"{name}.json"
        command.touch(mode=0o600)
        command.write_text(json.dumps({"argv": argv, "env": env}))
        return self._spawn(name, argv, env)

    def _spawn(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.run_dir / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                env=env, start_new_session=True)
        self._pidfile(name).write_text(str(proc.pid))
        return proc

    def stop(self, name: str, timeout_s: float = 15) -> None:
        pid = self.running(name)
        self._pidfile(name).unlink(missing_ok=True)  # first, so the watcher does not start it again
        if pid:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _zombie(pid):
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists() and not _zombie(pid):
                os.killpg(pid, signal.SIGKILL)
        self._pidfile(name).unlink(missing_ok=True)

    def kill(self, name: str, crash: bool = False) -> None:
        """SIGKILL. `crash`: as a crash would, leaving the process recorded, so the watcher starts
        it again; else it stays down until started (fault tests that restart it themselves)."""
        pid = self.running(name)
        if not crash:
            self._pidfile(name).unlink(missing_ok=True)
        if pid:
            os.killpg(pid, signal.SIGKILL)
            while Path(f"/proc/{pid}").exists() and not _zombie(pid):
                time.sleep(0.05)

    def restarts(self, name: str) -> int:
        try:
            return int((self.run_dir / "restarts" / name).read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def watch_forever(self, interval_s: float = 1.0) -> None:
        """Restart every recorded process that died, as Kubernetes restarts a crashed container:
        at once the first time, then with a back-off doubling up to 30 s while it keeps dying
        within a minute of its start. Stops when its own pid file is removed (`down`)."""
        log = logging.getLogger("watcher")
        me = self._pidfile("watcher")
        children: dict[str, subprocess.Popen] = {}
        backoff: dict[str, tuple[float, float]] = {}  # name -> (not before, next delay)
        while me.exists():
            for pidfile in sorted((self.run_dir / "pids").glob("*.pid")):
                name = pidfile.stem
                if name == "watcher" or self.running(name):
                    continue
                command = self.run_dir / "commands" / f"{name}.json"
                not_before, delay = backoff.get(name, (0.0, 1.0))
                if not command.exists() or time.monotonic() < not_before or not pidfile.exists():
                    continue
                spec = json.loads(command.read_text())
                children[name] = self._spawn(name, spec["argv"], spec["env"])
                count = self.restarts(name) + 1
                (self.run_dir / "restarts" / name).write_text(str(count))
                backoff[name] = (time.monotonic() + delay, min(delay * 2, 30.0))
                log.warning(json.dumps({"msg": "restarted a process that had died", "process": name,
                                        "restarts": count}))
            for name, (not_before, delay) in list(backoff.items()):
                if self.running(name) and time.monotonic() > not_before + 60:
                    del backoff[name]  # it stayed up: the next crash restarts at once again
            for proc in children.values():
                proc.poll()  # reap exited children
            time.sleep(interval_s)

    def start_watcher(self) -> None:
        self.start("watcher", [sys.executable, "-m", "deploy.local.stack", "watch", "--run-dir", str(self.run_dir)])

    # -- servers -----------------------------------------------------------------------------
    def start_ferretdb(self) -> None:
        self.start("ferretdb", [str(FERRETDB_BIN), "-listen", f"127.0.0.1:{self.ports.mongo}",
                                "-dir", str(self.run_dir / "data" / "ferretdb")])
        _wait_port(self.ports.mongo, "FerretDB", 30)

    def start_kafka(self) -> None:
        """One KRaft node. Clients: SASL_SSL with SCRAM-SHA-512 users (created at format time) and the
        StandardAuthorizer's ACLs; the controller link: TLS with client certificates. Every certificate
        comes from this stack's CA (tls/)."""
        data = self.run_dir / "data" / "kafka"
        keystore = self.tls_dir / "kafka.pem"  # Kafka's PEM keystore: private key then certificate
        keystore.touch(mode=0o600)
        keystore.write_bytes(self.tls("kafka").key.read_bytes() + self.tls("kafka").cert.read_bytes())
        broker = self.kafka_passwords["broker"]
        props = data / "server.properties"
        props.touch(mode=0o600)  # it holds the broker's own password
        props.write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.ports.kafka_controller}",
            f"listeners=SASL_SSL://127.0.0.1:{self.ports.kafka},CONTROLLER://127.0.0.1:{self.ports.kafka_controller}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{self.ports.kafka}",
            "controller.listener.names=CONTROLLER", "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512", "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule"
            f' required username="broker" password="{broker}";',
            "ssl.keystore.type=PEM", f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM", f"ssl.truststore.location={self.tls_dir / 'ca.crt'}",
            "listener.name.controller.ssl.client.auth=required",
            # SCRAM cannot authenticate the controller link in KRaft: its certificate (CN=kafka) does.
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:admin;User:broker;User:CN=kafka", "allow.everyone.if.no.acl.found=false",
            f"log.dirs={data / 'logs'}", "num.partitions=3",
            "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1", "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=false",
            # the controller appends a no-op record to the metadata log when idle (default every
            # 500 ms) so brokers notice a lost controller; one node has no one to tell quickly
            "metadata.max.idle.interval.ms=5000",
            # threads sized for one node on a small host (defaults: 8 request handlers for the broker
            # and 8 for the controller, 3 + 3 network threads, 10 background, 4 group coordinator):
            # each idle thread wakes a few times a second, ~0.02% of a core apiece
            "num.io.threads=2", "num.network.threads=2", "background.threads=2", "group.coordinator.threads=1", "",
        ]))
        (data / "log4j2.yaml").write_text(_LOG4J2)
        classpath = f"{KAFKA_LIB}/*"
        marker = data / "scram-users"  # formatted with this stack's users (older run dirs were not)
        if (data / "logs" / "meta.properties").exists() and not marker.exists():
            aside = data / f"logs.plaintext-{int(time.time())}"
            print(f"Kafka data of this run directory predates SASL users: moved aside to {aside}", file=sys.stderr)
            (data / "logs").rename(aside)
        if not (data / "logs" / "meta.properties").exists():
            cluster_id = _kafka_uuid()  # what `StorageTool random-uuid` prints, without starting a JVM for it
            users = [a for user, password in self.kafka_passwords.items()
                     for a in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")]
            subprocess.run(["java", "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                            "-c", str(props), "--ignore-formatted", *users], check=True, capture_output=True)
            marker.write_text("\n".join(self.kafka_passwords) + "\n")
        self.start("kafka", ["java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC",
                             f"-Dlog4j2.configurationFile={data / 'log4j2.yaml'}",
                             f"-Dkafka.logs.dir={self.run_dir / 'logs'}",
                             "-cp", classpath, "kafka.Kafka", str(props)])
        _wait_port(self.ports.kafka, "Kafka", 180)  # a JVM on a loaded 2-core machine
        self.wait_kafka_ready()
        # Topics and ACLs, as the admin, before any service starts (idempotent on a restart). Right after
        # its start a loaded node may still refuse metadata writes for a while: retried.
        from servicekit import kafka_access
        deadline = time.monotonic() + 90
        while True:
            try:
                kafka_access.setup(self.kafka_config("admin"),
                                   partitions=int(self.env().get("KAFKA_TOPIC_PARTITIONS", 3)))
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kafka topics and ACLs could not be set up: {exc}") from exc
                print(f"Kafka topics and ACLs not set up yet ({exc}); retrying", file=sys.stderr)
                time.sleep(1)

    def wait_kafka_ready(self, timeout_s: float = 120) -> None:
        from kafka import KafkaAdminClient
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                admin = KafkaAdminClient(**self.kafka_config("admin"), request_timeout_ms=5000)
                admin.list_topics()
                admin.close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("Kafka did not become ready; see logs/kafka.log")
                time.sleep(0.5)

    def start_service(self, service: str, replica: int = 0) -> None:
        name = service if replica == 0 else f"{service}-{replica}"
        env = self.env()
        env.update(self.identity_env_of(service))
        env.update(self.kafka_env(service))
        env["GRPC_PORT"] = str(self.ports.grpc(service, replica))
        env["METRICS_PORT"] = str(self.ports.metrics(service, replica))
        self.start(name, [sys.executable, "-m", MODULES[service], f"--run-marker={self.run_dir}"], env)

    def start_bank_simulator(self) -> None:
        self.start("bank-simulator", [sys.executable, "-m", "deploy.local.bank_simulator", "serve",
                                      "--port", str(self.ports.bank), f"--run-marker={self.run_dir}"])
        _wait_port(self.ports.bank, "bank simulator", 15)

    def start_gateway(self) -> None:
        prom_dir = self.run_dir / "prometheus-gateway"  # prometheus_client multiprocess files
        if not self.running("gateway"):
            for f in prom_dir.glob("*.db"):
                f.unlink()
        prom_dir.mkdir(exist_ok=True)
        env = {**self.env(), **self.identity_env_of("gateway")}
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)
        self.start("gateway", [
            str(Path(sys.executable).parent / "gunicorn"), "--workers", str(self.gateway_workers),
            "--worker-class", "services.gateway.worker.ArrivalStampedWorker", "--bind", f"127.0.0.1:{self.ports.gateway}",
            "--graceful-timeout", "10", "--timeout", "30",  # access log: JSON by the app (services/gateway/accesslog.py)
            "--config", "python:services.gateway.gunicorn_conf",
            f"--env=RUN_MARKER={self.run_dir}", "services.gateway.wsgi:app"], env)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    def start_web(self, extra_env: dict | None = None) -> None:
        """The applicant web app (services/web): one process with threads; its sessions live in its own
        database (passport_web on the stack's FerretDB, through MONGO_URI), sealed with WEB_SESSION_KEYS."""
        env = {**self.env(), "GATEWAY_URL": self.gateway_url, **(extra_env or {})}
        self.start("web", [
            str(Path(sys.executable).parent / "gunicorn"), "--workers", "1", "--threads", "16",
            "--bind", f"127.0.0.1:{self.ports.web}", "--graceful-timeout", "10", "--timeout", "60",
            f"--env=RUN_MARKER={self.run_dir}", "services.web.wsgi:app"], env)
        _wait_http(f"{self.web_url}/healthz", 30)

    def wait_healthy(self, timeout_s: float = 60) -> None:
        from servicekit.grpcserver import wait_healthy
        deadline = time.monotonic() + timeout_s
        for s in SERVICES:
            replicas = self.ports.booking_replicas if s == "booking" else 1
            for r in range(replicas):
                name = s if r == 0 else f"{s}-{r}"
                # short probes, so a process that died (e.g. could not bind its port) fails at once
                while not wait_healthy(f"127.0.0.1:{self.ports.grpc(s, r)}", 2, self.tls("gateway")):
                    if not self.running(name) or time.monotonic() > deadline:
                        state = "exited" if not self.running(name) else "did not become healthy"
                        raise RuntimeError(f"{name} {state}; last lines of {self.run_dir}/logs/{name}.log:\n"
                                           + self.log_tail(name))
        _wait_http(f"{self.gateway_url}/readyz/dependencies", max(1.0, deadline - time.monotonic()))

    def log_tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join((self.run_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def start_sinks(self) -> None:
        """Local SMTP server (maildir run_dir/mail) and SMS gateway (run_dir/sms.jsonl) for notifications."""
        self.start("smtp-sink", [sys.executable, "-m", "deploy.local.sinks", "smtp", "--port", str(self.ports.smtp),
                                 "--dir", str(self.run_dir / "mail")])
        self.start("sms-sink", [sys.executable, "-m", "deploy.local.sinks", "sms", "--port", str(self.ports.sms),
                                "--file", str(self.run_dir / "sms.jsonl"), "--token", DEMO_SECRETS["SMS_GATEWAY_TOKEN"]])
        _wait_port(self.ports.smtp, "SMTP sink", 30)
        _wait_port(self.ports.sms, "SMS sink", 30)

    def up(self) -> None:
        self.start_ferretdb()
        self.start_kafka()
        self.start_sinks()
        for s in SERVICES:
            replicas = self.ports.booking_replicas if s == "booking" else 1
            for r in range(replicas):
                self.start_service(s, r)
        self.start_bank_simulator()
        self.start_gateway()
        self.wait_healthy()
        if self.watch:
            self.start_watcher()

    def down(self) -> None:
        self.stop("watcher")
        for name in sorted(p.stem for p in (self.run_dir / "pids").glob("*.pid")):
            if name not in ("kafka", "ferretdb"):
                self.stop(name)
        self.stop("kafka", 30)
        self.stop("ferretdb")

    def seed_demo(self) -> list[dict]:
        """Demo staff accounts (idempotent); offices and slots are the booking service's own data."""
        out = subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff",
                              json.dumps(DEMO_STAFF + OFFICE_SUPERVISORS)], env=self.env(), cwd=REPO,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"seeding staff failed: {out.stderr.strip()}")
        return DEMO_STAFF + OFFICE_SUPERVISORS

    def rotate_keys(self, keys_env: dict | None = None) -> list[str]:
        """Each service's rotate-keys command against this stack's store (`make rotate-keys`): records
        under an older key or still in clear are sealed under the first key. `keys_env` overrides
        the key settings (tests rotate to a new key with it)."""
        lines = []
        for module in ("services.booking.cli", "services.biometrics_capture.cli", "services.complaint.cli"):
            out = subprocess.run([sys.executable, "-m", module, "rotate-keys"], env={**self.env(), **(keys_env or {})},
                                 cwd=REPO, capture_output=True, text=True)
            if out.returncode not in (0, 2):  # 2: a record changed meanwhile, run it again
                raise RuntimeError(f"{module} rotate-keys failed: {out.stderr.strip()[-2000:]}")
            lines += out.stdout.splitlines()
        return lines


def _kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'."""
    import base64
    while True:
        uuid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not uuid.startswith("-"):
            return uuid


def _kafka_passwords(path: Path) -> dict[str, str]:
    """This stack's Kafka users and their passwords, made once per run directory (owner-only file):
    the admin (topics, ACLs; tests read with it), the broker's own, one per service."""
    from servicekit.kafka_access import ADMIN, SERVICES
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        pass
    passwords = {user: secrets.token_urlsafe(24) for user in (ADMIN, "broker", *SERVICES)}
    path.touch(mode=0o600)
    path.write_text(json.dumps(passwords, indent=1))
    return passwords


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_port(port: int, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not open port {port}")


def _wait_http(url: str, timeout_s: float) -> None:
    import urllib.request
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200")


_LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaServer
        level: INFO
      # who failed to authenticate, and what the ACLs denied to whom: the trail of an attack
      - name: org.apache.kafka.common.network.Selector
        level: INFO
      - name: kafka.authorizer.logger
        level: INFO
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "watch", "rotate-keys"])
    parser.add_argument("--run-dir", default=".run")
    parser.add_argument("--port-base", type=int, default=0, help="0: well-known ports; else a block of 100 from here")
    args = parser.parse_args()
    stack = Stack(Path(args.run_dir), Ports(base=args.port_base), watch=True)
    if args.command == "watch":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        stack.watch_forever()
    elif args.command == "up":
        print(f"starting the stack; data and logs in {stack.run_dir}", flush=True)
        stack.up()
        staff = stack.seed_demo()
        stack.start_web()
        print(f"\nPassport platform is up.\n  Web app:  {stack.web_url}   (for applicants, Bahasa Indonesia / English)\n"
              f"  Staff console: {stack.web_url}/petugas   (officers and heads of office; TV display: /antrean/TBK)\n"
              f"  Gateway:  {stack.gateway_url}\n"
              f"  API docs: {stack.gateway_url}/docs\n  Metrics:  {stack.gateway_url}/metrics\n"
              f"  Logs:     make logs   (files in {stack.run_dir}/logs)\n\nDemo staff accounts:")
        for s in staff:
            print(f"  {s['role']:<10} {s['email']:<34} {s['password']}  (office {s['office_id']})")
        print("\nApplicants register themselves (POST /v1/accounts); `make demo` does it for you.")
    elif args.command == "rotate-keys":
        for line in stack.rotate_keys():
            print(line)
    elif args.command == "down":
        stack.down()
        print("stopped")
    else:
        names = sorted(p.stem for p in (stack.run_dir / "pids").glob("*.pid"))
        for n in names:
            state = f"running pid {stack.running(n)}" if stack.running(n) else "not running"
            print(f"  {n:<20} {state:<20} restarts {stack.restarts(n)}")
        if not names:
            print("  nothing started")


if __name__ == "__main__":
    main()
