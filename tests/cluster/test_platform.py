"""The platform on a real Kubernetes: the journey through the gateway Service, booking scaled out,
rolled to a new image tag and a pod deleted, each under a booking load; booking deployed alone (a new
chart version while the others stay, then the previous release's image against the others at the
current one); then `helm test`."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from deploy.local.client import Api
from tests.cluster.conftest import REPO, SERVICES, Kube, record, sh


def patient(platform) -> Api:
    """A client that does what a 503 says for up to a minute: right after a rollout the gateway may
    still send a call to a stopping pod."""
    return Api(platform["gateway"], patience_s=60)


def test_applicant_journey_through_the_gateway_service(platform, kube):
    record("install_seconds", round(platform["install_seconds"], 1))
    journey(patient(platform))
    # The applicant web app, through its own Service: the landing page in Bahasa Indonesia.
    web_ip = kube.json("get", "service", "web")["spec"]["clusterIP"]
    page = urllib.request.urlopen(f"http://{web_ip}:8080/", timeout=10).read().decode()
    assert '<html lang="id">' in page and "Buat paspor tanpa antre dan tanpa calo" in page


def journey(api: Api) -> None:
    """Register, book, get billed, receive the events' notifications, read the timeline."""
    assert api.get("/readyz").status == 200
    deps = api.get("/readyz/dependencies")
    assert deps.status == 200, deps.body
    person = api.register_applicant()
    assert api.get("/v1/me", token=person["token"]).status == 200
    offices = api.get("/v1/offices")
    assert offices.status == 200 and any(o["office_id"] == "TBK" for o in offices.body["items"])
    slot = api.first_working_slot("TBK", "REGULAR")
    created = api.create_application(person["token"])
    assert created.status == 201, created.body
    app_id = created.body["application_id"]
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status in (200, 201), booked.body
    billing = api.get(f"/v1/applications/{app_id}/billing", token=person["token"])
    assert billing.status == 200, billing.body
    # Events went through Kafka to notification: the notifications of this application are recorded.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"])
        if messages.status == 200 and messages.body["items"]:
            break
        time.sleep(1)
    assert messages.body["items"], "no notification recorded from the application's events"
    view = api.get(f"/v1/applications/{app_id}", token=person["token"])
    assert view.status == 200 and view.body["timeline"]


class BookingLoad:
    """Applicants reading their applications (each read is a booking RPC) from a few threads.
    Every answer is kept: the only acceptable failure is a 503 with Retry-After."""

    def __init__(self, api: Api, threads: int = 4):
        self.api = api
        self.people = []
        waits = Api(api.base, patience_s=60)
        for _ in range(threads):
            person = waits.register_applicant()
            created = waits.create_application(person["token"], documents=False)
            assert created.status == 201, created.body
            self.people.append((person["token"], created.body["application_id"]))
        self.stop = threading.Event()
        self.answers: Counter = Counter()
        self.bad: list = []
        self.threads = [threading.Thread(target=self._run, args=(p,), daemon=True) for p in self.people]

    def _run(self, who):
        token, app_id = who
        while not self.stop.is_set():
            try:
                reply = self.api.get(f"/v1/applications/{app_id}", token=token, timeout=10)
            except Exception as exc:  # a connection failure is a failed request too
                self.answers["error"] += 1
                self.bad.append(repr(exc))
                continue
            self.answers[reply.status] += 1
            if reply.status != 200 and not (reply.status == 503 and reply.headers.get("Retry-After")):
                self.bad.append((reply.status, reply.body))
            if reply.status == 503:
                time.sleep(float(reply.headers.get("Retry-After", "1")))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(15)


def handled_by_pod(pod: dict) -> int:
    text = urllib.request.urlopen(f"http://{pod['status']['podIP']}:9100/metrics", timeout=5).read().decode()
    return int(sum(float(v) for v in re.findall(
        r'^grpc_server_handled_total\{[^}]*grpc_service="passport\.v1\.BookingService"[^}]*\} (\S+)$', text, re.M)))


def wait_ready(kube: Kube, app: str, count: int, timeout_s: float = 300) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pods = kube.ready_pods(app)
        if len(pods) == count:
            return pods
        time.sleep(2)
    raise AssertionError(f"{app}: {len(kube.ready_pods(app))} ready pods, expected {count}")


