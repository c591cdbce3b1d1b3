"""Checks a rendered observability manifest against the sources in the repository.

    python check_observability.py MANIFEST.yaml

Run by deploy/helm/validate.sh on every `helm template` of the observability chart:
- one ConfigMap per dashboards/*.json, labelled for the Grafana sidecar, holding that file unchanged;
- every dashboard is valid JSON with a uid and title, unique panel ids, and every panel (not rows) has a
  description and at least one Prometheus query;
- the PrometheusRule (when rendered) holds exactly the groups of rules/*.rules.yml, and every alert has a
  severity, a summary and an absolute runbook_url: <runbook base>#<its section of docs/observability.md>.
Prints one line per problem; exits 1 if any.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "observability"
DOC = REPO / "docs" / "observability.md"
RUNBOOK_BASE = "https://passport-platform.example/docs/observability.md"  # rules file and chart default


def anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            out.add(re.sub(r"[^a-z0-9 _-]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def check_dashboard(name: str, dash: dict, problems: list[str]) -> None:
    for key in ("uid", "title", "panels"):
        if not dash.get(key):
            problems.append(f"{name}: no {key}")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append(f"{name}: duplicate panel ids")
    for p in dash.get("panels", []):
        if p.get("type") == "row":
            continue
        where = f"{name}: panel {p.get('title')!r}"
        if not p.get("description"):
            problems.append(f"{where}: no description")
        targets = p.get("targets") or []
        if not targets or not all(t.get("expr", "").strip() for t in targets):
            problems.append(f"{where}: needs a Prometheus query in every target")


def main() -> int:
    manifest = pathlib.Path(sys.argv[1])
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    problems: list[str] = []

    files = {p.name: p.read_text() for p in sorted((CHART / "dashboards").glob("*.json"))}
    shipped = {}
    for d in docs:
        if d.get("kind") != "ConfigMap":
            continue
        if d["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            problems.append(f"ConfigMap/{d['metadata']['name']}: no grafana_dashboard: \"1\" label")
        shipped.update(d.get("data", {}))
    if set(shipped) != set(files):
        problems.append(f"dashboards shipped {sorted(shipped)} != files {sorted(files)}")
    for name, text in files.items():
        if name in shipped and json.loads(shipped[name]) != json.loads(text):
            problems.append(f"{name}: ConfigMap content differs from the file")
        check_dashboard(name, json.loads(text), problems)

    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    sources = {p.name.removesuffix(".rules.yml"): yaml.safe_load(p.read_text())
               for p in (CHART / "rules").glob("*.rules.yml")}
    if rules and {r["metadata"]["name"] for r in rules} != set(sources):
        problems.append(f"PrometheusRules {[r['metadata']['name'] for r in rules]} != files {sorted(sources)}")
    for r in rules:
        src = sources.get(r["metadata"]["name"])
        if src and r["spec"]["groups"] != src["groups"]:
            problems.append(f"PrometheusRule/{r['metadata']['name']}: groups differ from the rules file")
    known = anchors(DOC.read_text()) if DOC.exists() else set()
    for name, src in sources.items():
        for group in src["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                where = f"{name}.rules.yml: {rule['alert']}"
                if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
                    problems.append(f"{where}: severity must be critical, warning or info")
                ann = rule.get("annotations", {})
                if not ann.get("summary"):
                    problems.append(f"{where}: no summary")
                base, _, anchor = ann.get("runbook_url", "").partition("#")
                if base != RUNBOOK_BASE or anchor != rule["alert"].lower() or anchor not in known:
                    problems.append(f"{where}: runbook_url must be {RUNBOOK_BASE}#{rule['alert'].lower()}"
                                    " (a section of docs/observability.md)")

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
