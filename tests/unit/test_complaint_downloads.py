"""Downloading complaint evidence (domain, on the in-memory store): staff of the office by complaint
id or tracking code, the complainant by tracking code + PIN, nobody else; every read is recorded
and shown to staff in the history, a complainant's read names nobody."""
from __future__ import annotations

from deploy.local.client import SAMPLE_PDF
from servicekit import pdf
from tests.unit import pdf_samples

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from passport.v1 import common_pb2
from servicekit.clock import FixedClock
from servicekit.config import DEMO_SECRETS
from servicekit.crypto import KeyRing
from servicekit.errors import DomainError
from services.complaint.domain import attachments as files
from services.complaint.adapters import calendars
from services.complaint.adapters.repository import ComplaintRepository
from services.complaint.usecases.complaints import Complaints
from tests.unit import fakemongo
from tests.unit.fakemongo import Database as FakeDb

CALENDARS = calendars.load(Path(__file__).resolve().parents[2] / "services" / "booking" / "offices.json")
OFFICER = common_pb2.Caller(account_id="officer-tbk", role="OFFICER", office_id="TBK")
SUPERVISOR = common_pb2.Caller(account_id="head-tbk", role="SUPERVISOR", office_id="TBK")
OTHER_OFFICE = common_pb2.Caller(account_id="officer-btm", role="OFFICER", office_id="BTM")
APPLICANT = common_pb2.Caller(account_id="acc-7", role="APPLICANT")
NOBODY = common_pb2.Caller()
GPS_TEXT = "GPS -6.2001 106.8166 Jl. Rahasia 12"


@pytest.fixture(autouse=True)
def gt_filter(monkeypatch):
    """The fake store lacks $gt, which the wrong-PIN window uses."""
    monkeypatch.setitem(fakemongo._OPS, "$gt", lambda v, a: v is not None and v > a)


@pytest.fixture()
def setup():
    clock = FixedClock(dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc))
    store = Complaints(ComplaintRepository(FakeDb(), clock, KeyRing(DEMO_SECRETS["COMPLAINT_ENCRYPTION_KEYS"])), CALENDARS, clock)
    record, pin = store.file(NOBODY, "BROKER_OR_EXTORTION", "TBK", "Calo di loket 2 meminta uang.", "", True)
    exif = Image.Exif()
    exif[0x010F] = GPS_TEXT
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (1, 2, 3)).save(out, "JPEG", exif=exif.tobytes())
    photo = store.add_attachment(NOBODY, record["tracking_code"], pin, "EVIDENCE", out.getvalue())
    return store, clock, record, pin, photo


def history(store, record):
    return store.view(store.repository.complaints.find_one({"_id": record["_id"]}), staff=True).history


def test_staff_of_the_office_download_by_id_or_code_and_each_read_is_in_the_history(setup):
    store, clock, record, _pin, photo = setup
    got = store.get_attachment(OFFICER, record["_id"], "", "", photo["_id"])
    assert bytes(got["data"]) == bytes(photo["data"]) and got["content_type"] == files.JPEG
    assert GPS_TEXT.encode() not in bytes(got["data"])  # stripped at upload, anonymous or not
    clock.at += dt.timedelta(minutes=5)
    assert store.get_attachment(SUPERVISOR, "", record["tracking_code"], "", photo["_id"])["_id"] == photo["_id"]
    reads = [(h.type, h.role, h.account_id, h.attachment_id) for h in history(store, record)
             if h.type == "ATTACHMENT_READ"]
    assert reads == [("ATTACHMENT_READ", "OFFICER", "officer-tbk", photo["_id"]),
                     ("ATTACHMENT_READ", "SUPERVISOR", "head-tbk", photo["_id"])]
    assert [h.type for h in history(store, record)] == ["FILED", "ATTACHMENT", "ATTACHMENT_READ", "ATTACHMENT_READ"]
    assert sorted(store.repository.attachment_reads.docs) == [f"{record['_id']}:read:1", f"{record['_id']}:read:2"]


def test_the_complainant_downloads_with_code_and_pin_and_is_recorded_as_nobody(setup):
    store, _clock, record, pin, photo = setup
    got = store.get_attachment(NOBODY, "", record["tracking_code"].lower(), pin, photo["_id"])
    assert bytes(got["data"]) == bytes(photo["data"])
    (read,) = store.repository.attachment_reads.docs.values()
    assert read["role"] == "COMPLAINANT" and "reader_id" not in read
    assert set(read) == {"_id", "complaint_id", "office_id", "attachment_id", "seq", "at", "role"}
    entry = [h for h in history(store, record) if h.type == "ATTACHMENT_READ"][0]
    assert entry.role == "COMPLAINANT" and entry.account_id == ""
    assert not store.view(store.repository.complaints.find_one({"_id": record["_id"]})).history  # complainant: no history


