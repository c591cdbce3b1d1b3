"""Biometrics through the gateway against the real stack: the refusals, not checked in (409), another
office (404), wrong role (403), bad input (4xx). Check-in needs the appointment day, so the accepted
captures run on the counter-journey stack (test_counter_journey.py)."""
from __future__ import annotations


import pytest

from deploy.local.stack import DEMO_STAFF
from tests.unit import biometrics_samples as samples
from tests.integration.helpers import multipart


def upload(api, path, token, fields=None, files=None, **kw):
    raw, ctype = multipart(fields or {}, files or {})
    return api.request("POST", path, raw=raw, content_type=ctype, token=token, **kw)


@pytest.fixture(scope="module")
def officer(api):
    staff = next(s for s in DEMO_STAFF if s["role"] == "OFFICER")
    return api.login(staff["email"], staff["password"])


@pytest.fixture(scope="module")
def photo():
    return samples.good_photo_jpeg()


def photo_files(data):
    return {"file": ("photo.jpg", data, "image/jpeg")}


def test_capture_needs_check_in(api, officer, photo):
    person = api.register_applicant()
    app = api.create_application(person["token"]).body
    assert app["status"] == "DRAFT"
    reply = upload(api, f"/v1/applications/{app['application_id']}/biometrics/photo", officer,
                   files=photo_files(photo))
    assert reply.status == 409, reply.body
    assert reply.body["type"].endswith("/not-checked-in")
    slot = api.first_working_slot("TBK")
    booked = api.post(f"/v1/applications/{app['application_id']}/appointment", {"slot_id": slot["slot_id"]},
                      token=person["token"])
    assert booked.status == 201, booked.body
    for path, kw in [("biometrics/photo", {"files": photo_files(photo)}),
                     ("biometrics/fingerprints", {"fields": {"finger": "1"},
                                                  "files": {"file": ("f.png", samples.good_print_png(), "image/png")}}),
                     ("biometrics/fingerprints", {"fields": {"finger": "3", "missing_reason": "INJURED"}})]:
        reply = upload(api, f"/v1/applications/{app['application_id']}/{path}", officer, **kw)
        assert reply.status == 409 and reply.body["type"].endswith("/not-checked-in"), (path, reply.body)
    interview = api.post(f"/v1/applications/{app['application_id']}/interview",
                         {"outcome": "APPROVED", "notes": "ok"}, token=officer)
    assert interview.status == 409 and interview.body["type"].endswith("/not-checked-in")
    status = api.get(f"/v1/applications/{app['application_id']}/biometrics", token=officer)
    assert status.status == 200
    assert status.body["photo_accepted"] is False and status.body["fingers_captured"] == []
    assert status.body["fingers_required"] == list(range(1, 11))


def test_other_office_gets_404(api, officer, photo):
    person = api.register_applicant()
    app = api.create_application(person["token"], office_id="BTM").body
    reply = upload(api, f"/v1/applications/{app['application_id']}/biometrics/photo", officer,
                   files=photo_files(photo))
    assert reply.status == 404, reply.body
    assert api.get(f"/v1/applications/{app['application_id']}/biometrics/photo", token=officer).status == 404
    unknown = upload(api, "/v1/applications/no-such-app/biometrics/photo", officer, files=photo_files(photo))
    assert unknown.status == 404


def test_roles_and_input_are_checked_at_the_edge(api, officer, photo):
    person = api.register_applicant()
    app = api.create_application(person["token"]).body
    base = f"/v1/applications/{app['application_id']}"
    assert upload(api, f"{base}/biometrics/photo", person["token"], files=photo_files(photo)).status == 403
    assert upload(api, f"{base}/biometrics/photo", None, files=photo_files(photo)).status == 401
    assert api.post(f"{base}/biometrics/photo", {"file": "x"}, token=officer).status == 415
    missing = upload(api, f"{base}/biometrics/photo", officer)
    assert missing.status == 422 and missing.body["errors"][0]["field"] == "file"
    bad_finger = upload(api, f"{base}/biometrics/fingerprints", officer, fields={"finger": "11"},
                        files={"file": ("f.png", samples.good_print_png(), "image/png")})
    assert bad_finger.status == 422 and bad_finger.body["type"].endswith("/unknown-finger-position")
    bad_outcome = api.post(f"{base}/interview", {"outcome": "MAYBE"}, token=officer)
    assert bad_outcome.status == 422 and bad_outcome.body["errors"][0]["field"] == "outcome"
    assert api.get(f"{base}/biometrics", token=person["token"]).status == 403
    # stored images are never returned to an applicant, not even their own photo
    photo_read = api.get(f"{base}/biometrics/photo", token=person["token"])
    assert photo_read.status == 403 and photo_read.headers.get("Content-Type", "").startswith("application/problem+json")


def test_openapi_lists_the_biometrics_operations(api):
    paths = api.get("/openapi.json").body["paths"]
    assert "/v1/applications/{application_id}/biometrics/photo" in paths
    assert "/v1/applications/{application_id}/interview" in paths