def test_scaled_out_booking_pods_take_traffic_within_a_minute(platform, kube):
    api = Api(platform["gateway"])
    before = {p["metadata"]["name"] for p in wait_ready(kube, "booking", 1)}
    with BookingLoad(api) as load:
        time.sleep(5)
        started = time.monotonic()
        kube.kubectl("scale", "deployment/booking", "--replicas=3")
        pods = wait_ready(kube, "booking", 3)
        ready_s = time.monotonic() - started
        new = [p for p in pods if p["metadata"]["name"] not in before]
        assert len(new) == 2
        served_at = {}
        deadline = time.monotonic() + 60 + 35  # a minute, plus the clients' connection age (30 s + 5 s)
        while time.monotonic() < deadline and len(served_at) < len(new):
            for p in new:
                if p["metadata"]["name"] not in served_at and handled_by_pod(p) > 0:
                    served_at[p["metadata"]["name"]] = round(time.monotonic() - started, 1)
            time.sleep(1)
        per_pod = {p["metadata"]["name"]: handled_by_pod(p) for p in pods}
    record("scale_1_to_3", {"ready_seconds": round(ready_s, 1), "first_traffic_seconds": served_at,
                            "rpcs_per_pod": per_pod, "answers": dict(load.answers)})
    assert len(served_at) == 2, f"new booking pods took no traffic: {per_pod}"
    assert all(s <= ready_s + 60 + 35 for s in served_at.values()), served_at
    assert not load.bad, load.bad[:5]
    kube.kubectl("scale", "deployment/booking", "--replicas=1")
    wait_ready(kube, "booking", 1)


def test_booking_rollout_to_a_new_tag_under_load(platform, kube):
    api = Api(platform["gateway"])
    old = f"localhost/passport/booking:{platform['tag']}"
    new = f"localhost/passport/booking:{platform['tag']}-rollout"
    sh("buildah", "tag", old, new)
    sh("bash", REPO / "deploy/cluster/cluster.sh", "import", new, timeout=900)
    with BookingLoad(api) as load:
        time.sleep(5)
        started = time.monotonic()
        # Only the booking chart's values change: the other services stay as they are.
        kube.helm_("upgrade", "passport", platform["charts"] / "passport-platform", "-f", platform["values"],
                   "--set", f"booking.image.tag={platform['tag']}-rollout", "--wait", "--atomic", "--timeout", "10m")
        rolled_s = time.monotonic() - started
        time.sleep(5)
    images = {p["spec"]["containers"][0]["image"] for p in kube.ready_pods("booking")}
    others = {p["spec"]["containers"][0]["image"] for p in kube.ready_pods("payment")}
    record("rollout", {"seconds": round(rolled_s, 1), "answers": dict(load.answers)})
    assert images == {new}
    assert others == {f"localhost/passport/payment:{platform['tag']}"}
    assert sum(load.answers.values()) > 0
    assert not load.bad, load.bad[:5]


def test_booking_pod_deleted_under_load(platform, kube):
    api = Api(platform["gateway"])
    kube.kubectl("scale", "deployment/booking", "--replicas=2")
    pods = wait_ready(kube, "booking", 2)
    with BookingLoad(api) as load:
        time.sleep(5)
        kube.kubectl("delete", "pod", pods[0]["metadata"]["name"], "--wait=false")
        wait_ready(kube, "booking", 2)
        time.sleep(5)
    record("pod_delete", {"answers": dict(load.answers)})
    assert sum(load.answers.values()) > 0
    assert not load.bad, load.bad[:5]
    # Nothing accepted was lost: every application of the load is still there.
    waits = patient(platform)
    for token, app_id in load.people:
        assert waits.get(f"/v1/applications/{app_id}", token=token).status == 200


def pods_by_app(kube: Kube, apps) -> dict[str, set[str]]:
    return {app: {p["metadata"]["uid"] for p in kube.ready_pods(app)} for app in apps}


