"""The whole journey through the gateway, counter included: a second stack whose clock is set to
the next working morning of the office, so that an appointment booked "today" can be checked in,
photographed, fingerprinted, interviewed, issued and handed over — every step over HTTP as the
counter software would drive it, on real Kafka and FerretDB."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import urllib.request

import numpy as np
import pytest

from deploy.local.client import Api
from deploy.local.stack import DEMO_STAFF
from services.booking.domain import calendar
from tests.integration.conftest import running_stack
from tests.unit import biometrics_samples as samples
from tests.integration.helpers import next_working_morning, pay, status_of, wait_for

PORT_BASE = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000")) + 600
TBK = calendar.load().offices["TBK"]


@pytest.fixture(scope="module")
def counter_stack():
    morning = next_working_morning()
    offset = (morning - dt.datetime.now(dt.timezone.utc)).total_seconds()
    with running_stack("passport-counter-", PORT_BASE, {
            "CLOCK_OFFSET_SECONDS": str(int(offset)), "SLOT_HORIZON_DAYS": "3",
            "BIOMETRICS_REQUIRED_FINGERS": "1,6"}) as stack:
        yield stack, morning.date().isoformat()


def test_from_booking_to_handover_through_the_gateway(counter_stack):
    stack, today = counter_stack
    api = Api(stack.gateway_url)
    person = api.register_applicant()
    app_id = api.create_application(person["token"]).body["application_id"]
    slots = api.get(f"/v1/offices/TBK/slots?date={today}&lane=REGULAR").body["items"]
    started = next(s for s in slots if s["start_time"] == "08:00")  # the clock is past 08:30 of that day
    closed = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": started["slot_id"]}, token=person["token"])
    assert closed.status == 409 and closed.body["type"].endswith("/slot-closed"), closed.body
    slot = next(s for s in slots if s["remaining"] > 0 and s["start_time"] >= "10:00")  # 09:00 closed at 08:30
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-COUNTER-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")

    officer = api.login(DEMO_STAFF[0]["email"], DEMO_STAFF[0]["password"])
    too_early = api.post_multipart(f"/v1/applications/{app_id}/biometrics/photo", {},
                                   {"file": ("photo.jpg", samples.good_photo_jpeg())}, officer)
    assert too_early.status == 409 and too_early.body["type"].endswith("/not-checked-in"), too_early.body
    checked = api.post("/v1/offices/TBK/check-ins", {"application_id": app_id}, token=officer)
    assert checked.status == 201 and checked.body["queue_number"].startswith("A"), checked.body
    assert api.post("/v1/offices/TBK/check-ins", {"application_id": app_id}, token=officer).body == checked.body

    path = f"/v1/applications/{app_id}/biometrics"
    # Bad files for a checked-in application: a clear 4xx each, and nothing stored.
    good_jpeg, good_print = samples.good_photo_jpeg(), samples.good_print_png()
    for data, problem in [(b"%PDF-1.7 not a photo", "unsupported-image-format"),
                          (good_jpeg[: len(good_jpeg) // 2], "truncated-image")]:
        bad = api.post_multipart(f"{path}/photo", {"override_reason": "accept anyway"},
                                 {"file": ("photo.jpg", data)}, officer)
        assert bad.status == 422 and bad.body["type"].endswith("/" + problem), bad.body
    colour = samples.encode(np.dstack([samples.fingerprint()] * 3), ".png")
    bad = api.post_multipart(f"{path}/fingerprints", {"finger": "1"}, {"file": ("f1.png", colour)}, officer)
    assert bad.status == 422 and bad.body["type"].endswith("/wrong-colour-depth"), bad.body
    nothing = api.get(path, token=officer).body
    assert nothing["photo_accepted"] is False and nothing["fingers_captured"] == []

    blurred = api.post_multipart(f"{path}/photo", {}, {"file": ("photo.jpg", samples.blurred_photo())}, officer)
    assert blurred.status == 422, blurred.body
    failed = {c["name"] for c in blurred.body["checks"] if not c["passed"]}
    assert "sharpness" in failed
    # A phone's EXIF block (location, device) comes along; it is not stored.
    good = api.post_multipart(f"{path}/photo", {}, {"file": ("photo.jpg", samples.with_exif(good_jpeg))}, officer)
    assert good.status == 201 and good.body["accepted"] is True, good.body
    assert all(c["passed"] for c in good.body["checks"])
    # The stored photo comes back decrypted, the pixels byte for byte, to the office's staff only.
    read = urllib.request.Request(stack.gateway_url + f"{path}/photo", headers={"Authorization": f"Bearer {officer}"})
    with urllib.request.urlopen(read, timeout=30) as resp:
        assert resp.read() == good_jpeg and resp.headers["Content-Type"] == "image/jpeg"
        assert resp.headers["X-Content-SHA256"] == hashlib.sha256(good_jpeg).hexdigest()
    assert api.get(f"{path}/photo", token=person["token"]).status == 403
    early = api.post(f"/v1/applications/{app_id}/interview", {"outcome": "APPROVED", "notes": "ok"}, token=officer)
    assert early.status == 409, "the interview needs the fingerprints first"
    for finger in ("1", "6"):
        reply = api.post_multipart(f"{path}/fingerprints", {"finger": finger},
                                   {"file": (f"f{finger}.png", good_print)}, officer)
        assert reply.status == 201 and reply.body["accepted"] is True, reply.body
    assert wait_for(lambda: status_of(api, person, app_id) == "BIOMETRICS_CAPTURED")
    interview = api.post(f"/v1/applications/{app_id}/interview",
                         {"outcome": "APPROVED", "notes": "documents consistent"}, token=officer)
    assert interview.status == 200, interview.body
    assert wait_for(lambda: status_of(api, person, app_id) == "APPROVED")

    issued = api.post(f"/v1/applications/{app_id}/issuance", {"passport_number": "C7654321", "delivery": "PICKUP"},
                      token=officer)
    assert issued.status == 200 and issued.body["status"] == "ISSUED", issued.body
    collected = api.post(f"/v1/applications/{app_id}/handover", {}, token=officer)
    assert collected.status == 200 and collected.body["status"] == "COLLECTED"
    view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
    assert [t["status"] for t in view["timeline"]] == [
        "DRAFT", "AWAITING_PAYMENT", "PAID", "CHECKED_IN", "BIOMETRICS_CAPTURED", "APPROVED", "ISSUED", "COLLECTED"]
    assert view["passport_number"] == "C*****21"

    def told():
        items = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"]).body["items"]
        return {m["event_type"] for m in items} >= {"PaymentSettled", "CheckedIn", "InterviewCompleted",
                                                   "PassportIssued", "PassportCollected"}
    assert wait_for(told, timeout_s=60), "the applicant was told every step"


def test_the_counters_day_lists_finds_reads_documents_and_calls_numbers(counter_stack):
    """Issue 17's back-end operations, office-scoped, through the gateway."""
    import json
    import subprocess
    import sys
    stack, today = counter_stack
    api = Api(stack.gateway_url)
    person = api.register_applicant()
    app_id = api.create_application(person["token"]).body["application_id"]
    slot = next(s for s in api.get(f"/v1/offices/TBK/slots?date={today}&lane=REGULAR").body["items"]
                if s["remaining"] > 0 and s["start_time"] >= "10:00")
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    code = booked.body["billing"]["billing_code"]
    assert pay(api, booked.body["billing"], f"BANK-DAY-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    officer = api.login(DEMO_STAFF[0]["email"], DEMO_STAFF[0]["password"])
    supervisor = api.login(DEMO_STAFF[1]["email"], DEMO_STAFF[1]["password"])
    elsewhere = {"role": "OFFICER", "email": "officer@btm.imigrasi.example", "password": "Officer-Btm-2026!",
                 "full_name": "Officer BTM", "office_id": "BTM"}
    subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff", json.dumps([elsewhere])],
                   env=stack.env(), check=True, capture_output=True)
    other = api.login(elsewhere["email"], elsewhere["password"])

    day = api.get("/v1/offices/TBK/appointments", token=officer).body
    mine = next(r for r in day["items"] if r["application_id"] == app_id)
    assert day["date"] == today and mine["status"] == "PAID" and mine["step"] == "paid, not checked in"
    assert mine["full_name"] == "Test Applicant" and mine["nik"].count("*") == 8 and mine["billing_code"] == code
    assert [r["start_time"] for r in day["items"]] == sorted(r["start_time"] for r in day["items"])
    assert api.get("/v1/offices/TBK/appointments", token=other).status == 404
    for q in (app_id, code, person["nik"], "test appl"):
        found = api.get(f"/v1/offices/TBK/applications?q={q.replace(' ', '%20')}", token=officer).body["items"]
        assert app_id in [r["application_id"] for r in found], q
    assert api.get(f"/v1/offices/BTM/applications?q={app_id}", token=other).body["items"] == []

    documents = api.get(f"/v1/applications/{app_id}/documents", token=officer).body["items"]
    ktp = next(d for d in documents if d["kind"] == "KTP")
    read = api.get(f"/v1/applications/{app_id}/documents/{ktp['document_id']}", token=officer)
    assert read.status == 200 and hashlib.sha256(read.body if isinstance(read.body, bytes) else read.body.encode()
                                                 ).hexdigest() == ktp["sha256"]
    assert api.get(f"/v1/applications/{app_id}/documents/{ktp['document_id']}", token=other).status == 404
    reads = api.get(f"/v1/applications/{app_id}/document-reads", token=supervisor).body["items"]
    assert [(r["kind"], r["role"]) for r in reads] == [("KTP", "OFFICER")]

    checked = api.post("/v1/offices/TBK/check-ins", {"application_id": app_id}, token=officer).body
    number = checked["queue_number"]
    called = []
    while True:  # numbers checked in by the other test come first if they were not called yet
        reply = api.post("/v1/offices/TBK/queue/next", {"desk": "Loket 2"}, token=officer)
        assert reply.status in (201, 404), reply.body
        if reply.status == 404:
            break
        called.append(reply.body["number"])
    assert number in called
    assert api.post(f"/v1/offices/TBK/queue/{number}/recall", {"desk": "Loket 3"}, token=officer).body["action"] == "RECALLED"
    assert api.post(f"/v1/offices/TBK/queue/{number}/skip", token=officer).body["action"] == "SKIPPED"
    assert api.post("/v1/offices/TBK/queue/Z999/recall", token=officer).status == 404
    display = api.get("/v1/offices/TBK/queue").body["items"]
    assert [(d["number"], d["action"]) for d in display[:2]] == [(number, "SKIPPED"), (number, "RECALLED")]
    assert "full_name" not in display[0], "the public display shows numbers only"


