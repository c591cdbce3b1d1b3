"""`make cluster-test`: the platform installed on the local Kubernetes (`make images cluster-up`
first). One module-wide installation: the images imported into containerd, the development Kafka
and FerretDB charts (StatefulSets), then the umbrella chart with --wait --atomic. The gateway is
reached through its Service's cluster IP (kube-proxy answers it on the node too)."""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PASSPORT_CACHE", Path.home() / ".cache/passport-platform"))
CLUSTER = REPO / "deploy/cluster/cluster.sh"
NAMESPACE = "passport"
SERVICES = ["booking", "payment", "biometrics-capture", "notification", "complaint", "gateway", "web"]
# Fresh secrets per run: the services refuse the public demo values outside a local stack.
SECRETS = {
    "jwt-secret": secrets.token_urlsafe(48),
    "bank-callback-secret": secrets.token_urlsafe(32),
    "biometrics-encryption-keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "booking-encryption-keys": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "booking-lookup-keys": "h1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "totp-encryption-keys": "t1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "complaint-encryption-keys": "c1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "web-session-keys": "w1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
}


def sh(*cmd, check=True, timeout=900, **kw) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Kube:
    def __init__(self):
        env_line = sh("bash", CLUSTER, "env")  # export KUBECONFIG=... PATH=<bin>:$PATH
        self.kubeconfig = env_line.split("KUBECONFIG=")[1].split()[0]
        self.bin = Path(env_line.split("PATH=")[1].split(":")[0])
        self.helm = CACHE / "tools/helm-v3.22.0/helm"
        if not Path(self.kubeconfig).is_file():
            pytest.fail("no local cluster: run `make cluster-up` first (and `make images`)")
        if not self.helm.is_file():
            sh("bash", REPO / "deploy/helm/validate.sh")  # builds helm into the tools cache
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig)

    def kubectl(self, *args, check=True, timeout=300) -> str:
        return sh(self.bin / "kubectl", "-n", NAMESPACE, *args, check=check, timeout=timeout, env=self.env)

    def json(self, *args) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm_(self, *args, timeout=900) -> str:
        return sh(self.helm, "-n", NAMESPACE, *args, timeout=timeout, env=self.env)

    def ready_pods(self, app: str) -> list[dict]:
        pods = self.json("get", "pods", "-l", f"app.kubernetes.io/name={app}")["items"]
        return [p for p in pods if p["metadata"].get("deletionTimestamp") is None
                and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]


def image_tag() -> str:
    tag = os.environ.get("IMAGE_TAG") or (CACHE / "images/last-tag").read_text().strip()
    return tag


def charts_copy(tmp: Path) -> Path:
    """The charts with their file:// dependencies built, in a copy (the checkout is never written)."""
    charts = tmp / "charts"
    shutil.copytree(REPO / "deploy/helm", charts)
    return charts


@pytest.fixture(scope="session")
def kube() -> Kube:
    return Kube()


def create_trust_secrets(kube: Kube) -> None:
    """What cert-manager and the operator provide in production: one gRPC certificate per service
    from a CA of this run (Secrets <name>-grpc-tls) and the identity keys (public and signing)."""
    from servicekit import identity, tls
    keys = Path(tempfile.mkdtemp(prefix="passport-cluster-tls-"))
    tls.make_local_ca(keys)
    for name in tls.IDENTITIES:
        files = tls.local_files(keys, name)
        kube.kubectl("create", "secret", "generic", f"{name}-grpc-tls", f"--from-file=ca.crt={files.ca}",
                     f"--from-file=tls.crt={files.cert}", f"--from-file=tls.key={files.key}")
    local = identity.make_local_keys(keys, "k1")
    kube.kubectl("create", "secret", "generic", "passport-identity", f"--from-file=k1.pub={keys / 'identity-k1.pub'}")
    kube.kubectl("create", "secret", "generic", "passport-identity-signing",
                 f"--from-file=signing.key={local['IDENTITY_SIGNING_KEY']}")


