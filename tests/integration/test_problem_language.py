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
    anon = api.get(f"/v1/applications/x")
    assert anon.status == 401 and anon.body["title"] == "Perlu masuk"
    bad = api.post("/v1/applications", {"office_id": "TBK"}, token=person["token"], headers={"Accept-Language": "id"})
    assert bad.status == 422 and bad.body["title"] == "Data belum benar" and bad.body["errors"]
