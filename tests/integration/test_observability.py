"""Proof that the dashboards and alerts are real: a real Prometheus (built from the Go module proxy by
deploy/observability/provision.sh) scrapes the gateway and every service of the test stack every
second while the demo journey runs through the gateway; then every panel query of every dashboard
and every alert expression is evaluated through the Prometheus HTTP API. Each must parse; each panel
query must return data. The alert rules are also loaded by that Prometheus (its rule manager must
report them healthy) and checked by `promtool check rules`."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pymongo
import pytest

from deploy.local.stack import DEMO_STAFF, SERVICES
from deploy.observability import observe, render
from services.complaint.domain import complaint as complaint_domain
from tests.unit import biometrics_samples
from tests.integration.helpers import applicant_with_application, multipart, pay, wait_for

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "observability"
DASHBOARDS = sorted((REPO / "deploy" / "observability" / "dashboards").glob("*.json"))
RULE_FILES = sorted((REPO / "deploy" / "observability" / "rules").glob("*.rules.yml"))
PROVISION = REPO / "deploy" / "observability" / "provision.sh"
NAMESPACE = "passport-it"  # the namespace label the scrape config gives every target (as Kubernetes would)
tools = observe.tools


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, url: str):
        self.url = url
        self.started = time.time()

    def get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # 400/422 carry the error as JSON
            return json.loads(e.read())

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)


@pytest.fixture(scope="module")
def prometheus(stack, tmp_path_factory):
    """The Prometheus of `make observe` (same scrape labels, same rules), scraping every second."""
    paths = tools()
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = observe.write_config(work, stack.ports, NAMESPACE, interval="1s")
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen(observe.argv(paths["PROMETHEUS"], config, work / "data", port, retention="1h"),
                            stdout=log, stderr=subprocess.STDOUT)
    prom = Prometheus(f"http://127.0.0.1:{port}")
    try:
        assert observe.wait_ready(prom.url, alive=lambda: proc.poll() is None), (work / "prometheus.log").read_text()
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def book_when_served(api):
    """Book the first free REGULAR seat at TBK 5+ days ahead, as a client does: an answer `503` with
    Retry-After (the platform shedding load on this shared 2-core machine) is retried after it."""
    person, app_id = applicant_with_application(api)
    day = dt.date.today() + dt.timedelta(days=5)
    for _ in range(40):
        listed = api.get(f"/v1/offices/TBK/slots?date={day}&lane=REGULAR")
        if listed.status == 503:
            time.sleep(float(listed.headers.get("Retry-After", 2)))
            continue
        assert listed.status == 200, listed.body
        free = [s for s in listed.body["items"] if s["remaining"] > 0]
        if not free:
            day += dt.timedelta(days=1)
            continue
        booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": free[0]["slot_id"]}, token=person["token"])
        if booked.status == 503:
            time.sleep(float(booked.headers.get("Retry-After", 2)))
            continue
        assert booked.status == 201, booked.body
        return person, app_id, booked.body
    raise AssertionError("no seat booked in 40 tries")


def drive_demo_journey(api, stack) -> None:
    """Register, apply, book, pay (signed; and one refused signature), complain and get answered, a
    wrong PIN, and an SLA breach for the sweeper to escalate: every dashboard gets its series.
    Applicants book and pay in rounds a few scrapes apart: a labelled series appears with its first
    event, so rate() and histogram_quantile() draw only once a later event has moved it."""
    officer, supervisor = DEMO_STAFF
    officer_token = api.login(officer["email"], officer["password"])
    raw, ctype = multipart({}, {"file": ("photo.jpg", biometrics_samples.good_photo_jpeg(), "image/jpeg")})
    for _ in range(ROUNDS):
        person, app_id, booked = book_when_served(api)
        assert pay(api, booked["billing"], f"BANK-OBS-{app_id}").status == 200
        # A photo before check-in is refused by biometrics-capture (409): its RPC series for the overview.
        refused = api.request("POST", f"/v1/applications/{app_id}/biometrics/photo", raw=raw, content_type=ctype,
                              token=officer_token)
        assert refused.status == 409, refused.body
        time.sleep(3)
    bad = api.request("POST", "/v1/payments/notifications", raw=b'{"billing_code": "1"}',
                      headers={"X-Signature": "sha256=" + "0" * 64})
    assert bad.status in (401, 403), bad.body
    token = api.login(supervisor["email"], supervisor["password"])
    filed = api.post("/v1/complaints", {"category": "SERVICE", "office_id": "TBK",
                                        "description": "Antrean lama sekali di loket."}, token=person["token"])
    assert filed.status == 201, filed.body
    cid, code = filed.body["complaint_id"], filed.body["tracking_code"]
    answered = api.post(f"/v1/complaints/{cid}/responses", {"message": "Sudah ditangani.", "status": "RESOLVED"},
                        token=token)
    assert answered.status == 201, answered.body
    assert api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": "00000000"}).status in (403, 404)
    # A complaint filed a month ago and never answered (the running clock cannot be moved): the
    # escalation sweeper breaches it, as in test_complaints.
    filed_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    salt = b"0123456789abcdef"
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], tz_aware=True)
    client["passport_complaint"].complaints.insert_one({
        "_id": str(uuid.uuid4()), "tracking_code": complaint_domain.new_tracking_code(), "office_id": "TBK",
        "category": "SERVICE", "description": "Tidak ada tanggapan.", "anonymous": True, "created_at": filed_at,
        "first_response_due": filed_at + dt.timedelta(days=4), "resolution_due": filed_at + dt.timedelta(days=8),
        "pin_salt": salt, "pin_hash": complaint_domain.hash_pin("12345678", salt)})
    client.close()
    assert wait_for(lambda: api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] == "PAID")


ROUNDS = int(os.environ.get("OBSERVABILITY_ROUNDS", "3"))  # applicants of the journey (more: richer PNGs)
VARIABLES = {"namespace": NAMESPACE, "pod": ".*"}  # as a person picks them: this stack, all pods


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) of every target of every panel, Grafana variables filled in."""
    out = []
    for f in DASHBOARDS:
        dash = json.loads(f.read_text())
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                expr = render.expand(target["expr"], VARIABLES)
                assert "$" not in expr, f"{f.name} {panel['title']}: unknown variable in {expr}"
                out.append((f.name, panel["title"], expr))
    return out


