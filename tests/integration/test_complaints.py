"""Complaints through the gateway against real Kafka and FerretDB: anonymous filing that leaves no
trace of the reporter, follow-up with tracking code and PIN (wrong PINs limited), staff responses,
escalation on breach exactly once, and the public statistics and metric."""
from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import hashlib
import io

import bson
import grpc
import pymongo
import pytest
from kafka import KafkaConsumer
from PIL import Image

from passport.v1 import complaint_pb2, complaint_pb2_grpc

from deploy.local.client import SAMPLE_PDF
from deploy.local.stack import DEMO_STAFF
from servicekit import grpcclient, pdf
from servicekit.events import decode
from services.complaint.domain import attachments as files
from services.complaint.domain import complaint as domain
from tests.integration.helpers import download

DB = "passport_complaint"


@pytest.fixture(scope="module")
def db(stack):
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client[DB]
    client.close()


@pytest.fixture(scope="module")
def staff(api):
    officer, supervisor = DEMO_STAFF
    return {"officer": api.login(officer["email"], officer["password"]),
            "supervisor": api.login(supervisor["email"], supervisor["password"])}


def file(api, token=None, headers=None, **overrides):
    body = {"category": "SERVICE", "office_id": "TBK", "description": "Antrean sangat lama, loket tutup jam 11."}
    body.update(overrides)
    return api.post("/v1/complaints", body, token=token, headers=headers)


def complaint_events(stack, complaint_id: str, wanted, timeout_s: float = 60) -> list:
    """Events of one complaint on complaint.events, polled until `wanted(events)` holds."""
    consumer = KafkaConsumer("complaint.events", **stack.kafka_config(),
                             group_id=f"it-{uuid.uuid4().hex}", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
    found, raw = [], []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for msg in consumer:
                envelope, payload = decode(msg.value)
                if envelope.aggregate_id == complaint_id:
                    found.append((envelope.event_type, payload))
                    raw.append(msg.value)
            if wanted(found):
                break
    finally:
        consumer.close()
    return found, raw


def test_anonymous_broker_report_stores_and_logs_no_identity(api, stack, db):
    person = api.register_applicant()
    ip = "198.51.100.237"
    reply = file(api, token=person["token"], headers={"X-Forwarded-For": ip, "X-Real-IP": ip},
                 category="BROKER_OR_EXTORTION", anonymous=True,
                 description="Seorang calo di depan kantor meminta Rp 2.000.000 untuk jadwal cepat.")
    assert reply.status == 201, reply.body
    cid, code, pin = reply.body["complaint_id"], reply.body["tracking_code"], reply.body["access_pin"]
    assert len(code) >= 16 and pin.isdigit() and len(pin) >= 6
    assert reply.body["anonymous"] is True

    # the event is published (so its outbox copy has been through the relay) without an account id
    events, raw = complaint_events(stack, cid, lambda evs: any(t == "ComplaintFiled" for t, _ in evs))
    filed = [p for t, p in events if t == "ComplaintFiled"]
    assert len(filed) == 1 and filed[0].account_id == "" and filed[0].anonymous

    # the complainant can follow up with code and PIN; the answer names nobody
    seen = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin})
    assert seen.status == 200 and seen.body["category"] == "BROKER_OR_EXTORTION"
    assert seen.body["status"] == "OPEN" and seen.body["responses"] == []

    needles = {"account id": person["account_id"], "NIK": person["nik"], "email": person["email"],
               "IP": ip, "phone": person["phone"], "PIN": pin}
    stored = b""
    for name in db.list_collection_names():
        for doc in db[name].find():
            stored += bson.encode(doc)
    assert cid.encode() in stored  # we are looking at the right database
    for what, value in needles.items():
        assert value.encode() not in stored, f"the {what} of the reporter is stored"
    logs = (stack.run_dir / "logs" / "complaint.log").read_bytes()
    assert cid.encode() in logs  # the filing was logged, by complaint id only
    gateway_logs = (stack.run_dir / "logs" / "gateway.log").read_bytes()
    for what, value in needles.items():
        assert value.encode() not in logs, f"the {what} of the reporter is in the complaint log"
        assert value.encode() not in b"".join(raw), f"the {what} of the reporter is in an event"
    assert ip.encode() not in gateway_logs and person["account_id"].encode() not in gateway_logs


