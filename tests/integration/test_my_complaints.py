"""Applicants list their own complaints through the gateway, and the complaint's messages give the
tracking code, never the internal id or the PIN (issue 16)."""
from __future__ import annotations
from tests.integration.helpers import eventually, mails_to, sms_to



def test_applicant_lists_own_complaints_and_is_told_the_tracking_code(stack, api):
    person, other = api.register_applicant(), api.register_applicant()
    named = api.post("/v1/complaints", {"category": "SERVICE", "office_id": "TBK",
                                        "description": "Antrean sangat lama di loket."}, token=person["token"])
    assert named.status == 201, named.body
    anonymous = api.post("/v1/complaints", {"category": "BROKER_OR_EXTORTION", "office_id": "TBK",
                                            "description": "Ada calo di depan kantor.", "anonymous": True},
                         token=person["token"])
    assert anonymous.status == 201, anonymous.body
    theirs = api.post("/v1/complaints", {"category": "SERVICE", "office_id": "TBK",
                                         "description": "Petugas tidak ramah."}, token=other["token"])
    assert theirs.status == 201, theirs.body

    mine = api.get("/v1/me/complaints", token=person["token"])
    assert mine.status == 200, mine.body
    assert [c["tracking_code"] for c in mine.body["items"]] == [named.body["tracking_code"]]
    assert mine.body["items"][0]["status"] == "OPEN" and "access_pin" not in mine.body["items"][0]
    assert api.get("/v1/me/complaints").status == 401
    assert [c["tracking_code"] for c in api.get("/v1/me/complaints", token=other["token"]).body["items"]] == \
        [theirs.body["tracking_code"]]

    code, pin, cid = named.body["tracking_code"], named.body["access_pin"], named.body["complaint_id"]
    texts = eventually(lambda: [t["message"] for t in sms_to(stack, person["phone"]) if code in t["message"]])
    mails = eventually(lambda: [m for m in mails_to(stack, person["email"]) if code in m["subject"]])
    for text in texts + [m["subject"] + m["body"] for m in mails]:
        assert cid not in text and pin not in text
    # the anonymous report is tied to nobody: no message about it reaches the account
    assert not [t for t in sms_to(stack, person["phone"]) if anonymous.body["tracking_code"] in t["message"]]


def test_an_anonymous_reporter_who_left_a_phone_is_told_the_answer_by_sms(stack, api, officer_token):
    phone = "0813" + str(abs(hash(stack.run_dir)) % 10**8).zfill(8)
    filed = api.post("/v1/complaints", {"category": "BROKER_OR_EXTORTION", "office_id": "TBK",
                                        "description": "Ada calo menawarkan jalur cepat.", "contact_phone": phone},
                     headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"})
    assert filed.status == 201 and filed.body["anonymous"] is True, filed.body
    code = filed.body["tracking_code"]
    answered = api.post(f"/v1/complaints/{filed.body['complaint_id']}/responses",
                        {"message": "Kami sedang menyelidikinya.", "status": "IN_PROGRESS"}, token=officer_token)
    assert answered.status == 201, answered.body
    texts = eventually(lambda: [t["message"] for t in sms_to(stack, phone) if "ditanggapi" in t["message"]],
                       timeout_s=120)
    assert len(texts) == 1 and code in texts[0] and filed.body["complaint_id"] not in texts[0]
    # a named report leaves no contact: the account is told instead
    person = api.register_applicant()
    refused = api.post("/v1/complaints", {"category": "SERVICE", "office_id": "TBK", "description": "Antrean lama.",
                                          "contact_phone": phone}, token=person["token"])
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "contact_phone"
