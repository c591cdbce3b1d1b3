"""Applicants list their own complaints (issue 16): newest first, with status; never someone else's,
never an anonymous one (it carries no account)."""
from __future__ import annotations

import pytest

from passport.v1 import common_pb2
from servicekit.errors import DomainError
from tests.unit.test_complaint_filing import REPORTER, Booking, store

OTHER = common_pb2.Caller(account_id="acc-8", role="APPLICANT")
OFFICER = common_pb2.Caller(account_id="off-1", role="OFFICER", office_id="TBK")


def test_an_applicant_lists_only_their_own_named_complaints():
    s = store(Booking())
    first, _ = s.file(REPORTER, "SERVICE", "TBK", "Antrean lama.", "", False)
    s.clock.advance(minutes=1)
    linked, _ = s.file(REPORTER, "LOST_PASSPORT", "TBK", "Paspor hilang.", "app-own", False)
    s.file(REPORTER, "BROKER_OR_EXTORTION", "TBK", "Ada calo di depan kantor.", "", True)  # anonymous
    s.file(OTHER, "SERVICE", "TBK", "Petugas tidak ramah.", "", False)
    s.respond(OFFICER, first["_id"], "Kami periksa.", "IN_PROGRESS")
    mine = s.list_for_account(REPORTER)
    assert {c.tracking_code for c in mine} == {first["tracking_code"], linked["tracking_code"]}
    assert {c.complaint_id: c.status for c in mine}[first["_id"]] == "IN_PROGRESS"
    assert all(not c.anonymous and not c.assignee_account_id and not c.history for c in mine)
    assert [c.tracking_code for c in s.list_for_account(REPORTER, "app-own")] == [linked["tracking_code"]]
    assert [c.category for c in s.list_for_account(OTHER)] == ["SERVICE"]


def test_only_an_applicant_lists_their_own():
    s = store(Booking())
    for caller in (OFFICER, common_pb2.Caller()):
        with pytest.raises(DomainError) as err:
            s.list_for_account(caller)
        assert err.value.kind == "forbidden"


def test_an_anonymous_reporter_may_leave_a_contact_that_never_leaves_the_service():
    from servicekit.events import decode
    s = store(Booking())
    record, _ = s.file(common_pb2.Caller(), "BROKER_OR_EXTORTION", "TBK", "Ada calo di depan kantor.", "", True,
                       contact_phone="081234567890", contact_language="en")
    assert "account_id" not in record and record["contact"] == {"phone": "081234567890"}
    [(envelope, filed)] = [decode(bytes(e["data"])) for e in s.repository.complaints.docs[record["_id"]]["_outbox"]]
    assert list(filed.contact_channels) == ["SMS"] and b"081234567890" not in envelope.SerializeToString()
    assert filed.contact_language == "en"
    assert s.reporter_contact(record["_id"]) == {"phone": "081234567890"}
    s.respond(OFFICER, record["_id"], "Kami tindak lanjuti.", "IN_PROGRESS")
    responded = [decode(bytes(e["data"])) for r in s.repository.responses.docs.values() for e in r["_outbox"]]
    assert [list(p.contact_channels) for _e, p in responded] == [["SMS"]]
    silent, _ = s.file(common_pb2.Caller(), "SERVICE", "TBK", "Antrean lama.", "", True)
    with pytest.raises(DomainError):
        s.reporter_contact(silent["_id"])
    for kwargs, caller, anonymous in (({"contact_email": "a@b.example"}, REPORTER, False),  # named: account decides
                                      ({"contact_phone": "12345"}, common_pb2.Caller(), True),
                                      ({"contact_email": "not-an-address"}, common_pb2.Caller(), True)):
        with pytest.raises(DomainError) as err:
            s.file(caller, "SERVICE", "TBK", "Antrean lama.", "", anonymous, **kwargs)
        assert err.value.kind == "invalid"


def test_a_reporters_contact_is_sealed_at_rest_and_rotation_seals_old_clear_records():
    """Issue 18: the store holds no reporter address in clear; a record from before is sealed by
    rotate-keys, and a new key takes over (the old one still opens what it sealed)."""
    from servicekit.crypto import KeyRing
    from services.complaint.adapters.repository import ComplaintRepository
    s = store(Booking())
    record, _ = s.file(common_pb2.Caller(), "BROKER_OR_EXTORTION", "TBK", "Ada calo.", "", True,
                       contact_email="saksi@contoh.example", contact_phone="081234567890")
    stored = s.repository.complaints.docs[record["_id"]]
    assert "contact" not in stored and stored["key_id"] == "c1"
    assert b"081234567890" not in repr(stored).encode() and b"saksi@contoh" not in repr(stored).encode()
    assert s.reporter_contact(record["_id"]) == {"email": "saksi@contoh.example", "phone": "081234567890"}
    assert s.repository.get(record["_id"]).contact["phone"] == "081234567890"
    old = dict(stored, _id="old-1", tracking_code="OLD1", contact={"phone": "081111111111"})
    for f in ("key_id", "nonce", "ciphertext", "_outbox"):
        old.pop(f)
    s.repository.complaints.insert_one(old)  # written before contacts were sealed
    assert s.repository.contact("old-1") == {"phone": "081111111111"}
    assert s.repository.rotate_keys().migrated == 1
    assert "contact" not in s.repository.complaints.docs["old-1"] and s.repository.contact("old-1") == {"phone": "081111111111"}
    both = KeyRing("c2:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=," + s.repository.keys.current + ":"
                   + "bG9jYWwtZGV2LWNvbXBsYWludC1jb250YWN0LWtleSE=")
    rotated = ComplaintRepository(s.repository.db, s.clock, both)
    assert rotated.rotate_keys().resealed == 2
    assert rotated.contact(record["_id"])["email"] == "saksi@contoh.example"
    assert {d.get("key_id") for d in s.repository.complaints.docs.values() if "ciphertext" in d} == {"c2"}