def alert_names() -> list[str]:
    """The alerts of the rule files (the files are parsed by promtool and Prometheus themselves)."""
    return [m for f in RULE_FILES for m in re.findall(r"^\s*- alert: (\w+)\s*$", f.read_text(), re.M)]


def loaded_rules(prometheus: Prometheus) -> list[dict]:
    """The rules as the Prometheus that loaded the rule files has them (name, query, health, ...),
    once every rule has been evaluated at least once."""
    def evaluated():
        rules = [r for g in prometheus.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
        done = rules and all(r.get("lastEvaluation", "").startswith("2") and r["health"] != "unknown" for r in rules)
        return rules if done else None
    return wait_for(evaluated, timeout_s=30) or []


# PromQL selectors may name a metric in any of these forms of one family (Prometheus' metadata
# API keys counters and histograms by the family name).
FAMILY_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")
# Metrics the test stack cannot export: the gateway's prometheus_client multiprocess mode writes a
# family only with its first sample, and nothing is shed in a functional test (it must still be
# defined in the code, checked below); kube-state-metrics runs only in a cluster. The panels that
# name them draw from their other queries.
# Likewise the waiting room's counter: no room is switched on in this journey.
NOT_EXPORTED_IN_A_SHORT_RUN = {"gateway_requests_shed_total", "gateway_waiting_room_total"}
CLUSTER_ONLY = {"kube_horizontalpodautoscaler_status_desired_replicas", "kube_horizontalpodautoscaler_spec_max_replicas"}
# Queries that legitimately have no samples in this run, each in a panel whose other queries draw:
# a biometrics capture needs a check-in on the appointment day, which only the counter-journey stack
# (its clock shifted) can do; this journey's capture is refused before the checks run.
# The applicant web app is not in this test's stack (its browser tests run their own); its panels
# draw 0 (`or vector(0)`) here.
WEB_APP = {"web_http_requests_total", "web_waiting_pages_total", "web_http_request_duration_seconds_bucket"}
EMPTY_IN_A_SHORT_RUN = CLUSTER_ONLY | WEB_APP | {"biometrics_captures_total", "biometrics_image_processing_seconds_bucket"}


def metric_names(prometheus: Prometheus, expr: str) -> set[str]:
    """The metric names an expression selects, from Prometheus' own parse of it."""
    tree = prometheus.get("/api/v1/parse_query", query=expr)
    assert tree.get("status") == "success", (expr, tree.get("error"))
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("vectorSelector", "matrixSelector") and node.get("name"):
                names.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(tree["data"])
    return names


def unknown_metrics(prometheus: Prometheus, exprs: list[str]) -> dict[str, str]:
    """Names selected by the expressions that no target exported (neither a series nor the HELP/TYPE
    of a family without samples yet): a typo there hides behind `or vector(0)`."""
    series = set(prometheus.get("/api/v1/label/__name__/values")["data"])
    families = set(prometheus.get("/api/v1/metadata")["data"])

    def exported(name: str) -> bool:
        return name in series or name in families or any(
            name.endswith(s) and name[: -len(s)] in families for s in FAMILY_SUFFIXES)
    return {name: expr for expr in exprs for name in metric_names(prometheus, expr) if not exported(name)}


def test_dashboards_and_rules_exist():
    assert {f.stem for f in DASHBOARDS} >= {"passport-overview", "passport-booking", "passport-payments",
                                            "passport-notifications", "passport-complaints", "passport-kafka-outbox"}
    names = set(alert_names())
    assert {"PassportGrpcErrorRatioHigh", "PassportHttp5xxRatioHigh", "PassportGrpcLatencyHigh",
            "PassportKafkaConsumerLagHigh", "PassportOutboxBacklog", "PassportExpirySweeperStalled",
            "PassportNotificationDeadLetters", "PassportComplaintSlaBreaches"} <= names


def test_promtool_checks_the_rules():
    promtool = tools()["PROMTOOL"]
    out = subprocess.run([promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    recording = sum(len(re.findall(r"^\s*- record: ", f.read_text(), re.M)) for f in RULE_FILES)
    assert f"SUCCESS: {len(alert_names()) + recording} rules found" in out.stdout, out.stdout


def test_every_panel_and_alert_against_real_prometheus(api, stack, prometheus, tmp_path):
    drive_demo_journey(api, stack)
    queries = dashboard_queries()

    def results():
        return {q: prometheus.query(q[2]) for q in queries}

    may_be_empty = {q for q in queries if metric_names(prometheus, q[2]) <= EMPTY_IN_A_SHORT_RUN}

    def all_have_data():
        got = results()
        return all(r.get("status") == "success" and (r["data"]["result"] or q in may_be_empty)
                   for q, r in got.items()) and got

    # Series appear as the events flow (outbox -> Kafka -> consumers -> notifications) and rate()
    # needs two scrapes; wait for them, then judge every query once more.
    wait_for(all_have_data, timeout_s=180, interval_s=3)
    # A delivery-latency quantile needs the histogram to grow after its series was first scraped: when
    # every delivery of the journey came before that (events queue behind the outbox relay's and the
    # senders' idle polls), its rate stays 0 and the panels draw nothing for good. One more booking
    # and payment then gives a later delivery.
    def delivered_since_scraped() -> bool:
        got = prometheus.query("sum(rate(notification_event_to_delivery_seconds_count[5m]))")["data"]["result"]
        return bool(got) and float(got[0]["value"][1]) > 0
    if not wait_for(delivered_since_scraped, timeout_s=30, interval_s=3):
        _person, app_id, booked = book_when_served(api)
        assert pay(api, booked["billing"], f"BANK-OBS-{app_id}-late").status == 200
        assert wait_for(delivered_since_scraped, timeout_s=120, interval_s=3), "no delivery after the first scrape"
    final = results()
    errors = {f"{d} / {t}: {e}": r.get("error") for (d, t, e), r in final.items() if r.get("status") != "success"}
    assert not errors, json.dumps(errors, indent=1)
    empty = [f"{d} / {t}: {e}" for (d, t, e), r in final.items() if not r["data"]["result"] and (d, t, e) not in may_be_empty]
    assert not empty, "panel queries without data:\n" + "\n".join(empty)
    assert len(final) >= 50

    # The namespace variable of every dashboard finds the namespace of the targets.
    for f in DASHBOARDS:
        var = next(v for v in json.loads(f.read_text())["templating"]["list"] if v["name"] == "namespace")
        match = var["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
        values = prometheus.get("/api/v1/label/namespace/values", **{"match[]": match})
        assert values["status"] == "success" and NAMESPACE in values["data"], (f.name, values)
    # The pod variable of the overview lists every scraped pod, named as in a cluster.
    overview = json.loads((CHART / "dashboards" / "passport-overview.json").read_text())
    pods = render.label_values(prometheus, render.expand(
        next(v for v in overview["templating"]["list"] if v["name"] == "pod")["definition"], VARIABLES))
    assert {"gateway-0", "booking-0", "booking-1", "biometrics-capture-0"} <= set(pods), pods

    # Every target was scraped (up == 1): the gateway, both booking replicas, the other services.
    up = prometheus.query("up")["data"]["result"]
    assert len(up) == 1 + len(SERVICES) + stack.ports.booking_replicas - 1
    assert all(r["value"][1] == "1" for r in up), up

    # Prometheus loaded every alert of the rule files, its rule manager evaluates each one healthy,
    # and every alert expression parses and evaluates through the query API too.
    loaded = loaded_rules(prometheus)
    assert sorted(r["name"] for r in loaded if r["type"] == "alerting") == sorted(alert_names())
    assert len([r for r in loaded if r["type"] == "recording"]) == 14  # SLO ratios over 7 windows
    assert all(r["health"] == "ok" for r in loaded), [(r["name"], r.get("lastError")) for r in loaded]
    for rule in loaded:
        r = prometheus.query(rule["query"])
        assert r.get("status") == "success", (rule["name"], r.get("error"))
    # Every metric a panel or an alert names is one the stack really exports: `or vector(0)` would
    # otherwise give a misspelt metric's panel data and its alert would silently never fire.
    # A counter first incremented at the journey's end (the refused signature) is known only after
    # the next scrape of its target: wait for it rather than judge between two scrapes.
    expected_unknown = NOT_EXPORTED_IN_A_SHORT_RUN | CLUSTER_ONLY | WEB_APP
    exprs = [e for _, _, e in queries] + [r["query"] for r in loaded]
    wait_for(lambda: set(unknown_metrics(prometheus, exprs)) <= expected_unknown, timeout_s=60, interval_s=3)
    unknown = unknown_metrics(prometheus, exprs)
    assert set(unknown) <= expected_unknown, json.dumps(unknown, indent=1)
    typo = "sum(rate(grpc_server_handeld_total[5m])) or vector(0)"
    assert unknown_metrics(prometheus, [typo]) == {"grpc_server_handeld_total": typo}, "the check catches a typo"
    code = "\n".join(p.read_text() for d in ("services", "libs") for p in (REPO / d).rglob("*.py"))
    for name in NOT_EXPORTED_IN_A_SHORT_RUN:
        assert f'"{name}"' in code or f'"{name.removesuffix("_total")}"' in code, f"{name} is defined nowhere"

    # The journey breached a complaint SLA: that alert's expression has a result, from real data.
    breaches = next(r for r in loaded if r["name"] == "PassportComplaintSlaBreaches")
    assert wait_for(lambda: prometheus.query(breaches["query"])["data"]["result"], timeout_s=60)

    # What an SRE sees: every dashboard drawn from this run's data (query_range over the whole run,
    # as `make dashboards` does), and every panel drew at least one series with points.
    out = Path(os.environ.get("DASHBOARD_PNG_DIR") or tmp_path)
    drawn = render.render(prometheus.url, out, minutes=(time.time() - prometheus.started) / 60,
                          given={"namespace": NAMESPACE})
    assert set(drawn) == {f.name for f in DASHBOARDS}
    blank = [f"{d} / {p.title}: {p.errors or 'no series'}" for d, panels in drawn.items()
             for p in panels.values() if not p.drew]
    assert not blank, "panels that drew nothing:\n" + "\n".join(blank)
    assert sum(len(p) for p in drawn.values()) >= 55
    for f in DASHBOARDS:
        png = out / f"{f.stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000, png
