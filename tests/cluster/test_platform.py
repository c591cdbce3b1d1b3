"""The platform on a real Kubernetes: the journey through the gateway Service, booking scaled out,
rolled to a new image tag and a pod deleted, each under a booking load, then `helm test`."""
from __future__ import annotations

import re
import threading
import time
import urllib.request
from collections import Counter

import pytest

from deploy.local.client import Api
from tests.cluster.conftest import REPO, Kube, record, sh


def test_applicant_journey_through_the_gateway_service(platform):
    api = Api(platform["gateway"])
    record("install_seconds", round(platform["install_seconds"], 1))
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
        for _ in range(threads):
            person = api.register_applicant()
            created = api.create_application(person["token"], documents=False)
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
    for token, app_id in load.people:
        assert api.get(f"/v1/applications/{app_id}", token=token).status == 200


def test_helm_test(platform, kube):
    out = kube.helm_("test", "passport", "--timeout", "5m")
    assert "Phase:          Succeeded" in out or "Phase: Succeeded" in out, out