def test_follow_up_with_pin_and_wrong_pins_are_limited(api):
    person = api.register_applicant()
    reply = file(api, token=person["token"], category="LOST_PASSPORT",
                 description="Paspor hilang di pelabuhan, laporan polisi sudah ada.")
    assert reply.status == 201, reply.body
    code, pin = reply.body["tracking_code"], reply.body["access_pin"]
    ok = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin})
    assert ok.status == 200 and ok.body["sla_state"] == "on_time" and ok.body["anonymous"] is False
    assert ok.body["due_at"] > ok.body["created_at"] and ok.body["first_response_due_at"] <= ok.body["due_at"]
    assert api.get(f"/v1/complaints/{code}").status == 401
    wrong = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    for _ in range(domain.MAX_PIN_FAILURES):
        assert api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": wrong}).status == 404
    limited = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin})
    assert limited.status == 429 and limited.body["type"].endswith("too-many-pin-attempts")
    # an unknown code answers exactly like a wrong PIN
    assert api.get(f"/v1/complaints/{domain.new_tracking_code()}", headers={"X-Access-Pin": pin}).status == 404


def test_bad_complaints_get_clear_4xx(api):
    person = api.register_applicant()
    assert file(api, description="   ").status == 422
    assert file(api, description="").status == 422
    assert file(api, description="x" * (domain.DESCRIPTION_MAX + 1)).status == 422
    unknown = file(api, office_id="NOPE")
    assert unknown.status == 422 and unknown.body["errors"][0]["field"] == "office_id"
    assert file(api, category="GOSSIP").status == 422
    assert file(api, token=person["token"], anonymous=True, application_id="app-1").status == 422
    foreign = file(api, token=person["token"], application_id="no-such-application")
    assert foreign.status == 422 and foreign.body["errors"][0]["field"] == "application_id"
    assert file(api, token="not-a-token").status == 401


def test_staff_respond_and_close_and_other_offices_cannot(api, stack, staff):
    person = api.register_applicant()
    reply = file(api, token=person["token"], category="SERVICE")
    assert reply.status == 201
    cid, code, pin = reply.body["complaint_id"], reply.body["tracking_code"], reply.body["access_pin"]
    listed = api.get("/v1/offices/TBK/complaints?status=OPEN", token=staff["officer"])
    assert listed.status == 200
    mine = [c for c in listed.body["items"] if c["complaint_id"] == cid]
    assert mine and mine[0]["sla_state"] in ("on_time", "due_soon")
    assert api.get("/v1/offices/BTM/complaints", token=staff["officer"]).status == 403
    assert api.get("/v1/offices/TBK/complaints", token=person["token"]).status == 403
    assert api.get("/v1/offices/TBK/complaints?status=LOST", token=staff["officer"]).status == 422
    # staff of the office read without a PIN
    assert api.get(f"/v1/complaints/{code}", token=staff["supervisor"]).status == 200

    path = f"/v1/complaints/{cid}/responses"
    assert api.post(path, {"message": "x", "status": "IN_PROGRESS"}, token=person["token"]).status == 403
    assert api.post(path, {"message": " ", "status": "IN_PROGRESS"}, token=staff["officer"]).status == 422
    assert api.post(path, {"message": "ok", "status": "DONE"}, token=staff["officer"]).status == 422
    first = api.post(path, {"message": "Kami sedang memeriksa.", "status": "IN_PROGRESS"}, token=staff["officer"])
    assert first.status == 201, first.body
    done = api.post(path, {"message": "Loket tambahan dibuka.", "status": "RESOLVED"}, token=staff["supervisor"])
    assert done.status == 201
    again = api.post(path, {"message": "lagi", "status": "REJECTED"}, token=staff["officer"])
    assert again.status == 409

    seen = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin})
    assert seen.body["status"] == "RESOLVED" and seen.body["sla_state"] == "on_time"
    assert [r["status"] for r in seen.body["responses"]] == ["IN_PROGRESS", "RESOLVED"]
    assert seen.body["responses"][0]["message"] == "Kami sedang memeriksa."
    resolved = api.get("/v1/offices/TBK/complaints?status=RESOLVED", token=staff["officer"]).body["items"]
    assert cid in [c["complaint_id"] for c in resolved]

    events, _ = complaint_events(stack, cid, lambda evs: any(t == "ComplaintResolved" for t, _ in evs))
    types = [t for t, _ in events]
    assert types.count("ComplaintFiled") == 1 and types.count("ComplaintResponded") == 2
    resolved_ev = [p for t, p in events if t == "ComplaintResolved"]
    assert len(resolved_ev) == 1 and resolved_ev[0].on_time and resolved_ev[0].account_id == person["account_id"]


