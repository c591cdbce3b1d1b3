"""Policy checks on rendered manifests, beyond what the Kubernetes schemas say.

    python check_manifests.py [--production] MANIFEST.yaml

Run by validate.sh on every `helm template` output. Holds the platform's call graph as written
in the deploy brief, independently of the charts' values, so a wrong values.yaml is caught:
hardened pods, probes, the environment each service needs, Secrets, and NetworkPolicies that
admit exactly the callers of each service. Prints one line per problem; exits 1 if any.
"""
from __future__ import annotations

import sys

import yaml

SERVICES = ["booking", "payment", "biometrics-capture", "notification", "complaint"]
# Who calls whom (gRPC).
CALLS = {
    "gateway": set(SERVICES),
    "booking": {"payment"},
    "payment": set(),  # consumes booking.events; no gRPC calls
    "biometrics-capture": {"booking"},
    "notification": {"booking"},
    "complaint": {"booking"},
    "web": {"gateway"},  # the web app: the gateway's public HTTP API only (its own session store, no Kafka)
}
HTTP_SERVERS = {"gateway": "8080", "web": "8080"}  # HTTP workloads and the port their callers use
STATELESS: set[str] = set()  # no MongoDB, no Kafka (none since the web app keeps its sessions in its database)
NO_KAFKA = {"gateway", "web"}  # they publish and consume nothing: no Kafka user
CALLERS = {s: {c for c, callees in CALLS.items() if s in callees} for s in SERVICES}
SECRETS = {
    "gateway": {"JWT_SECRET", "BANK_CALLBACK_SECRET"},
    "payment": {"BANK_CALLBACK_SECRET"},
    "biometrics-capture": {"BIOMETRICS_ENCRYPTION_KEYS"},
    "booking": {"TOTP_ENCRYPTION_KEYS", "BOOKING_ENCRYPTION_KEYS", "BOOKING_LOOKUP_KEYS"},
    "complaint": {"COMPLAINT_ENCRYPTION_KEYS"},
    "web": {"WEB_SESSION_KEYS"},
}
UID = 10001


def env_var(s: str) -> str:
    return s.upper().replace("-", "_") + "_ADDR"


