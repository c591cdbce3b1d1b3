"""PDFs people upload are parsed and rewritten by qpdf (servicekit/pdf.py): a JavaScript open
action hidden behind an escaped name (`/J#61vaScript`, which the old literal-name filter let
through) comes back without it - as anonymous complaint evidence and as an applicant's document -
and an encrypted PDF, which cannot be cleaned, is refused with 422 pdf-not-accepted, nothing stored."""
from __future__ import annotations

import io

import pikepdf

from deploy.local.client import SAMPLE_PDF
from deploy.local.stack import DEMO_STAFF
from servicekit import pdf
from tests.integration.helpers import applicant_with_application, download
from tests.unit import pdf_samples

OFFICER = next(s for s in DEMO_STAFF if s["role"] == "OFFICER" and s["office_id"] == "TBK")


def encrypted() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(SAMPLE_PDF)) as doc:
        doc.save(out, encryption=pikepdf.Encryption(owner="o", user="u"))
    return out.getvalue()


def test_escaped_name_javascript_is_removed_from_anonymous_complaint_evidence(api):
    filed = api.post("/v1/complaints", {"category": "SERVICE", "office_id": "TBK",
                                        "description": "Petugas meminta uang tambahan di loket."})
    assert filed.status == 201, filed.body
    code, pin = filed.body["tracking_code"], filed.body["access_pin"]
    sent = pdf_samples.ESCAPED_NAME_JS
    assert b"/JavaScript" not in sent
    up = api.post_multipart(f"/v1/complaints/{code}/attachments", {"kind": "EVIDENCE"},
                            {"file": ("bukti.pdf", sent)}, headers={"X-Access-Pin": pin})
    assert up.status == 201, up.body
    status, _headers, body = download(api, f"/v1/complaints/{code}/attachments/{up.body['attachment_id']}", pin=pin)
    assert status == 200 and body.startswith(b"%PDF-") and b"app.alert" not in body
    assert pdf.active_content(body) == []

    refused = api.post_multipart(f"/v1/complaints/{code}/attachments", {"kind": "EVIDENCE"},
                                 {"file": ("terkunci.pdf", encrypted())}, headers={"X-Access-Pin": pin})
    assert refused.status == 422 and refused.body["type"].endswith("/pdf-not-accepted"), refused.body
    follow = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin})
    assert len(follow.body.get("attachments", [])) == 1, "the refused file left nothing behind"


def test_escaped_name_javascript_is_removed_from_an_applicant_document(api):
    person, app_id = applicant_with_application(api)
    up = api.upload_document(person["token"], app_id, "DIPLOMA", pdf_samples.ESCAPED_NAME_JS)
    assert up.status == 201, up.body
    officer = api.login(OFFICER["email"], OFFICER["password"])
    status, _headers, body = download(api, f"/v1/applications/{app_id}/documents/{up.body['document_id']}",
                                      token=officer)
    assert status == 200 and b"app.alert" not in body and pdf.active_content(body) == []

    before = api.get(f"/v1/applications/{app_id}/documents", token=person["token"]).body["items"]
    refused = api.upload_document(person["token"], app_id, "KK", encrypted())
    assert refused.status == 422 and refused.body["type"].endswith("/pdf-not-accepted"), refused.body
    assert api.get(f"/v1/applications/{app_id}/documents", token=person["token"]).body["items"] == before