@pytest.mark.parametrize("caller, by_id, pin", [
    (OTHER_OFFICE, True, ""),   # staff of another office, by id
    (OTHER_OFFICE, False, ""),  # ... or by tracking code without the PIN
    (APPLICANT, True, ""),      # an applicant by id (even the reporter: the complainant uses code + PIN)
    (NOBODY, False, "00000000"),  # a wrong PIN
    (NOBODY, True, "x"),        # the complaint id is for staff only
])
def test_anyone_else_gets_not_found_and_nothing_is_recorded(setup, caller, by_id, pin):
    store, _clock, record, right_pin, photo = setup
    if pin == "00000000" and right_pin == pin:
        pin = "11111111"
    with pytest.raises(DomainError) as err:
        store.get_attachment(caller, record["_id"] if by_id else "", "" if by_id else record["tracking_code"],
                             pin, photo["_id"])
    assert err.value.kind == "not_found"
    assert not store.repository.attachment_reads.docs


def test_an_attachment_of_another_complaint_or_an_unknown_id_is_not_found(setup):
    store, _clock, record, pin, photo = setup
    other, other_pin = store.file(NOBODY, "SERVICE", "TBK", "Antrean lama.", "", True)
    for attachment_id in (photo["_id"], f"{other['_id']}:attachment:2", "", "x" * 300):
        with pytest.raises(DomainError) as err:
            store.get_attachment(OFFICER, other["_id"], "", "", attachment_id)
        assert err.value.problem == "attachment-not-found"
    with pytest.raises(DomainError):
        store.get_attachment(NOBODY, "", other["tracking_code"], other_pin, photo["_id"])
    assert not store.repository.attachment_reads.docs


def test_wrong_pins_on_downloads_count_towards_the_limit(setup):
    store, _clock, record, pin, photo = setup
    wrong = "1" * len(pin) if pin != "1" * len(pin) else "2" * len(pin)
    for _ in range(5):
        with pytest.raises(DomainError) as err:
            store.get_attachment(NOBODY, "", record["tracking_code"], wrong, photo["_id"])
        assert err.value.kind == "not_found"
    with pytest.raises(DomainError) as err:
        store.get_attachment(NOBODY, "", record["tracking_code"], pin, photo["_id"])
    assert err.value.problem == "too-many-pin-attempts"


def test_attachments_are_numbered_without_gaps_and_listed_by_id(setup):
    store, _clock, record, pin, photo = setup
    second = store.add_attachment(OFFICER, record["tracking_code"], "", "EVIDENCE", SAMPLE_PDF)
    assert (photo["_id"], second["_id"]) == (f"{record['_id']}:attachment:1", f"{record['_id']}:attachment:2")
    assert second["uploaded_by"] == "OFFICER" and second["uploader_id"] == "officer-tbk"
    listed = store.attachment_records(record["_id"])
    assert [a["_id"] for a in listed] == [photo["_id"], second["_id"]]
    uploads = [(h.role, h.account_id, h.attachment_id) for h in history(store, record) if h.type == "ATTACHMENT"]
    assert uploads == [("COMPLAINANT", "", photo["_id"]), ("OFFICER", "officer-tbk", second["_id"])]


def test_pdf_evidence_is_stored_cleaned_even_behind_an_escaped_name(setup):
    store, _clock, record, pin, _photo = setup
    sent = pdf_samples.ESCAPED_NAME_JS
    assert b"/JavaScript" not in sent  # what the literal-name filter let through
    added = store.add_attachment(NOBODY, record["tracking_code"], pin, "EVIDENCE", sent)
    stored = bytes(store.get_attachment(OFFICER, record["_id"], "", "", added["_id"])["data"])
    assert stored.startswith(b"%PDF-") and b"app.alert" not in stored and pdf.active_content(stored) == []
    with pytest.raises(DomainError) as err:
        store.add_attachment(NOBODY, record["tracking_code"], pin, "EVIDENCE", b"%PDF-1.4 not really")
    assert err.value.problem == "pdf-not-accepted"
