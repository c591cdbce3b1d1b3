"""Problems through the gateway in the applicant's language (issue 16): Indonesian by default, English by
Accept-Language, the same type URI either way."""
from __future__ import annotations


def test_problem_title_and_detail_follow_accept_language(api):
    person = api.register_applicant()
    ind = api.get("/v1/applications/no-such-application", token=person["token"])
    eng = api.get("/v1/applications/no-such-application", token=person["token"],
                  headers={"Accept-Language": "en-US,en;q=0.9"})
    assert ind.status == eng.status == 404
    assert ind.body["type"] == eng.body["type"] and ind.body["type"].startswith("https://passport.example/problems/")
    assert ind.headers["Content-Language"] == "id" and eng.headers["Content-Language"] == "en"
    assert ind.body["title"] != eng.body["title"] and ind.body["detail"] != eng.body["detail"]
    assert "tidak ditemukan" in ind.body["detail"].lower()
    # a gateway-made problem (no token) and a validation problem, too
    anon = api.get("/v1/applications/x")
    assert anon.status == 401 and anon.body["title"] == "Perlu masuk"
    bad = api.post("/v1/applications", {"office_id": "TBK"}, token=person["token"], headers={"Accept-Language": "id"})
    assert bad.status == 422 and bad.body["title"] == "Data belum benar" and bad.body["errors"]


def test_field_error_messages_follow_accept_language_and_keep_their_fields(api):
    """errors[].message in Indonesian by default, English by Accept-Language; `field` is the API's."""
    person = api.register_applicant()
    body = {"office_id": "TBK", "service_type": "NEW", "passport_type": "ORDINARY", "validity_years": 7}
    ind = api.post("/v1/applications", body, token=person["token"])
    eng = api.post("/v1/applications", body, token=person["token"], headers={"Accept-Language": "en"})
    assert ind.status == eng.status == 422 and ind.body["type"] == eng.body["type"], (ind.body, eng.body)
    assert [e["field"] for e in ind.body["errors"]] == [e["field"] for e in eng.body["errors"]]
    by_field = {e["field"]: e["message"] for e in ind.body["errors"]}
    assert by_field["validity_years"].startswith("validity_years harus "), ind.body
    assert {e["field"]: e["message"] for e in eng.body["errors"]}["validity_years"].startswith(
        "validity_years must be "), eng.body
    typed = api.post("/v1/applications", {"office_id": 7}, token=person["token"])  # the gateway's own check
    assert typed.status == 422 and {"field": "office_id", "message": "office_id harus berupa teks"} in \
        typed.body["errors"], typed.body
