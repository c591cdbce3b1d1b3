"""Personal data at rest, against the real store: after a journey (register, upload documents, an
anonymous complaint with a contact, an outreach request) no NIK, email, phone, reporter or organiser
contact or document bytes are in the store's files in clear, while the features that look them up
still work; and the key-rotation commands re-encrypt (and migrate clear) records for real,
resumably and idempotently."""
from __future__ import annotations

import base64
import datetime as dt
import random
import re
import secrets
import string

import pymongo
import pytest
from bson.binary import Binary

from deploy.local.client import pdf_of
from deploy.local.stack import LOCAL_SECRETS
from servicekit import crypto
from servicekit.clock import Clock
from services.biometrics_capture.adapters.repository import CaptureRepository
from services.booking.adapters.accounts import Accounts
from services.booking.adapters.documents import Documents
from services.booking.adapters.office_records import OutreachRepository
from services.booking.domain import calendar
from services.complaint.adapters.repository import ComplaintRepository
from services.booking.domain.passwords import hash_password
from tests.integration.conftest import staff_token
from tests.integration.helpers import found_in_store, store_files

PASSWORD = "Sandi-Rahasia-2026"


def new_person() -> dict:
    """A fresh applicant with a valid NIK and a name found nowhere else (the scan's control)."""
    birth = dt.date(1970, 1, 1) + dt.timedelta(days=random.randrange(0, 9000))
    nik = f"3171{random.randrange(10, 99)}{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{random.randrange(1, 9999):04d}"
    return {"nik": nik, "full_name": "Sari " + "".join(random.choices(string.ascii_lowercase, k=12)).title(),
            "birth_date": birth.isoformat(), "email": f"Rahasia.{secrets.token_hex(6)}@Example.ID",
            "phone": f"0813{random.randrange(10 ** 7, 10 ** 8)}", "password": PASSWORD}


