"""A Prometheus for the local stack: scrapes the gateway and every service of `make up` (or of any
port block) with the same alert rules as the cluster, in the stack's run directory.

    python -m deploy.observability.observe up|down|status [--run-dir .run] [--port-base 0] [--port 9090]

The Prometheus is the one deploy/observability/provision.sh builds into the tools cache. Its process is
recorded like the stack's own, so `make down` stops it too. Every target carries the labels Kubernetes
would give it (namespace, pod), so the dashboards' $namespace and $pod variables work unchanged.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from deploy.local.stack import SERVICES, Ports, Stack

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "helm" / "observability" / "rules"
PROVISION = REPO / "deploy" / "observability" / "provision.sh"
# The runbook base written in the rules file; a cluster sets its own through the chart value
# runbookBaseUrl, a local Prometheus through RUNBOOK_BASE_URL.
DEFAULT_RUNBOOK_BASE = "https://passport-platform.example/docs/observability.md"
LOCAL_NAMESPACE = "local"


def tools() -> dict[str, str]:
    """Builds Prometheus and promtool once (cached), then returns their paths."""
    subprocess.run(["bash", str(PROVISION), "prometheus"], check=True, timeout=3600)
    out = subprocess.run(["bash", str(PROVISION), "--print"], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def scrape_jobs(ports: Ports, namespace: str) -> list[dict]:
    """One job per service (job = the service name, as the ServiceMonitors make it), one target per
    replica labelled with the pod it would be."""
    jobs = [{"job_name": "gateway", "static_configs": [
        {"targets": [f"127.0.0.1:{ports.gateway}"], "labels": {"namespace": namespace, "pod": "gateway-0"}}]}]
    for s in SERVICES:
        replicas = ports.booking_replicas if s == "booking" else 1
        jobs.append({"job_name": s, "static_configs": [
            {"targets": [f"127.0.0.1:{ports.metrics(s, r)}"], "labels": {"namespace": namespace, "pod": f"{s}-{r}"}}
            for r in range(replicas)]})
    return jobs


def write_config(work: Path, ports: Ports, namespace: str, interval: str = "5s",
                 runbook_base: str | None = None) -> Path:
    """prometheus.yml and the rule files (runbook base substituted) in work/; returns the config path."""
    work.mkdir(parents=True, exist_ok=True)
    base = runbook_base or os.environ.get("RUNBOOK_BASE_URL") or DEFAULT_RUNBOOK_BASE
    rule_files = []
    for f in sorted(RULES.glob("*.rules.yml")):
        (work / f.name).write_text(f.read_text().replace(DEFAULT_RUNBOOK_BASE, base.rstrip("/")))
        rule_files.append(str(work / f.name))
    config = {"global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
              "rule_files": rule_files, "scrape_configs": scrape_jobs(ports, namespace)}
    path = work / "prometheus.yml"
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return path


def argv(prometheus: str, config: Path, data: Path, port: int, retention: str = "2d") -> list[str]:
    return [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.retention.time={retention}",
            "--web.enable-lifecycle", "--log.level=warn"]


def wait_ready(url: str, timeout_s: float = 60, alive=lambda: True) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", default=".run")
    parser.add_argument("--port-base", type=int, default=0, help="the stack's port block (0: `make up`)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PROMETHEUS_PORT", "9090")))
    parser.add_argument("--booking-replicas", type=int, default=1)
    args = parser.parse_args()
    stack = Stack(Path(args.run_dir), Ports(base=args.port_base, booking_replicas=args.booking_replicas))
    url = f"http://127.0.0.1:{args.port}"
    if args.command == "down":
        stack.stop("prometheus")
        print("prometheus stopped")
        return
    if args.command == "status":
        pid = stack.running("prometheus")
        print(f"prometheus {'running pid ' + str(pid) + ' at ' + url if pid else 'not running'}")
        return
    if not stack.running("gateway"):
        print(f"note: no stack runs from {stack.run_dir} (make up); Prometheus will show its targets down",
              file=sys.stderr)
    work = stack.run_dir / "prometheus"
    config = write_config(work, stack.ports, LOCAL_NAMESPACE)
    if stack.running("prometheus"):  # already up: load the (possibly changed) rules and targets
        urllib.request.urlopen(urllib.request.Request(f"{url}/-/reload", method="POST"), timeout=10)
    else:
        paths = tools()
        shutil.rmtree(work / "data", ignore_errors=True) if os.environ.get("PROMETHEUS_FRESH") else None
        stack.start("prometheus", argv(paths["PROMETHEUS"], config, work / "data", args.port))
        if not wait_ready(url, alive=lambda: stack.running("prometheus") is not None):
            raise SystemExit(f"Prometheus did not start; see {stack.run_dir}/logs/prometheus.log:\n"
                             + stack.log_tail("prometheus"))
    print(f"\nPrometheus scrapes the local stack every 5 s with the cluster's alert rules.\n"
          f"  UI:       {url}   (alerts: {url}/alerts, targets: {url}/targets)\n"
          f"  Dashboards as PNG: make dashboards   (into {stack.run_dir}/dashboards)\n"
          f"  Stop:     make down (stops it with the stack), or python -m deploy.observability.observe down")


if __name__ == "__main__":
    main()
