"""Static checks of the dashboards that need no Prometheus: every metric the services define is
on some panel (so no service's own signals are invisible), and the saturation row and $pod exist."""
from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "deploy" / "helm" / "observability" / "dashboards").glob("*.json"))
METRIC = re.compile(r'\b(?:Counter|Gauge|Histogram)\(\s*"([a-z_]+)"', re.S)


def defined_metrics() -> set[str]:
    code = "\n".join(p.read_text() for d in ("services", "libs") for p in (REPO / d).rglob("*.py"))
    return set(METRIC.findall(code))


def panel_exprs() -> str:
    return "\n".join(t["expr"] for f in DASHBOARDS for p in json.loads(f.read_text())["panels"]
                     for t in p.get("targets", []))


def test_every_metric_the_code_defines_is_on_a_dashboard():
    defined = defined_metrics()
    assert {"biometrics_captures_total", "grpc_server_threads_in_use", "gateway_admission_limit",
            "gateway_booking_duration_seconds"} <= defined
    exprs = panel_exprs()
    missing = sorted(m for m in defined if not re.search(rf"\b{m}(_total|_bucket|_count|_sum)?\b", exprs))
    assert missing == [], f"metrics on no dashboard panel: {missing}"


def test_overview_has_a_saturation_row_filtered_by_pod():
    overview = json.loads((REPO / "deploy/helm/observability/dashboards/passport-overview.json").read_text())
    names = [v["name"] for v in overview["templating"]["list"]]
    assert names == ["datasource", "namespace", "pod"]
    panels = overview["panels"]
    row = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"].startswith("Saturation"))
    after = panels[row + 1:]
    saturation = after[:next(i for i, p in enumerate(after) if p["type"] == "row")]
    exprs = " ".join(t["expr"] for p in saturation for t in p["targets"])
    for metric in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
                   "gateway_admission_limit", "grpc_server_threads_in_use", "kafka_consumer_lag_messages",
                   "outbox_pending_events", "kube_horizontalpodautoscaler_status_desired_replicas"):
        assert metric in exprs, metric
    assert all('pod=~"$pod"' in t["expr"] for p in saturation for t in p["targets"]
               if "process_" in t["expr"] or "threads" in t["expr"])


def test_panels_fit_the_grid_without_overlapping():
    for f in DASHBOARDS:
        taken: dict[tuple[int, int], str] = {}
        for p in json.loads(f.read_text())["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24, (f.name, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in taken, f"{f.name}: {p['title']!r} overlaps {taken[(x, y)]!r}"
                    taken[(x, y)] = p["title"]