def test_a_complaint_of_another_office_is_invisible_to_this_office(api, staff):
    reply = file(api, office_id="BTM")
    assert reply.status == 201
    cid, code = reply.body["complaint_id"], reply.body["tracking_code"]
    assert api.get(f"/v1/complaints/{code}", token=staff["officer"]).status == 404
    assert api.get(f"/v1/complaints/{code}", token=staff["officer"], headers={"X-Access-Pin": "12345678"}).status == 404
    resp = api.post(f"/v1/complaints/{cid}/responses", {"message": "x", "status": "RESOLVED"}, token=staff["officer"])
    assert resp.status == 404


def test_filing_queues_both_deadlines_for_the_sweeper(api, db):
    """The escalation sweeper reads the SLA queue's windows that passed, by `_id` (its scan of every
    complaint past a deadline is the hourly safety net): filing writes both deadlines there, each in
    the window it falls in, before the complaint."""
    from services.complaint.adapters.repository import SLA_WINDOW_S
    reply = file(api, category="SERVICE")
    assert reply.status == 201, reply.body
    cid = reply.body["complaint_id"]
    complaint = db.complaints.find_one({"_id": cid})
    queued = {e["kind"]: e["_id"] for e in db.sla_due.find({"complaint_id": cid})}
    assert set(queued) == {"FIRST_RESPONSE", "RESOLUTION"}
    for kind, due in (("FIRST_RESPONSE", complaint["first_response_due"]), ("RESOLUTION", complaint["resolution_due"])):
        assert queued[kind].split(":")[0] == str(int(due.timestamp()) // SLA_WINDOW_S)


def test_a_breach_escalates_exactly_once(api, stack, db, staff):
    """A complaint filed weeks ago (written straight to the store, as the clock cannot be moved in a
    running service) and never answered: the sweeper escalates both breaches, once each."""
    now = dt.datetime.now(dt.timezone.utc)
    filed_at = now - dt.timedelta(days=30)
    cid, salt = str(uuid.uuid4()), b"0123456789abcdef"
    db.complaints.insert_one({
        "_id": cid, "tracking_code": domain.new_tracking_code(), "office_id": "TBK", "category": "SERVICE",
        "description": "Tidak ada tanggapan.", "anonymous": True, "created_at": filed_at,
        "first_response_due": filed_at + dt.timedelta(days=4), "resolution_due": filed_at + dt.timedelta(days=8),
        "pin_salt": salt, "pin_hash": domain.hash_pin("12345678", salt)})

    def escalated(evs):
        return sorted(p.kind for t, p in evs if t == "ComplaintEscalated") == ["FIRST_RESPONSE", "RESOLUTION"]

    events, _ = complaint_events(stack, cid, escalated)
    assert escalated(events), events
    time.sleep(12)  # let the sweeper run at least twice more
    assert sorted(e["_id"] for e in db.escalations.find({"complaint_id": cid})) == \
        [f"{cid}:FIRST_RESPONSE", f"{cid}:RESOLUTION"]
    events, _ = complaint_events(stack, cid, lambda evs: False, timeout_s=5)
    assert len([t for t, _ in events if t == "ComplaintEscalated"]) == 2
    assert all(p.account_id == "" and p.office_id == "TBK" and p.category == "SERVICE" and p.complaint_id == cid
               and p.escalated_at for t, p in events if t == "ComplaintEscalated")

    listed = api.get("/v1/offices/TBK/complaints", token=staff["officer"]).body["items"]
    assert [c["sla_state"] for c in listed if c["complaint_id"] == cid] == ["breached"]
    late = api.post(f"/v1/complaints/{cid}/responses", {"message": "Maaf terlambat.", "status": "RESOLVED"},
                    token=staff["supervisor"])
    assert late.status == 201
    events, _ = complaint_events(stack, cid, lambda evs: any(t == "ComplaintResolved" for t, _ in evs))
    assert [p.on_time for t, p in events if t == "ComplaintResolved"] == [False]
    month = filed_at.astimezone(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m")
    stats = api.get(f"/v1/offices/TBK/complaint-statistics?month={month}").body
    assert stats["escalations"] >= 2 and stats["closed"] >= 1 and stats["closed_on_time"] < stats["closed"]


def test_public_statistics_and_metric(api, stack, staff):
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m")  # JYP is UTC+9
    before = api.get(f"/v1/offices/JYP/complaint-statistics?month={month}")
    assert before.status == 200 and set(before.body["by_category"]) == set(domain.CATEGORIES)
    for category in ("APP_ERROR", "APP_ERROR", "DAMAGED_PASSPORT"):
        assert file(api, office_id="JYP", category=category).status == 201
    after = api.get(f"/v1/offices/JYP/complaint-statistics?month={month}").body
    assert after["filed"] == before.body["filed"] + 3
    assert after["by_category"]["APP_ERROR"] == before.body["by_category"]["APP_ERROR"] + 2
    assert after["by_category"]["DAMAGED_PASSPORT"] == before.body["by_category"]["DAMAGED_PASSPORT"] + 1
    assert set(after) == {"office_id", "month", "filed", "by_category", "closed", "closed_on_time",
                          "share_resolved_on_time", "escalations"}  # no personal data
    assert api.get("/v1/offices/JYP/complaint-statistics?month=2026-13").status == 422
    assert api.get("/v1/offices/JYP/complaint-statistics?month=0001-01").status == 422  # was a 500 (overflow)
    assert api.get("/v1/offices/JYP/complaint-statistics").status == 422
    assert api.get(f"/v1/offices/NOPE/complaint-statistics?month={month}").status == 404

    url = f"http://127.0.0.1:{stack.ports.metrics('complaint')}/metrics"
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    assert 'complaint_filed_total{category="APP_ERROR",office_id="JYP"}' in text
    assert 'complaint_resolved_on_time_ratio{office_id="TBK"}' in text
    spec = api.get("/openapi.json").body
    assert "/v1/offices/{office_id}/complaint-statistics" in spec["paths"]


# -- evidence, assignment and the replacement path --------------------------------------------
PDF = SAMPLE_PDF
STORED_PDF = pdf.normalise(PDF)[0]  # every PDF is rewritten by qpdf (servicekit/pdf.py)
SECRET = "Kamera-Serial-99817 Jl. Melati 7"


def jpeg(exif_text: str = "") -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    if exif_text:
        exif[0x010F] = exif_text
    Image.new("RGB", (40, 30), (10, 120, 10)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(api, path, token, fields, files, headers):
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for name, (filename, data, ctype) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return api.request("POST", path, raw=b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}",
                       token=token, headers=headers)


def attach(api, code, data, pin=None, token=None, kind=None, name="bukti.jpg", ctype="image/jpeg", headers=None):
    hdrs = dict(headers or {})
    if pin:
        hdrs["X-Access-Pin"] = pin
    return upload(api, f"/v1/complaints/{code}/attachments", token, fields={"kind": kind} if kind else {},
                  files={"file": (name, data, ctype)}, headers=hdrs)


def me(api, token) -> str:
    return api.get("/v1/me", token=token).body["account_id"]


def test_evidence_is_checked_by_its_bytes_and_listed(api, db, staff):
    person = api.register_applicant()
    filed = file(api, token=person["token"], category="LOST_PASSPORT", description="Paspor hilang di bandara.")
    code, pin = filed.body["tracking_code"], filed.body["access_pin"]
    photo = jpeg(SECRET)
    _type, kept = files.prepare(photo)  # a named report's photo loses its metadata as well
    assert SECRET.encode() in photo and SECRET.encode() not in kept
    ok = attach(api, code, photo, pin=pin, name="x.exe", ctype="application/octet-stream")
    assert ok.status == 201, ok.body
    assert ok.body["content_type"] == "image/jpeg" and ok.body["kind"] == "EVIDENCE"
    assert ok.body["size"] == len(kept) and ok.body["sha256"] == hashlib.sha256(kept).hexdigest()
    police = attach(api, code, PDF, pin=pin, kind="POLICE_LOSS_REPORT", name="bap.pdf", ctype="application/pdf")
    assert police.status == 201 and police.body["content_type"] == "application/pdf"
    by_staff = attach(api, code, PDF, token=staff["officer"], name="catatan.pdf")
    assert by_staff.status == 201 and by_staff.body["uploaded_by"] == "OFFICER"

    # refused: executables named as images, archives, scripts, unknown types, empty, too large
    for data in (b"MZ\x90\x00" + b"\x00" * 200, b"\x7fELF\x02\x01" + b"\x00" * 100, b"#!/bin/sh\necho hi\n",
                 b"PK\x03\x04" + b"\x00" * 100, b"GIF89a\x01\x00\x01\x00"):
        bad = attach(api, code, data, pin=pin, name="foto.jpg", ctype="image/jpeg")
        assert bad.status == 422 and bad.body["type"].endswith("attachment-type-not-allowed"), bad.body
    empty = attach(api, code, b"", pin=pin)
    assert empty.status == 422 and empty.body["errors"][0]["field"] == "file"
    huge = attach(api, code, b"\xff\xd8\xff\xe0" + b"\x00" * 4_000_000, pin=pin)
    assert huge.status == 413 and huge.body["type"].endswith("payload-too-large")
    assert attach(api, code, photo).status == 401
    assert attach(api, code, photo, pin="0000000" + str((int(pin[-1]) + 1) % 10)).status == 404
    assert attach(api, code, photo, pin=pin, kind="SELFIE").status == 422
    other = file(api, category="SERVICE")
    wrong_kind = attach(api, other.body["tracking_code"], PDF, pin=other.body["access_pin"], kind="POLICE_LOSS_REPORT")
    assert wrong_kind.status == 422

    seen = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin}).body
    assert [(a["kind"], a["content_type"]) for a in seen["attachments"]] == [
        ("EVIDENCE", "image/jpeg"), ("POLICE_LOSS_REPORT", "application/pdf"), ("EVIDENCE", "application/pdf")]
    assert all(a["uploaded_at"] and len(a["sha256"]) == 64 and a["size"] > 0 for a in seen["attachments"])
    stored = list(db.attachments.find({"complaint_id": filed.body["complaint_id"]}).sort("seq", 1))
    assert [d["_id"].rsplit(":", 1)[1] for d in stored] == ["1", "2", "3"]
    assert bytes(stored[0]["data"]) == kept and stored[0]["sha256"] == hashlib.sha256(kept).hexdigest()