def test_booking_chart_upgraded_alone(platform, kube, tmp_path):
    """The booking team ships a new chart version; the umbrella's upgrade changes booking's objects
    only: every other service keeps its pods, and the load sees nothing but 200 (or 503 + Retry-After)."""
    api = Api(platform["gateway"])
    others = [s for s in SERVICES if s != "booking"]
    before = pods_by_app(kube, others)
    charts = tmp_path / "charts"
    sh("cp", "-R", platform["charts"], charts)
    booking_chart = charts / "booking/Chart.yaml"
    booking_chart.write_text(re.sub(r"(?m)^version: .*$", "version: 0.2.0", booking_chart.read_text()))
    umbrella = charts / "passport-platform/Chart.yaml"
    umbrella.write_text(re.sub(r"(- name: booking\n\s+version: )\S+", r"\g<1>0.2.0", umbrella.read_text()))
    (charts / "passport-platform/Chart.lock").unlink(missing_ok=True)  # pins booking 0.1.0
    for old in (charts / "passport-platform/charts").glob("booking-*.tgz"):
        old.unlink()
    kube.helm_("dependency", "build", charts / "passport-platform")
    with BookingLoad(api) as load:
        time.sleep(5)
        started = time.monotonic()
        kube.helm_("upgrade", "passport", charts / "passport-platform", "-f", platform["values"],
                   "--wait", "--atomic", "--timeout", "10m")
        upgraded_s = time.monotonic() - started
        time.sleep(5)
    labels = {p["metadata"]["labels"].get("helm.sh/chart") for p in kube.ready_pods("booking")}
    after = pods_by_app(kube, others)
    record("booking_chart_alone", {"seconds": round(upgraded_s, 1), "answers": dict(load.answers)})
    assert labels == {"booking-0.2.0"}, labels
    assert after == before, "a service other than booking was restarted by booking's chart upgrade"
    assert sum(load.answers.values()) > 0
    assert not load.bad, load.bad[:5]
    journey(patient(platform))


def previous_release() -> str:
    """CLUSTER_PREVIOUS_RELEASE, else the newest release tag (v*) reachable from HEAD."""
    if os.environ.get("CLUSTER_PREVIOUS_RELEASE"):
        return os.environ["CLUSTER_PREVIOUS_RELEASE"]
    found = subprocess.run(["git", "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD"],
                           cwd=REPO, capture_output=True, text=True)
    if found.returncode != 0:
        pytest.fail("no release tag (v*) reachable from HEAD: tag the deployed release (git tag -a vX.Y.Z)")
    return found.stdout.strip()


def build_release_image(release: str, service: str) -> str:
    """The release's code (services/, libs/, protos/) in an image made by this revision's recipe
    (docker/: Dockerfiles and locks), tagged with the release."""
    src = Path(tempfile.mkdtemp(prefix="passport-release-"))
    try:
        sh("bash", "-c", f"git -C {REPO} archive {release} services libs protos | tar -x -C {src}")
        sh("bash", "-c", f"git -C {REPO} archive HEAD docker deploy/cluster | tar -x -C {src}")
        epoch = sh("git", "-C", REPO, "log", "-1", "--format=%ct", release).strip()
        sh("bash", src / "docker/build-images.sh", timeout=3600, cwd=src,
           env=dict(os.environ, IMAGES=service, IMAGE_TAG=release, SOURCE_DATE_EPOCH=epoch))
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return f"localhost/passport/{service}:{release}"


def test_booking_at_the_previous_release_against_the_rest(platform, kube):
    """N-1: booking at the previous release's code, every other service at this revision; the
    journey (gRPC both ways, events both ways through Kafka) passes."""
    release = previous_release()
    image = build_release_image(release, "booking")
    sh("bash", REPO / "deploy/cluster/cluster.sh", "import", image, timeout=900)
    try:
        kube.helm_("upgrade", "passport", platform["charts"] / "passport-platform", "-f", platform["values"],
                   "--set", f"booking.image.tag={release}", "--wait", "--atomic", "--timeout", "10m")
        assert {p["spec"]["containers"][0]["image"] for p in kube.ready_pods("booking")} == {image}
        assert {p["spec"]["containers"][0]["image"] for p in kube.ready_pods("payment")} == {
            f"localhost/passport/payment:{platform['tag']}"}
        journey(patient(platform))
        record("previous_release", {"booking": release, "others": platform["tag"]})
    finally:
        kube.helm_("upgrade", "passport", platform["charts"] / "passport-platform", "-f", platform["values"],
                   "--wait", "--atomic", "--timeout", "10m")


def test_helm_test(platform, kube):
    out = kube.helm_("test", "passport", "--timeout", "5m")
    assert "Phase:          Succeeded" in out or "Phase: Succeeded" in out, out