def marked_pdf(marker: str) -> bytes:
    """A real one-page PDF carrying `marker` where qpdf's rewrite keeps it readable (a page key;
    the content stream may come back compressed)."""
    text = f"BT /F1 12 Tf ({marker}) Tj ET".encode()
    return pdf_of([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                   b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Marker ("
                   + marker.encode() + b") >>",
                   b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream"])


@pytest.fixture(scope="module")
def client(stack):
    c = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True, tz_aware=True)
    yield c
    c.close()


def test_after_a_journey_no_nik_email_phone_or_document_is_in_the_store_files_in_clear(api, stack, client):
    person = new_person()
    assert api.post("/v1/accounts", person).status == 201
    again = api.post("/v1/accounts", {**new_person(), "nik": person["nik"], "birth_date": person["birth_date"]})
    taken = api.post("/v1/accounts", {**new_person(), "email": person["email"].lower()})
    assert (again.status, again.body["type"].rsplit("/", 1)[-1]) == (409, "nik-taken"), again.body
    assert (taken.status, taken.body["type"].rsplit("/", 1)[-1]) == (409, "email-taken"), taken.body
    token = api.login(person["email"].upper(), PASSWORD)  # login by email, any case
    app = api.post("/v1/applications", {"office_id": "TBK", "passport_type": "ELECTRONIC", "validity_years": 10,
                                        "service_type": "NEW", "express": False, "priority_group": None}, token=token)
    assert app.status == 201, app.body
    app_id = app.body["application_id"]
    markers = {kind: f"{kind}-{secrets.token_hex(24)}" for kind in ("KTP", "KK", "BIRTH_CERTIFICATE")}
    for kind, marker in markers.items():
        uploaded = api.upload_document(token, app_id, kind, marked_pdf(marker))
        assert uploaded.status == 201, uploaded.body
    # the officer at the counter still finds the application by the exact NIK (through its hash)
    found = api.get(f"/v1/offices/TBK/applications?q={person['nik']}", token=staff_token(api, "OFFICER"))
    assert app_id in [r["application_id"] for r in found.body["items"]], found.body

    booking = client["passport_booking"]
    ring = crypto.KeyRing(LOCAL_SECRETS["BOOKING_ENCRYPTION_KEYS"])
    records = list(booking["documents"].find({"application_id": app_id}))
    assert len(records) == 3 and all("data" not in r and r["key_id"] == ring.current for r in records)
    stored = {r["kind"]: ring.open(r, r["_id"]) for r in records}
    assert all(markers[kind].encode() in stored[kind] for kind in markers), "the scan looks for what is stored"

    assert store_files(stack), "FerretDB's files are where the stack keeps them"
    secret = {"NIK": person["nik"], "email": person["email"].lower(), "email as typed": person["email"],
              "phone": person["phone"], "phone +62": "+62" + person["phone"][1:],
              **{f"{kind} document": markers[kind] for kind in markers},
              **{f"{kind} stored bytes": stored[kind][-80:-20] for kind in stored}}
    assert found_in_store(stack, secret) == {}
    # control: the scan does see the booking store (the name stays in clear, see docs/security.md)
    control = found_in_store(stack, {"name": person["full_name"], "document hash": records[0]["sha256"]})
    assert set(control) == {"name", "document hash"}, control


def later_working_day(office_id: str, nth: int) -> str:
    cal = calendar.load()
    office = cal.offices[office_id]
    today = office.today(dt.datetime.now(dt.timezone.utc))
    return cal.working_days(office, today + dt.timedelta(days=1), nth)[-1].isoformat()


def test_reporter_and_organiser_contacts_are_not_in_the_store_files_in_clear(api, stack, client):
    reporter = {"email": f"saksi.{secrets.token_hex(6)}@contoh.id", "phone": f"0812{random.randrange(10 ** 7, 10 ** 8)}"}
    description = f"Ada calo di depan kantor {secrets.token_hex(8)}."
    filed = api.post("/v1/complaints", {"category": "BROKER_OR_EXTORTION", "office_id": "TBK", "anonymous": True,
                                        "description": description, "contact_email": reporter["email"],
                                        "contact_phone": reporter["phone"]})
    assert filed.status == 201, filed.body
    organiser_phone = f"0815{random.randrange(10 ** 7, 10 ** 8)}"
    organiser = new_person()
    assert api.post("/v1/accounts", organiser).status == 201
    asked = api.post("/v1/outreach-requests", {
        "office_id": "TBK", "organisation": "Desa Pongkar", "location": "Balai Desa Pongkar, Tebing, Karimun",
        "date": later_working_day("TBK", 9), "people": 60, "contact_phone": organiser_phone},
        token=api.login(organiser["email"], PASSWORD))
    assert asked.status == 201, asked.body
    # staff still read the organiser's phone; the complaint record holds the reporter's sealed
    listed = api.get("/v1/offices/TBK/outreach-requests", token=staff_token(api, "OFFICER")).body["items"]
    assert [r["contact_phone"] for r in listed if r["request_id"] == asked.body["request_id"]] == [organiser_phone]
    record = client["passport_complaint"]["complaints"].find_one({"_id": filed.body["complaint_id"]})
    assert "contact" not in record and record["key_id"]
    ring = crypto.KeyRing(LOCAL_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])
    assert ComplaintRepository(client["passport_complaint"], Clock(), ring).contact(record["_id"]) == reporter

    assert found_in_store(stack, {"reporter email": reporter["email"], "reporter phone": reporter["phone"],
                                  "organiser phone": organiser_phone}) == {}
    # control: the scan sees the complaint store (the description stays in clear, see docs/security.md)
    assert set(found_in_store(stack, {"description": description})) == {"description"}


def _bio_record(ring, capture_id: str, image: bytes) -> dict:
    return {"_id": capture_id, "application_id": "app_rotation", "office_id": "TBK", "kind": "photo",
            "at": dt.datetime.now(dt.timezone.utc), "format": "png", "size": len(image), **ring.seal(image, capture_id)}


def test_rotate_keys_re_encrypts_and_migrates_the_store_resumably_and_idempotently(stack, client):
    """On a scratch database of the same FerretDB (the running services keep their keys): records
    under the old keys, records from before encryption, an interrupted run, then the commands."""
    name = "passport_rotation_check"
    client.drop_database(name)
    db, clock = client[name], Clock()
    old_ring = crypto.KeyRing(LOCAL_SECRETS["BOOKING_ENCRYPTION_KEYS"])
    old_lookup = crypto.LookupKeys(LOCAL_SECRETS["BOOKING_LOOKUP_KEYS"])
    old_bio = crypto.KeyRing(LOCAL_SECRETS["BIOMETRICS_ENCRYPTION_KEYS"])
    old_complaint = crypto.KeyRing(LOCAL_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])
    new = {"BOOKING_ENCRYPTION_KEYS": "k2:" + _b64(32), "BOOKING_LOOKUP_KEYS": "h2:" + _b64(32),
           "BIOMETRICS_ENCRYPTION_KEYS": "b2:" + _b64(32), "COMPLAINT_ENCRYPTION_KEYS": "c2:" + _b64(32)}
    keys_env = {"MONGO_DATABASE": name,
                **{k: f"{v},{LOCAL_SECRETS[k]}" for k, v in new.items()}}
    try:
        accounts, documents = Accounts(db, clock, old_ring, old_lookup), Documents(db, clock, old_ring)
        people = [new_person() for _ in range(3)]
        ids = [accounts.register(p["nik"], p["full_name"], p["birth_date"], p["email"], p["phone"], PASSWORD)["_id"]
               for p in people]
        accounts.create_staff("Officer Rotation", "officer.rotation@tbk.example", "Officer-Rotasi-2026", "OFFICER", "TBK")
        contents = {}
        for i in range(5):
            contents[documents.upload(f"app_rot{i}", "KTP", marked_pdf(f"rotation-{i}"))["_id"]] = marked_pdf(f"rotation-{i}")
        # written before encryption existed: clear fields, claims keyed by the value, clear bytes
        legacy = new_person()
        db["accounts"].insert_one({"_id": "acc_legacy", "role": "APPLICANT", "full_name": legacy["full_name"],
                                   "birth_date": legacy["birth_date"], "nik": legacy["nik"],
                                   "email": legacy["email"].lower(), "phone": legacy["phone"],
                                   "password_hash": hash_password(PASSWORD), "created_at": clock.now()})
        db["nik_claims"].insert_one({"_id": legacy["nik"], "account_id": "acc_legacy", "at": clock.now()})
        db["email_claims"].insert_one({"_id": legacy["email"].lower(), "account_id": "acc_legacy", "at": clock.now()})
        db["documents"].insert_one({"_id": "app_legacy:KK:0", "application_id": "app_legacy", "kind": "KK",
                                    "data": Binary(marked_pdf("legacy-kk")), "sha256": "", "uploaded_at": clock.now()})
        contents["app_legacy:KK:0"] = marked_pdf("legacy-kk")
        # contacts: one sealed under the old key, one from before contacts were sealed, of each kind
        sealed_contact = {"_id": "cmp-sealed", "office_id": "TBK", **old_complaint.seal(b'{"phone": "081200000001"}', "cmp-sealed")}
        db["complaints"].insert_many([sealed_contact, {"_id": "cmp-clear", "office_id": "TBK",
                                                       "contact": {"email": "lama@contoh.id"}}])
        OutreachRepository(db, old_ring).add({"_id": "out_sealed", "office_id": "TBK", "contact_phone": "081200000002"})
        db["outreach_requests"].insert_one({"_id": "out_clear", "office_id": "TBK", "contact_phone": "081200000003"})
        images = {f"cap-{i}": secrets.token_bytes(64) for i in range(4)}
        for cid, image in images.items():
            CaptureRepository(db, clock).add_capture(_bio_record(old_bio, cid, image))

        # a run stopped half-way (here: after two records) leaves the rest under the old key
        new_ring = crypto.KeyRing(keys_env["BOOKING_ENCRYPTION_KEYS"])
        calls = []

        def stops_after_two(doc):
            if len(calls) == 2:
                raise KeyboardInterrupt
            calls.append(doc["_id"])
            return doc["_id"]

        with pytest.raises(KeyboardInterrupt):
            crypto.rotate(db["documents"], new_ring, clear_fields=("data",),
                          clear_plaintext=lambda d: bytes(d["data"]), record_id=stops_after_two, batch=2)
        assert sorted(d["key_id"] for d in db["documents"].find({"key_id": {"$exists": True}})).count("k2") == 2

        first = _counts(stack.rotate_keys(keys_env))
        assert sum(first.pop("documents")) == 4, "the run resumed with the 4 documents left"
        assert first == {"accounts": (4, 1, 0), "nik_claims": (3, 1, 0), "email_claims": (4, 1, 0),
                         "outreach_requests": (1, 1, 0), "captures": (4, 0, 0), "complaints": (1, 1, 0)}, first
        again = _counts(stack.rotate_keys(keys_env))
        assert set(again.values()) == {(0, 0, 0)} and len(again) == 7, "a second run finds nothing to do"

        for collection in ("documents", "accounts", "captures", "outreach_requests", "complaints"):
            docs = list(db[collection].find())
            assert docs and all(d.get("key_id") in ("k2", "b2", "c2") for d in docs), collection
            assert not any({"data", "nik", "email", "phone", "contact", "contact_phone"} & d.keys() for d in docs), collection
        for claims in ("nik_claims", "email_claims"):
            assert {c["kid"] for c in db[claims].find()} == {"h2"} and all(c["_id"].startswith("h2:") for c in db[claims].find())

        # the old keys can go: everything opens and is found with the new ones alone
        only_new = {k: v.split(",")[0] for k, v in keys_env.items() if k != "MONGO_DATABASE"}
        ring, lookup = crypto.KeyRing(only_new["BOOKING_ENCRYPTION_KEYS"]), crypto.LookupKeys(only_new["BOOKING_LOOKUP_KEYS"])
        after = Accounts(db, clock, ring, lookup)
        for person, account_id in [*zip(people, ids), (legacy, "acc_legacy")]:
            assert after.authenticate(person["email"], PASSWORD)["_id"] == account_id
            assert after.account_id_of_nik(person["nik"]) == account_id
            assert after.get(account_id)["phone"] == person["phone"]
        assert after.authenticate("officer.rotation@tbk.example", "Officer-Rotasi-2026")["role"] == "OFFICER"
        assert {rid: Documents(db, clock, ring).content(rid) for rid in contents} == contents
        bio = crypto.KeyRing(only_new["BIOMETRICS_ENCRYPTION_KEYS"])
        assert {c["_id"]: bio.open(c, c["_id"]) for c in db["captures"].find()} == images
        contacts = ComplaintRepository(db, clock, crypto.KeyRing(only_new["COMPLAINT_ENCRYPTION_KEYS"]))
        assert (contacts.contact("cmp-sealed"), contacts.contact("cmp-clear")) == (
            {"phone": "081200000001"}, {"email": "lama@contoh.id"})
        phones = OutreachRepository(db, ring)
        assert [phones.get(f"out_{k}")["contact_phone"] for k in ("sealed", "clear")] == ["081200000002", "081200000003"]
    finally:
        client.drop_database(name)


def _b64(n: int) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def _counts(lines: list[str]) -> dict[str, tuple[int, int, int]]:
    """{collection: (re-encrypted, encrypted from clear, changed meanwhile)} of the commands' output."""
    out = {}
    for line in lines:
        m = re.fullmatch(r"(\w+): (\d+) re-encrypted, (\d+) encrypted from clear, (\d+) changed meanwhile", line)
        assert m, line
        out[m[1]] = tuple(int(g) for g in m.groups()[1:])
    return out