def test_anonymous_evidence_names_nobody_and_loses_its_exif(api, db):
    person = api.register_applicant()
    ip = "203.0.113.77"
    filed = file(api, token=person["token"], anonymous=True, category="BROKER_OR_EXTORTION",
                 description="Calo meminta uang di loket 3.")
    code, pin, cid = filed.body["tracking_code"], filed.body["access_pin"], filed.body["complaint_id"]
    photo = jpeg(SECRET)
    assert SECRET.encode() in photo
    ok = attach(api, code, photo, pin=pin, token=person["token"], headers={"X-Forwarded-For": ip})
    assert ok.status == 201 and ok.body["uploaded_by"] == "COMPLAINANT"
    doc = db.attachments.find_one({"complaint_id": cid})
    raw = bson.encode(doc)
    for value in (person["account_id"], person["nik"], person["email"], ip, SECRET):
        assert value.encode() not in raw
    data = bytes(doc["data"])
    assert doc["sha256"] == hashlib.sha256(data).hexdigest() == ok.body["sha256"]
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.size == (40, 30) and not img.getexif()

    # the complainant downloads it (token and IP sent along, neither forwarded nor recorded)
    got = download(api, f"/v1/complaints/{code}/attachments/{doc['_id']}", pin=pin, token=person["token"],
                   headers={"X-Forwarded-For": ip})
    assert got[0] == 200 and got[2] == data
    reads = list(db.attachment_reads.find({"complaint_id": cid}))
    assert [(r["role"], r["attachment_id"]) for r in reads] == [("COMPLAINANT", doc["_id"])]
    for value in (person["account_id"], person["nik"], person["email"], ip):
        assert value.encode() not in bson.encode(reads[0])


