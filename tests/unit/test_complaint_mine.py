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
