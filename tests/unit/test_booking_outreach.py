"""Outreach (Eazy Passport): an organiser's request, the supervisor's one decision, and members booking
the session's OUTREACH seats with its invitation code (issue 16), on the in-memory store."""
from __future__ import annotations

import pytest

from passport.v1 import common_pb2
from servicekit.config import DEMO_SECRETS
from servicekit.crypto import KeyRing
from servicekit.errors import DomainError
from services.booking.usecases.outreach import Outreach
from tests.unit.test_booking_abandon import CALLER, booking_world
from tests.unit.test_booking_listing import DAY

ORGANISER = common_pb2.Caller(account_id="acc-organiser", role="APPLICANT")
SUPERVISOR = common_pb2.Caller(account_id="sup-1", role="SUPERVISOR", office_id="TBK")
OFFICER_ELSEWHERE = common_pb2.Caller(account_id="off-9", role="OFFICER", office_id="BTM")


def world():
    apps, _, app_id = booking_world()
    audited = []
    apps.on_staff_action = lambda caller, action, office, details: audited.append(action)
    outreach = Outreach(apps.db, apps, apps.clock, KeyRing(DEMO_SECRETS["BOOKING_ENCRYPTION_KEYS"]))
    apps.outreach_gate = outreach.admits
    return apps, outreach, app_id, audited


def test_a_session_is_for_fifty_or_more_on_a_working_day_ahead():
    _, outreach, _, _ = world()
    with pytest.raises(DomainError) as err:
        outreach.request(ORGANISER, "TBK", "Desa Pongkar", "Balai desa Pongkar, Karimun", DAY.isoformat(), 49,
                         "081234567890")
    assert [e["field"] for e in err.value.errors] == ["people"]
    with pytest.raises(DomainError) as err:
        outreach.request(SUPERVISOR, "TBK", "Desa Pongkar", "Balai desa", DAY.isoformat(), 60, "081234567890")
    assert err.value.kind == "forbidden"


def test_approval_gives_outreach_seats_and_a_code_that_only_members_of_the_session_book_with():
    apps, outreach, app_id, audited = world()
    asked = outreach.request(ORGANISER, "TBK", "SMAN 1 Karimun", "Aula SMAN 1, Jl. Poros, Karimun",
                             DAY.isoformat(), 80, "081234567890")
    assert asked["status"] == "REQUESTED" and asked["invitation_code"] == ""
    with pytest.raises(DomainError):
        outreach.get(common_pb2.Caller(account_id="someone-else", role="APPLICANT"), asked["request_id"])
    with pytest.raises(DomainError):
        outreach.list(OFFICER_ELSEWHERE, "TBK")
    approved = outreach.decide(SUPERVISOR, "TBK", asked["request_id"], True, 60, "09:00", "school term visit")
    assert approved["status"] == "APPROVED" and approved["seats"] == 60 and len(approved["invitation_code"]) == 10
    assert audited == ["QUOTA_SET"], "the seats are an audited quota change"
    with pytest.raises(DomainError) as twice:
        outreach.decide(SUPERVISOR, "TBK", asked["request_id"], False, 0, "", "changed my mind")
    assert twice.value.problem == "outreach-already-decided"
    assert outreach.get(ORGANISER, asked["request_id"])["invitation_code"] == approved["invitation_code"]

    slot_id = approved["slot_id"]
    assert apps.slots.find_one({"_id": slot_id})["capacity"] == 60
    for code in ("", "WRONGCODE1"):
        with pytest.raises(DomainError) as err:
            apps.book(CALLER, app_id, slot_id, invitation_code=code)
        assert err.value.problem == "invitation-required"
    booked = apps.book(CALLER, app_id, slot_id, invitation_code=approved["invitation_code"].lower())
    assert booked["appointment"]["lane"] == "OUTREACH" and booked["billing"]["billing_code"]


def test_a_rejection_says_why_and_gives_no_code():
    _, outreach, _, audited = world()
    asked = outreach.request(ORGANISER, "TBK", "PT Karimun Granit", "Kantor PT, Pangke", DAY.isoformat(), 55,
                             "081234567890")
    rejected = outreach.decide(SUPERVISOR, "TBK", asked["request_id"], False, 0, "", "no team free that day")
    assert rejected["status"] == "REJECTED" and rejected["invitation_code"] == "" and rejected["reason"]
    assert audited == ["OUTREACH_REJECTED"]


def test_the_organisers_phone_is_sealed_at_rest_and_rotation_seals_old_clear_requests():
    """Issue 18: no organiser phone in clear in the store; staff still read it."""
    apps, outreach, _, _ = world()
    made = outreach.request(ORGANISER, "TBK", "Desa Pongkar", "Balai desa Pongkar, Karimun", DAY.isoformat(), 60,
                            "081298765432")
    stored = apps.db["outreach_requests"].docs[made["request_id"]]
    assert "contact_phone" not in stored and b"081298765432" not in repr(stored).encode()
    assert outreach.get(SUPERVISOR, made["request_id"])["contact_phone"] == "081298765432"
    assert [v["contact_phone"] for v in outreach.list(SUPERVISOR, "TBK")] == ["081298765432"]
    old = {k: v for k, v in stored.items() if k not in ("key_id", "nonce", "ciphertext")}
    apps.db["outreach_requests"].insert_one(dict(old, _id="out_old", contact_phone="081200000000"))
    assert outreach.repository.get("out_old")["contact_phone"] == "081200000000"  # readable until sealed
    assert outreach.repository.rotate_keys().migrated == 1
    assert "contact_phone" not in apps.db["outreach_requests"].docs["out_old"]
    assert outreach.repository.get("out_old")["contact_phone"] == "081200000000"