def test_assignment_history_and_filter(api, stack, staff):
    officer_id, supervisor_id = me(api, staff["officer"]), me(api, staff["supervisor"])
    person = api.register_applicant()
    filed = file(api, token=person["token"], category="SERVICE")
    cid, code, pin = filed.body["complaint_id"], filed.body["tracking_code"], filed.body["access_pin"]
    path = f"/v1/complaints/{cid}/assignment"

    assert api.post(path, {"officer_account_id": officer_id}, token=person["token"]).status == 403
    assert api.post(path, {"officer_account_id": supervisor_id}, token=staff["officer"]).status == 403
    not_staff = api.post(path, {"officer_account_id": person["account_id"]}, token=staff["supervisor"])
    assert not_staff.status == 422 and not_staff.body["type"].endswith("assignee-not-staff-of-office")
    assert api.post(path, {}, token=staff["supervisor"]).status == 422
    assert api.post("/v1/complaints/nope/assignment", {"officer_account_id": officer_id},
                    token=staff["supervisor"]).status == 404

    first = api.post(path, {"officer_account_id": officer_id}, token=staff["supervisor"])
    assert first.status == 201, first.body
    assert first.body["assignee_account_id"] == officer_id and first.body["seq"] == 1
    mine = api.get("/v1/offices/TBK/complaints?assignee=me", token=staff["officer"]).body["items"]
    assert cid in [c["complaint_id"] for c in mine]
    assert all(c["assignee_account_id"] == officer_id for c in mine)
    theirs = api.get(f"/v1/offices/TBK/complaints?assignee={supervisor_id}", token=staff["officer"]).body["items"]
    assert cid not in [c["complaint_id"] for c in theirs]

    assert api.post(f"/v1/complaints/{cid}/responses", {"message": "Sedang ditangani.", "status": "IN_PROGRESS"},
                    token=staff["officer"]).status == 201
    second = api.post(path, {"officer_account_id": supervisor_id}, token=staff["supervisor"])
    assert second.status == 201 and second.body["seq"] == 2
    back = api.post(path, {"officer_account_id": officer_id}, token=staff["officer"])  # takes it back himself
    assert back.status == 201 and back.body["seq"] == 3

    as_staff = api.get(f"/v1/complaints/{code}", token=staff["supervisor"]).body
    assert as_staff["assignee_account_id"] == officer_id
    assert [(h["type"], h.get("assignee_account_id") or h.get("status")) for h in as_staff["history"]] == [
        ("FILED", "OPEN"), ("ASSIGNMENT", officer_id), ("RESPONSE", "IN_PROGRESS"),
        ("ASSIGNMENT", supervisor_id), ("ASSIGNMENT", officer_id)]
    as_complainant = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin}).body
    assert "history" not in as_complainant and "assignee_account_id" not in as_complainant
    assert [r["status"] for r in as_complainant["responses"]] == ["IN_PROGRESS"]

    events, _ = complaint_events(stack, cid, lambda evs: sum(t == "ComplaintAssigned" for t, _ in evs) >= 3)
    assigned = [p for t, p in events if t == "ComplaintAssigned"]
    assert [p.seq for p in assigned] == [1, 2, 3] and assigned[2].assignee_account_id == officer_id

    assert api.post(f"/v1/complaints/{cid}/responses", {"message": "Selesai.", "status": "RESOLVED"},
                    token=staff["officer"]).status == 201
    assert api.post(path, {"officer_account_id": supervisor_id}, token=staff["supervisor"]).status == 409