class Checker:
    def __init__(self, docs: list[dict], production: bool):
        self.docs = docs
        self.production = production
        self.problems: list[str] = []

    def of_kind(self, kind: str) -> dict[str, dict]:
        return {d["metadata"]["name"]: d for d in self.docs if d.get("kind") == kind}

    def expect(self, ok: bool, where: str, what: str) -> None:
        if not ok:
            self.problems.append(f"{where}: {what}")

    def run(self) -> list[str]:
        deployments = self.of_kind("Deployment")
        self.expect(bool(deployments), "manifest", "no Deployment rendered")
        for name, d in deployments.items():
            self.deployment(name, d)
            self.service(name, d)
            self.network_policy(name)
            self.scaling(name, d)
        self.mongo_credentials(deployments)
        for name, job in self.of_kind("Job").items():
            self.kafka_setup_job(name, job)
        return self.problems

    def mongo_credentials(self, deployments: dict) -> None:
        """One database credential per service: no two workloads read the same Secret key."""
        seen: dict[tuple, str] = {}
        for name, d in deployments.items():
            for c in d["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef", {}) if e["name"] == "MONGO_URI" else {}
                    if ref:
                        key = (ref.get("name"), ref.get("key"))
                        self.expect(key not in seen, f"Deployment/{name}",
                                    f"MONGO_URI shares key {key[1]!r} of Secret {key[0]} with {seen.get(key)}: "
                                    "one credential per service")
                        seen.setdefault(key, name)

    def kafka_setup_job(self, name: str, job: dict) -> None:
        where = f"Job/{name}"
        hooks = job["metadata"].get("annotations", {}).get("helm.sh/hook", "")
        self.expect({"pre-install", "pre-upgrade"} <= set(hooks.split(",")), where,
                    "the topics Job must be a pre-install,pre-upgrade hook (before any consumer starts)")
        pod = job["spec"]["template"]["spec"]
        self.expect(pod.get("securityContext", {}).get("runAsNonRoot") is True, where, "runAsNonRoot")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            self.expect(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
                        where, "read-only root, no privilege escalation")
            env = {e["name"]: e for e in c.get("env", [])}
            for k in ("KAFKA_TOPIC_PARTITIONS", "KAFKA_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS"):
                self.expect(bool(env.get(k, {}).get("value")), where, f"{k} must be set from values")
            self.expect(bool(env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")), where,
                        "the admin password must come from a Secret")
            if self.production:
                rf = int(env.get("KAFKA_REPLICATION_FACTOR", {}).get("value", 0))
                isr = int(env.get("KAFKA_MIN_INSYNC_REPLICAS", {}).get("value", 0))
                self.expect(rf >= 3 and 2 <= isr < rf, where,
                            f"production topics need replication >= 3 and 2 <= min.insync.replicas < replication "
                            f"(got {rf}, {isr})")

    # -- Deployment --------------------------------------------------------------------------
    def deployment(self, name: str, d: dict) -> None:
        where = f"Deployment/{name}"
        self.expect(name in CALLS, where, f"unknown service {name!r}")
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        self.expect(psc.get("runAsNonRoot") is True, where, "pod securityContext.runAsNonRoot must be true")
        self.expect(psc.get("runAsUser") == UID, where, f"pod runAsUser must be {UID}")
        self.expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
                    "pod seccompProfile must be RuntimeDefault")
        self.expect(pod.get("automountServiceAccountToken") is False, where,
                    "automountServiceAccountToken must be false")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        containers = pod["containers"]
        self.expect(len(containers) == 1, where, "one container expected")
        c = containers[0]
        sc = c.get("securityContext", {})
        self.expect(sc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
        self.expect(sc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
        self.expect(sc.get("capabilities", {}).get("drop") == ["ALL"], where, "capabilities must drop ALL")
        self.expect(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where,
                    "container seccompProfile must be RuntimeDefault")
        tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        self.expect(bool(tmp) and "emptyDir" in volumes.get(tmp[0]["name"], {}), where,
                    "/tmp must be an emptyDir")
        for kind in ("requests", "limits"):
            got = c.get("resources", {}).get(kind, {})
            self.expect("cpu" in got and "memory" in got, where, f"resources.{kind} needs cpu and memory")
        image = c.get("image", "")
        self.expect(":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where,
                    f"image {image!r} needs a pinned tag")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        env = {e["name"]: e for e in c.get("env", [])}

        # Probes. The web app: one HTTP port with its probes. The gateway and the services: readiness
        # on the serving port (HTTP /readyz, native gRPC), liveness on the metrics port, away from the
        # request pool, and a preStop hook.
        if name in HTTP_SERVERS and name != "gateway":
            self.expect("http" in ports, where, f"{name} needs a port named http")
            for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                got = c.get(probe, {}).get("httpGet", {}).get("path")
                self.expect(got == path, where, f"{probe} must GET {path}, not {got}")
        else:
            live = c.get("livenessProbe", {}).get("httpGet", {})
            self.expect(live.get("port") == "metrics" and live.get("path") == "/metrics", where,
                        "livenessProbe must GET /metrics on the metrics port")
            stop = c.get("lifecycle", {}).get("preStop", {})
            self.expect(bool(stop), where, "a preStop hook must let the endpoints drop the pod before SIGTERM")
        if name == "gateway":
            self.expect({"http", "metrics"} <= set(ports), where, "the gateway needs ports named http and metrics")
            got = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
            self.expect(got == "/readyz", where, f"readinessProbe must GET /readyz, not {got}")
            self.expect(env.get("IDENTITY_SIGNING_KEY", {}).get("value", "").startswith("/etc/passport/identity-signing/"),
                        where, "the gateway signs the end user's identity with the mounted signing key")
            self.expect(env.get("METRICS_PORT", {}).get("value") == str(ports.get("metrics")), where,
                        "METRICS_PORT must equal the metrics container port")
        elif name not in HTTP_SERVERS:
            self.expect({"grpc", "metrics"} <= set(ports), where, "ports grpc and metrics needed")
            # The gRPC port demands a client certificate the kubelet has not: probes ask /readyz.
            for probe in ("startupProbe", "readinessProbe"):
                got = c.get(probe, {}).get("httpGet", {})
                self.expect(got.get("port") == "metrics" and got.get("path") == "/readyz", where,
                            f"{probe} must GET /readyz on the metrics port")
            tls_env = {k: env.get(k, {}).get("value", "") for k in ("GRPC_TLS_CA", "GRPC_TLS_CERT", "GRPC_TLS_KEY")}
            self.expect(all(v.startswith("/etc/passport/grpc-tls/") for v in tls_env.values()), where,
                        "mutual TLS: GRPC_TLS_CA, GRPC_TLS_CERT and GRPC_TLS_KEY must name the mounted certificate")
            self.expect(bool(env.get("IDENTITY_VERIFY_KEYS", {}).get("value")), where,
                        "IDENTITY_VERIFY_KEYS must name the identity public keys")
            self.expect("IDENTITY_SIGNING_KEY" not in env, where, "only the gateway holds the identity signing key")
            for var, port in (("GRPC_PORT", "grpc"), ("METRICS_PORT", "metrics")):
                self.expect(env.get(var, {}).get("value") == str(ports.get(port)), where,
                            f"{var} must equal the {port} container port")

        # Environment: storage, events, peers, secrets.
        mongo = env.get("MONGO_URI", {}).get("valueFrom", {}).get("secretKeyRef", {})
        if name in STATELESS:
            self.expect("MONGO_URI" not in env and "KAFKA_BOOTSTRAP_SERVERS" not in env, where,
                        f"{name} reaches no store and no Kafka")
        else:
            self.expect(bool(mongo.get("name") and mongo.get("key")), where, "MONGO_URI must come from a Secret")
        if name in NO_KAFKA:
            self.expect(not any(k.startswith("KAFKA_") for k in env), where, f"{name} holds no Kafka settings")
        else:
            self.expect(bool(env.get("KAFKA_BOOTSTRAP_SERVERS", {}).get("value")), where,
                        "KAFKA_BOOTSTRAP_SERVERS must be set")
            # SASL/SCRAM over TLS as the service's own user (its ACLs), password from a Secret
            self.expect(env.get("KAFKA_SECURITY_PROTOCOL", {}).get("value") == "SASL_SSL", where,
                        "KAFKA_SECURITY_PROTOCOL must be SASL_SSL")
            self.expect(env.get("KAFKA_SASL_USERNAME", {}).get("value") == name, where,
                        "KAFKA_SASL_USERNAME must be the service's own Kafka user")
            self.expect(bool(env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")), where,
                        "KAFKA_SASL_PASSWORD must come from a Secret")
            self.expect(env.get("KAFKA_SSL_CAFILE", {}).get("value") == "/etc/passport/kafka-ca/ca.crt", where,
                        "KAFKA_SSL_CAFILE must name the mounted CA")
            # The hook Job made the topics with the operator's settings: a service never guesses them.
            self.expect(env.get("KAFKA_CREATE_TOPICS", {}).get("value") == "0", where,
                        "KAFKA_CREATE_TOPICS must be 0 (topics come from the passport-platform hook Job)")
        addrs = {k for k in env if k.endswith("_ADDR")}
        want = {env_var(p) for p in CALLS.get(name, set())}
        self.expect(addrs == want, where, f"peer addresses {sorted(addrs)} != {sorted(want)}")
        for var in addrs & want:
            value = env[var].get("value", "")
            port = HTTP_SERVERS.get(var[:-len("_ADDR")].lower().replace("_", "-"), "50051")
            self.expect(value.endswith(":" + port), where, f"{var}={value!r} should be <service>:{port}")
        for var in SECRETS.get(name, set()):
            ref = env.get(var, {}).get("valueFrom", {}).get("secretKeyRef", {})
            self.expect(bool(ref.get("name") and ref.get("key")), where, f"{var} must come from a Secret")
        for var, e in env.items():
            self.expect(var not in ("JWT_SECRET", "BANK_CALLBACK_SECRET", "BIOMETRICS_ENCRYPTION_KEYS",
                                    "TOTP_ENCRYPTION_KEYS", "BOOKING_ENCRYPTION_KEYS", "BOOKING_LOOKUP_KEYS",
                                    "COMPLAINT_ENCRYPTION_KEYS", "WEB_SESSION_KEYS")
                        or "value" not in e, where, f"{var} must not be a plain value")

    def service(self, name: str, d: dict) -> None:
        svc = self.of_kind("Service").get(name)
        self.expect(svc is not None, f"Service/{name}", "missing")
        if svc:
            selector = svc["spec"].get("selector", {})
            labels = d["spec"]["template"]["metadata"]["labels"]
            self.expect(bool(selector) and all(labels.get(k) == v for k, v in selector.items()),
                        f"Service/{name}", "selector does not match the pods")
            ports = {p["name"] for p in svc["spec"]["ports"]}
            want = {"http", "metrics"} if name == "gateway" else {"http"} if name in HTTP_SERVERS else {"grpc", "metrics"}
            self.expect(want <= ports, f"Service/{name}", f"ports {sorted(want)} needed")

    # -- NetworkPolicy -----------------------------------------------------------------------
    def network_policy(self, name: str) -> None:
        where = f"NetworkPolicy/{name}"
        np = self.of_kind("NetworkPolicy").get(name)
        self.expect(np is not None, where, "missing")
        if not np:
            return
        spec = np["spec"]
        self.expect(set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}, where,
                    "policyTypes must be Ingress and Egress")
        ingress = spec.get("ingress", [])
        callers_seen: set[str] = set()
        scrape = False
        open_to_all = False
        for rule in ingress:
            if not rule.get("from"):
                open_to_all = True
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    scrape = True
                    continue
                for expr in peer.get("podSelector", {}).get("matchExpressions", []):
                    if expr["key"] == "app.kubernetes.io/name" and expr["operator"] == "In":
                        callers_seen |= set(expr["values"])
                name_label = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                if name_label:
                    callers_seen.add(name_label)
        if name in HTTP_SERVERS:
            self.expect(open_to_all or bool(ingress), where, f"{name} must take outside traffic")
        else:
            self.expect(not open_to_all, where, "a gRPC service must not take traffic from any source")
            self.expect(callers_seen == CALLERS[name], where,
                        f"callers {sorted(callers_seen)} != {sorted(CALLERS[name])}")
            self.expect(scrape, where, "Prometheus must be allowed to scrape the metrics port")
        egress = spec.get("egress", [])
        ports = {p.get("port") for rule in egress for p in rule.get("ports", [])}
        self.expect(53 in ports, where, "egress to DNS (53) needed")
        if name not in STATELESS:
            self.expect(27017 in ports or any(not r.get("ports") for r in egress), where, "egress to MongoDB needed")
        peers = {r["to"][0]["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
                 for r in egress if r.get("to") and "podSelector" in r["to"][0]
                 and "namespaceSelector" not in r["to"][0]}
        self.expect(CALLS[name] <= peers, where, f"egress to peers {sorted(CALLS[name] - peers)} missing")

    # -- scaling -----------------------------------------------------------------------------
    def scaling(self, name: str, d: dict) -> None:
        hpa = self.of_kind("HorizontalPodAutoscaler").get(name)
        pdb = self.of_kind("PodDisruptionBudget").get(name)
        if hpa:
            ref = hpa["spec"]["scaleTargetRef"]
            self.expect(ref["kind"] == "Deployment" and ref["name"] == name, f"HPA/{name}", "wrong target")
            self.expect("replicas" not in d["spec"], f"Deployment/{name}",
                        "replicas must be left to the HPA when autoscaling is on")
        if self.production:
            self.expect(hpa is not None and hpa["spec"]["minReplicas"] >= 2, f"HPA/{name}",
                        "production needs an HPA with minReplicas >= 2")
            self.expect(pdb is not None, f"PodDisruptionBudget/{name}", "production needs a PDB")
            self.expect(name in self.of_kind("ServiceMonitor"), f"ServiceMonitor/{name}",
                        "production needs a ServiceMonitor")


def main() -> int:
    args = sys.argv[1:]
    production = "--production" in args
    paths = [a for a in args if not a.startswith("--")]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(paths[0]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    problems = Checker(docs, production).run()
    for p in problems:
        print(f"  policy: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