def test_photo_override_missing_fingers_approval_and_interview_are_in_the_audit_chain(counter_stack):
    """Issue 16: the counter's overrides reach booking's hash-chained audit through the events
    biometrics-capture publishes (BiometricsCaptured, InterviewCompleted), once each."""
    stack, today = counter_stack
    api = Api(stack.gateway_url)
    person = api.register_applicant()
    app_id = api.create_application(person["token"]).body["application_id"]
    slots = api.get(f"/v1/offices/TBK/slots?date={today}&lane=REGULAR").body["items"]
    slot = next(s for s in slots if s["remaining"] > 0 and s["start_time"] >= "10:00")
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-AUDIT-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    officer = api.login(DEMO_STAFF[0]["email"], DEMO_STAFF[0]["password"])
    supervisor = api.login(DEMO_STAFF[1]["email"], DEMO_STAFF[1]["password"])
    assert api.post("/v1/offices/TBK/check-ins", {"application_id": app_id}, token=officer).status == 201

    path = f"/v1/applications/{app_id}/biometrics"
    photo = api.post_multipart(f"{path}/photo", {"override_reason": "detector fails on this face; checked by eye"},
                               {"file": ("photo.jpg", samples.blurred_photo())}, officer)
    assert photo.status == 201 and photo.body["overridden"] is True, photo.body
    for finger in ("1", "6"):
        missing = api.post_multipart(f"{path}/fingerprints", {"finger": finger, "missing_reason": "AMPUTATED"}, {},
                                     officer)
        assert missing.status == 201, missing.body
    approved = api.post(f"{path}/missing-fingers/approval", {"reason": "both hands amputated, seen at the desk"},
                        token=supervisor)
    assert approved.status == 200 and approved.body["complete"] is True, approved.body
    assert wait_for(lambda: status_of(api, person, app_id) == "BIOMETRICS_CAPTURED")
    interview = api.post(f"/v1/applications/{app_id}/interview", {"outcome": "APPROVED", "notes": "fine"},
                         token=officer)
    assert interview.status == 200, interview.body
    assert wait_for(lambda: status_of(api, person, app_id) == "APPROVED")

    def entries():
        listed = api.get(f"/v1/offices/TBK/audit?from={today}&to={today}", token=supervisor)
        assert listed.status == 200, listed.body
        return [e for e in listed.body["items"] if e["details"].get("application_id") == app_id]
    assert wait_for(lambda: any(e["action"] == "INTERVIEW_RECORDED" for e in entries()), timeout_s=60)
    mine = entries()
    assert [e["action"] for e in mine] == ["PHOTO_OVERRIDDEN", "FINGER_RECORDED_MISSING", "FINGER_RECORDED_MISSING",
                                           "MISSING_FINGERS_APPROVED", "INTERVIEW_RECORDED"], mine
    override, first, second, approval, done = mine
    assert override["details"]["reason"].startswith("detector fails") and override["actor_role"] == "OFFICER"
    assert "sharpness" in override["details"]["failed_checks"]
    assert [(first["details"]["finger"], first["details"]["reason"]), (second["details"]["finger"],
            second["details"]["reason"])] == [(1, "AMPUTATED"), (6, "AMPUTATED")]
    assert approval["actor_role"] == "SUPERVISOR" and approval["details"]["reason"].startswith("both hands")
    assert done["details"]["outcome"] == "APPROVED" and done["actor_account_id"] == override["actor_account_id"]
    verified = api.get("/v1/audit/verify", token=supervisor)
    assert verified.status == 200 and verified.body["ok"] is True, verified.body