def test_lost_passport_report_links_to_its_replacement_application(api, stack, staff):
    person = api.register_applicant()
    app = api.create_application(person["token"], service_type="REPLACEMENT_LOST")
    assert app.status == 201, app.body
    app_id = app.body["application_id"]
    lost = file(api, token=person["token"], category="LOST_PASSPORT", description="Paspor hilang saat banjir.",
                application_id=app_id)  # the reporter's own application may be named at filing
    assert lost.status == 201, lost.body
    cid, code, pin = lost.body["complaint_id"], lost.body["tracking_code"], lost.body["access_pin"]

    stub = complaint_pb2_grpc.ComplaintServiceStub(
        grpcclient.channel(stack.ports.address("complaint"), 10, tls_files=stack.tls("gateway")))
    with pytest.raises(grpc.RpcError) as none_yet:
        stub.GetReplacementReport(complaint_pb2.GetReplacementReportRequest(application_id=app_id), timeout=10)
    assert none_yet.value.code() == grpc.StatusCode.NOT_FOUND

    # refusals: another account, a report of another category, the wrong service type, anonymous
    stranger = api.register_applicant()
    assert file(api, token=stranger["token"], application_id=app_id).status == 422  # not theirs
    assert api.post(f"/v1/complaints/{cid}/link", {"application_id": app_id},
                    token=stranger["token"]).status == 404
    assert api.post(f"/v1/complaints/{cid}/link", {"application_id": "no-such-app"},
                    token=person["token"]).status == 404
    service = file(api, token=person["token"], category="SERVICE").body["complaint_id"]
    assert api.post(f"/v1/complaints/{service}/link", {"application_id": app_id},
                    token=person["token"]).body["type"].endswith("complaint-not-linkable")
    damaged = file(api, token=person["token"], category="DAMAGED_PASSPORT").body["complaint_id"]
    mismatch = api.post(f"/v1/complaints/{damaged}/link", {"application_id": app_id}, token=person["token"])
    assert mismatch.status == 422 and mismatch.body["type"].endswith("application-not-replacement")
    anon = file(api, token=person["token"], category="LOST_PASSPORT", anonymous=True).body["complaint_id"]
    assert api.post(f"/v1/complaints/{anon}/link", {"application_id": app_id},
                    token=staff["officer"]).status == 422

    assert attach(api, code, PDF, pin=pin, kind="POLICE_LOSS_REPORT", name="bap.pdf").status == 201
    linked = api.post(f"/v1/complaints/{cid}/link", {"application_id": app_id}, token=person["token"])
    assert linked.status == 201, linked.body
    assert linked.body["application_id"] == app_id and linked.body["service_type"] == "REPLACEMENT_LOST"
    again = api.post(f"/v1/complaints/{cid}/link", {"application_id": app_id}, token=person["token"])
    assert again.status == 201 and again.body["linked_at"] == linked.body["linked_at"]
    second_lost = file(api, token=person["token"], category="LOST_PASSPORT").body["complaint_id"]
    taken = api.post(f"/v1/complaints/{second_lost}/link", {"application_id": app_id}, token=person["token"])
    assert taken.status == 409 and taken.body["type"].endswith("application-already-linked")

    seen = api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin}).body
    assert seen["link"]["application_id"] == app_id
    history = api.get(f"/v1/complaints/{code}", token=staff["officer"]).body["history"]
    assert [h["type"] for h in history] == ["FILED", "ATTACHMENT", "LINK"]

    report = stub.GetReplacementReport(complaint_pb2.GetReplacementReportRequest(application_id=app_id), timeout=10)
    assert report.complaint_id == cid and report.category == "LOST_PASSPORT" and report.has_police_report
    assert report.service_type == "REPLACEMENT_LOST" and report.created_at == lost.body["created_at"]
    events, _ = complaint_events(stack, cid, lambda evs: any(t == "ComplaintLinked" for t, _ in evs))
    link_ev = [p for t, p in events if t == "ComplaintLinked"]
    assert len(link_ev) == 1 and link_ev[0].application_id == app_id and link_ev[0].account_id == person["account_id"]