def create_kafka_secrets(kube: Kube) -> None:
    """SASL_SSL as the local stack runs it: the development Kafka's certificate (Secret kafka-tls,
    CN and DNS name `kafka`, from a CA of this run), its SCRAM users (passport-kafka-users), each
    service's password (<service>-kafka), the admin's for the hook Job (passport-kafka-admin) and
    the CA the clients trust (passport-kafka-ca)."""
    from servicekit import kafka_access, tls
    keys = Path(tempfile.mkdtemp(prefix="passport-cluster-kafka-"))
    tls.make_local_ca(keys, identities=("kafka",))
    files = tls.local_files(keys, "kafka")
    kube.kubectl("create", "secret", "generic", "kafka-tls", f"--from-file=ca.crt={files.ca}",
                 f"--from-file=tls.crt={files.cert}", f"--from-file=tls.key={files.key}")
    kube.kubectl("create", "secret", "generic", "passport-kafka-ca", f"--from-file=ca.crt={files.ca}")
    passwords = {user: secrets.token_urlsafe(24) for user in (kafka_access.ADMIN, "broker", *kafka_access.SERVICES)}
    kube.kubectl("create", "secret", "generic", "passport-kafka-users",
                 *[f"--from-literal={user}={password}" for user, password in passwords.items()])
    kube.kubectl("create", "secret", "generic", "passport-kafka-admin",
                 f"--from-literal=password={passwords[kafka_access.ADMIN]}")
    for service in kafka_access.SERVICES:
        kube.kubectl("create", "secret", "generic", f"{service}-kafka", f"--from-literal=password={passwords[service]}")
    shutil.rmtree(keys, ignore_errors=True)


@pytest.fixture(scope="session")
def platform(kube: Kube):
    tag = image_tag()
    images = [f"localhost/passport/{s}:{tag}" for s in SERVICES]
    sh("bash", REPO / "deploy/cluster/dev-images.sh")
    images += sh("bash", REPO / "deploy/cluster/dev-images.sh", "--print").split()
    sh("bash", CLUSTER, "import", *images, timeout=1800)

    started = time.monotonic()
    sh(kube.bin / "kubectl", "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true",
       timeout=600, env=kube.env)
    sh(kube.bin / "kubectl", "create", "namespace", NAMESPACE, env=kube.env)
    # One key per service (the charts read their own). The development FerretDB has no users, so the
    # six URIs are alike here; what is proven is the wiring, not the database's per-user rights.
    kube.kubectl("create", "secret", "generic", "passport-mongo",
                 *[f"--from-literal={s}=mongodb://ferretdb:27017/" for s in SERVICES])
    kube.kubectl("create", "secret", "generic", "passport-secrets",
                 *[f"--from-literal={k}={v}" for k, v in SECRETS.items()])
    create_trust_secrets(kube)
    create_kafka_secrets(kube)

    tmp = Path(tempfile.mkdtemp(prefix="passport-cluster-"))
    charts = charts_copy(tmp)
    for c in ("dev-kafka", "dev-ferretdb"):
        kube.helm_("lint", "--strict", charts / c)
        kube.helm_("upgrade", "--install", c, charts / c, "--wait", "--timeout", "10m")
    for c in SERVICES + ["passport-platform"]:
        kube.helm_("dependency", "build", charts / c)
    values = tmp / "values-local.yaml"
    values.write_text(json.dumps({
        "global": {"image": {"registry": "localhost", "tag": tag, "pullPolicy": "Never"},
                   # The development Kafka (deploy/helm/dev-kafka) speaks SASL_SSL with SCRAM users
                   # (create_kafka_secrets): the charts' defaults, nothing to override; the hook Job
                   # makes the topics and ACLs before the services start.
                   # No PASSPORT_LOCAL_MODE: fresh secrets, no plaintext opt-out, as in production.
                   "kafka": {"bootstrapServers": "kafka:9092"},
                   # This machine's 2 cores are shared with other builds: starting Python may take
                   # minutes and a probe seconds, so the probes are more patient than production's.
                   "probes": {"startup": {"failureThreshold": 150},
                              "liveness": {"timeoutSeconds": 10, "failureThreshold": 6},
                              "readiness": {"timeoutSeconds": 5}}},
    }))
    kube.helm_("upgrade", "--install", "passport", charts / "passport-platform", "-f", values,
               "--wait", "--atomic", "--timeout", "15m", timeout=1200)
    install_s = time.monotonic() - started
    gateway_ip = kube.json("get", "service", "gateway")["spec"]["clusterIP"]
    info = {"tag": tag, "charts": charts, "values": values, "gateway": f"http://{gateway_ip}:8080",
            "install_seconds": install_s, "tmp": tmp}
    yield info
    shutil.rmtree(tmp, ignore_errors=True)


FIGURES = REPO / ".run/cluster-figures.json"


def record(name: str, value) -> None:
    """Figures of this run, for docs/benchmarks.md (printed at the end of the session)."""
    FIGURES.parent.mkdir(exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.is_file() else {}
    data[name] = value
    FIGURES.write_text(json.dumps(data, indent=2))
