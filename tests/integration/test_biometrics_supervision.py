"""The supervisor's biometrics routes through the gateway (issue 16, counter rules): approving a
capture with every finger missing and reading the office's access log - roles, offices, input and
the state rules seen over HTTP. The approval of a real all-missing capture needs a check-in (the
appointment day), so its happy path is covered by tests/unit/test_biometrics_counter_rules.py."""
from __future__ import annotations


def test_only_the_supervisor_of_the_office_reads_its_access_log(api, supervisor_token, officer_token):
    log = api.get("/v1/offices/TBK/biometrics/access-log", token=supervisor_token)
    assert log.status == 200 and isinstance(log.body["items"], list), log.body
    assert api.get("/v1/offices/TBK/biometrics/access-log?limit=5&application_id=x",
                   token=supervisor_token).status == 200
    assert api.get("/v1/offices/TBK/biometrics/access-log", token=officer_token).status == 403
    assert api.get("/v1/offices/BTM/biometrics/access-log", token=supervisor_token).status == 403
    assert api.get("/v1/offices/TBK/biometrics/access-log").status == 401
    for limit in ("0", "501", "ten"):
        bad = api.get(f"/v1/offices/TBK/biometrics/access-log?limit={limit}", token=supervisor_token)
        assert bad.status == 422 and bad.body["errors"][0]["field"] == "limit", bad.body


def test_missing_fingers_approval_is_the_supervisors_and_needs_a_checked_in_capture(api, supervisor_token,
                                                                                    officer_token):
    person = api.register_applicant()
    app = api.create_application(person["token"]).body
    path = f"/v1/applications/{app['application_id']}/biometrics/missing-fingers/approval"
    assert api.post(path, {"reason": "no hands"}, token=officer_token).status == 403
    assert api.post(path, {"reason": "no hands"}, token=person["token"]).status == 403
    blank = api.post(path, {}, token=supervisor_token)
    assert blank.status == 422 and blank.body["errors"][0]["field"] == "reason", blank.body
    early = api.post(path, {"reason": "no hands"}, token=supervisor_token)
    assert early.status == 409 and early.body["type"].endswith("/not-checked-in"), early.body
    other = api.create_application(api.register_applicant()["token"], office_id="BTM").body
    elsewhere = api.post(f"/v1/applications/{other['application_id']}/biometrics/missing-fingers/approval",
                         {"reason": "no hands"}, token=supervisor_token)
    assert elsewhere.status == 404, elsewhere.body
    status = api.get(f"/v1/applications/{app['application_id']}/biometrics", token=supervisor_token)
    assert status.status == 200 and status.body["missing_fingers_approval_required"] is False


def test_openapi_lists_the_supervisor_routes(api):
    paths = api.get("/openapi.json").body["paths"]
    assert "post" in paths["/v1/applications/{application_id}/biometrics/missing-fingers/approval"]
    assert "get" in paths["/v1/offices/{office_id}/biometrics/access-log"]