def test_staff_of_the_office_and_the_complainant_download_evidence_and_reads_are_recorded(api, db, staff):
    officer_id, supervisor_id = me(api, staff["officer"]), me(api, staff["supervisor"])
    person = api.register_applicant()
    filed = file(api, token=person["token"], category="LOST_PASSPORT", description="Paspor hilang di terminal.")
    cid, code, pin = filed.body["complaint_id"], filed.body["tracking_code"], filed.body["access_pin"]
    photo = jpeg(SECRET)
    up_photo = attach(api, code, photo, pin=pin)
    up_pdf = attach(api, code, PDF, pin=pin, kind="POLICE_LOSS_REPORT", name="bap.pdf", ctype="application/pdf")
    assert up_photo.status == 201 and up_pdf.status == 201
    photo_id, pdf_id = up_photo.body["attachment_id"], up_pdf.body["attachment_id"]

    # staff of the office, by complaint id: the stored bytes, as a download that is never rendered
    status, headers, body = download(api, f"/v1/complaints/{cid}/attachments/{photo_id}", token=staff["officer"])
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"] == 'attachment; filename="evidence-1.jpg"'
    assert "no-store" in headers["Cache-Control"] and "sandbox" in headers["Content-Security-Policy"]
    assert hashlib.sha256(body).hexdigest() == up_photo.body["sha256"] == headers["X-Content-SHA256"]
    assert SECRET.encode() not in body and Image.open(io.BytesIO(body)).size == (40, 30)
    # ... or by tracking code; the complainant by tracking code + PIN
    status, headers, body = download(api, f"/v1/complaints/{code}/attachments/{pdf_id}", token=staff["supervisor"])
    assert status == 200 and body == STORED_PDF and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == 'attachment; filename="police-loss-report-2.pdf"'
    status, headers, body = download(api, f"/v1/complaints/{code}/attachments/{pdf_id}", pin=pin)
    assert status == 200 and body == STORED_PDF and headers["X-Content-Type-Options"] == "nosniff"

    # everyone else: 404 (or 401 with neither PIN nor token), with a problem, never the bytes
    other = file(api, office_id="BTM")
    other_photo = attach(api, other.body["tracking_code"], jpeg(), pin=other.body["access_pin"])
    assert other_photo.status == 201
    refused = [
        (download(api, f"/v1/complaints/{code}/attachments/{photo_id}"), 401),
        (download(api, f"/v1/complaints/{code}/attachments/{photo_id}", token=person["token"]), 401),
        (download(api, f"/v1/complaints/{cid}/attachments/{photo_id}", token=person["token"]), 404),
        (download(api, f"/v1/complaints/{cid}/attachments/{photo_id}", token=person["token"], pin=pin), 404),
        (download(api, f"/v1/complaints/{cid}/attachments/{cid}:attachment:9", token=staff["officer"]), 404),
        (download(api, f"/v1/complaints/{cid}/attachments/{other_photo.body['attachment_id']}",
                  token=staff["officer"]), 404),  # another complaint's file under this complaint
        (download(api, f"/v1/complaints/{other.body['complaint_id']}/attachments/"
                       f"{other_photo.body['attachment_id']}", token=staff["officer"]), 404),  # another office
        (download(api, f"/v1/complaints/{other.body['tracking_code']}/attachments/"
                       f"{other_photo.body['attachment_id']}", token=staff["supervisor"]), 404),
        (download(api, f"/v1/complaints/nope/attachments/{photo_id}", token=staff["officer"]), 404),
    ]
    for (status, headers, body), expected in refused:
        assert status == expected and headers["Content-Type"] == "application/problem+json", (status, body)
        assert json.loads(body)["status"] == expected and PDF not in body

    # every read is in the staff history (who, which file, when); the complainant sees no history
    history = api.get(f"/v1/complaints/{code}", token=staff["officer"]).body["history"]
    reads = [(h["role"], h.get("account_id"), h["attachment_id"]) for h in history if h["type"] == "ATTACHMENT_READ"]
    assert reads == [("OFFICER", officer_id, photo_id), ("SUPERVISOR", supervisor_id, pdf_id),
                     ("COMPLAINANT", None, pdf_id)]
    assert all(h["at"] for h in history)
    assert [h["type"] for h in history][:3] == ["FILED", "ATTACHMENT", "ATTACHMENT"]
    stored = list(db.attachment_reads.find({"complaint_id": cid}).sort("seq", 1))
    assert [r["_id"] for r in stored] == [f"{cid}:read:{n}" for n in (1, 2, 3)]
    assert "history" not in api.get(f"/v1/complaints/{code}", headers={"X-Access-Pin": pin}).body
    spec = api.get("/openapi.json").body
    assert "get" in spec["paths"]["/v1/complaints/{ref}/attachments/{attachment_id}"]
