"""Tracking codes and PINs of complaints: long random codes, salted PIN hashes, constant-time check."""
from __future__ import annotations

import secrets

from passport.v1 import common_pb2
from services.complaint.adapters import protos
from services.complaint.domain import complaint as complaints


def test_tracking_codes_are_long_random_base32():
    codes = {complaints.new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) >= 16 and complaints.TRACKING_RE.match(code)


def test_pins_have_at_least_six_digits():
    pin = complaints.new_pin()
    assert len(pin) >= 6 and pin.isdigit()


def test_only_a_salted_hash_of_the_pin_is_kept_and_it_verifies():
    pin = complaints.new_pin()
    salt_a, salt_b = secrets.token_bytes(16), secrets.token_bytes(16)
    hash_a = complaints.hash_pin(pin, salt_a)
    assert pin.encode() not in hash_a and hash_a != complaints.hash_pin(pin, salt_b)
    assert complaints.pin_matches(pin, salt_a, hash_a)
    wrong = str((int(pin) + 1) % 10 ** len(pin)).zfill(len(pin))
    assert not complaints.pin_matches(wrong, salt_a, hash_a)
    assert not complaints.pin_matches("", salt_a, hash_a)


def test_staff_only_of_their_own_office():
    officer = common_pb2.Caller(account_id="a", role="OFFICER", office_id="TBK")
    assert complaints.is_staff_of(officer, "TBK")
    assert not complaints.is_staff_of(officer, "BTM")
    assert not complaints.is_staff_of(common_pb2.Caller(account_id="b", role="APPLICANT"), "TBK")
    assert not complaints.is_staff_of(common_pb2.Caller(role="OFFICER"), "")


def test_status_is_derived_from_the_history():
    import datetime as dt
    t = dt.datetime(2026, 1, 12, tzinfo=dt.timezone.utc)
    assert complaints.derive_status([]) == ("OPEN", None, None)
    first = {"at": t, "status": "IN_PROGRESS", "closing": False}
    assert complaints.derive_status([first]) == ("IN_PROGRESS", t, None)
    closed = {"at": t + dt.timedelta(days=1), "status": "REJECTED", "closing": True}
    assert complaints.derive_status([first, closed]) == ("REJECTED", t, t + dt.timedelta(days=1))


def test_history_lists_every_change_in_time_order():
    import datetime as dt
    t0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.timezone.utc)
    at = [t0 + dt.timedelta(minutes=m) for m in range(6)]
    doc = {"_id": "c1", "created_at": at[0]}
    responses = [{"at": at[2], "status": "IN_PROGRESS", "role": "OFFICER", "message": "checking"}]
    assignments = [{"at": at[1], "assigned_by_role": "SUPERVISOR", "assignee_account_id": "off-1", "seq": 1},
                   {"at": at[4], "assigned_by_role": "OFFICER", "assignee_account_id": "off-2", "seq": 2}]
    escalations = [{"at": at[5], "kind": "RESOLUTION"}]
    atts = [{"uploaded_at": at[3], "uploaded_by": "COMPLAINANT", "kind": "EVIDENCE"}]
    link = {"linked_at": at[3], "linked_by_role": "COMPLAINANT", "application_id": "app-9"}
    rows = protos.history_entries(doc, responses, assignments, escalations, atts, link)
    assert [r.type for r in rows] == ["FILED", "ASSIGNMENT", "RESPONSE", "ATTACHMENT", "LINK", "ASSIGNMENT",
                                      "ESCALATION"]
    assert rows[1].assignee_account_id == "off-1" and rows[5].assignee_account_id == "off-2"
    assert rows[4].application_id == "app-9" and rows[6].kind == "RESOLUTION" and rows[6].role == "SYSTEM"
