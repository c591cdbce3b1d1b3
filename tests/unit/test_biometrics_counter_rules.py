"""Counter rules of issue 16 in the biometrics-capture service: the BAP is required to approve a lost
or damaged passport's replacement, a capture with every finger recorded missing needs a supervisor's
approval, and supervisors read the biometrics access log of their own office."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from passport.v1 import biometrics_pb2, common_pb2
from servicekit.errors import DomainError
from tests.unit.test_biometrics_captures import OFFICER, env, events_of, images  # noqa: F401 (fixtures)

SUPERVISOR = common_pb2.Caller(account_id="sup-1", role="SUPERVISOR", office_id="TBK")
OTHER_SUPERVISOR = common_pb2.Caller(account_id="sup-9", role="SUPERVISOR", office_id="BTM")
BAP = biometrics_pb2.ExaminationReport(report_number="BAP-7", circumstances="passport lost in a flood")


def captured_with_prints(store, app_id, images):
    store.capture_photo(OFFICER, app_id, images["good"], "")
    for finger in (1, 2, 6):
        store.capture_fingerprint(OFFICER, app_id, finger, images["print"], "")


def refused(call, *args):
    with pytest.raises(DomainError) as err:
        call(*args)
    return err.value


# -- the BAP ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("service_type", ["REPLACEMENT_LOST", "REPLACEMENT_DAMAGED"])
def test_approving_a_lost_or_damaged_replacement_needs_the_bap(env, images, service_type):
    store, db, booking, _clock = env
    booking.add("R1", service_type=service_type)
    captured_with_prints(store, "R1", images)
    without = refused(store.record_interview, OFFICER, "R1", "APPROVED", "looks fine", None)
    assert (without.kind, without.problem, without.errors[0]["field"]) == ("invalid", "bap-required", "bap")
    no_story = biometrics_pb2.ExaminationReport(report_number="BAP-7", circumstances="  ")
    assert refused(store.record_interview, OFFICER, "R1", "APPROVED", "", no_story).problem == "bap-required"
    assert not events_of(db, "R1:interview")  # nothing recorded by a refusal
    record = store.record_interview(OFFICER, "R1", "APPROVED", "examined", BAP)
    assert record["outcome"] == "APPROVED" and record["bap"]["circumstances"] == "passport lost in a flood"
    [(envelope, done)] = events_of(db, "R1:interview")
    assert envelope.event_type == "InterviewCompleted" and done.outcome == "APPROVED"


def test_rejecting_a_replacement_or_approving_a_new_passport_needs_no_bap(env, images):
    store, _db, booking, _clock = env
    booking.add("R2", service_type="REPLACEMENT_LOST")
    for app_id in ("A1", "R2"):
        captured_with_prints(store, app_id, images)
    assert store.record_interview(OFFICER, "A1", "APPROVED", "", None)["outcome"] == "APPROVED"
    assert store.record_interview(OFFICER, "R2", "REJECTED", "story does not add up", None)["outcome"] == "REJECTED"


# -- every finger missing --------------------------------------------------------------------------
def test_every_finger_missing_completes_only_with_a_supervisors_approval(env, images):
    store, db, _booking, _clock = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    for finger in (1, 2, 6):
        store.capture_fingerprint(OFFICER, "A1", finger, b"", "AMPUTATED")
    status = store.status(OFFICER, "A1")
    assert not status.complete and status.missing_fingers_approval_required
    assert not events_of(db, "A1:biometrics-captured")
    assert refused(store.record_interview, OFFICER, "A1", "APPROVED", "", None).problem == \
        "missing-fingers-need-approval"

    assert refused(store.approve_missing_fingers, OFFICER, "A1", "no hands").kind == "forbidden"
    assert refused(store.approve_missing_fingers, OTHER_SUPERVISOR, "A1", "no hands").kind == "not_found"
    assert refused(store.approve_missing_fingers, SUPERVISOR, "A1", "  ").errors[0]["field"] == "reason"
    assert not store.status(OFFICER, "A1").complete

    approved = store.approve_missing_fingers(SUPERVISOR, "A1", "both hands amputated; seen at the counter")
    assert approved.complete and not approved.missing_fingers_approval_required
    assert approved.missing_fingers_approved_by == "sup-1"
    [(_envelope, captured)] = events_of(db, "A1:biometrics-captured")
    assert list(captured.fingers_missing) == [1, 2, 6] and not list(captured.fingers_captured)
    assert store.approve_missing_fingers(SUPERVISOR, "A1", "again") == approved  # approving again: no change
    audit = [a for a in db["audit"].docs.values() if a["action"] == "missing-fingers-approved"]
    assert len(audit) == 1 and audit[0]["actor_id"] == "sup-1" and audit[0]["reason"].startswith("both hands")
    assert store.record_interview(OFFICER, "A1", "APPROVED", "", None)["outcome"] == "APPROVED"


def test_counter_actions_travel_in_the_events_for_the_audit_chain(env, images):
    """Issue 16: photo overrides, fingers recorded missing and the supervisor's approval reach booking's
    hash-chained audit in BiometricsCaptured; a retake after it (before the interview) in InterviewCompleted."""
    store, db, _booking, clock = env
    store.capture_photo(OFFICER, "A1", images["blurred"], "camera fault")
    for finger in (1, 2, 6):
        clock.advance(seconds=10)
        store.capture_fingerprint(OFFICER, "A1", finger, b"", "AMPUTATED")
    clock.advance(seconds=10)
    store.approve_missing_fingers(SUPERVISOR, "A1", "both hands amputated")
    [(_envelope, captured)] = events_of(db, "A1:biometrics-captured")
    actions = [(a.action, a.actor_id, a.actor_role, a.finger, a.reason) for a in captured.counter_actions]
    assert actions == [("PHOTO_OVERRIDDEN", "officer-1", "OFFICER", 0, "camera fault"),
                       ("FINGER_RECORDED_MISSING", "officer-1", "OFFICER", 1, "AMPUTATED"),
                       ("FINGER_RECORDED_MISSING", "officer-1", "OFFICER", 2, "AMPUTATED"),
                       ("FINGER_RECORDED_MISSING", "officer-1", "OFFICER", 6, "AMPUTATED"),
                       ("MISSING_FINGERS_APPROVED", "sup-1", "SUPERVISOR", 0, "both hands amputated")]
    photo = captured.counter_actions[0]
    assert "sharpness" in photo.failed_checks and photo.capture_id in db["captures"].docs
    assert photo.at == "2026-03-10T03:00:00+00:00"

    clock.advance(minutes=5)
    store.capture_photo(OFFICER, "A1", images["blurred"], "retake, same camera fault")
    store.record_interview(OFFICER, "A1", "APPROVED", "", None)
    [(_envelope, done)] = events_of(db, "A1:interview")
    assert (done.officer_id, done.examination_report) == ("officer-1", False)
    assert [(a.action, a.reason) for a in done.counter_actions] == [("PHOTO_OVERRIDDEN", "retake, same camera fault")]


def test_one_scanned_finger_needs_no_approval_and_cannot_be_approved(env, images):
    store, db, _booking, _clock = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    store.capture_fingerprint(OFFICER, "A1", 1, images["print"], "")
    for finger in (2, 6):
        store.capture_fingerprint(OFFICER, "A1", finger, b"", "INJURED")
    status = store.status(OFFICER, "A1")
    assert status.complete and not status.missing_fingers_approval_required
    assert events_of(db, "A1:biometrics-captured")
    err = refused(store.approve_missing_fingers, SUPERVISOR, "A1", "not needed")
    assert (err.kind, err.problem) == ("conflict", "no-missing-fingers-to-approve")


# -- the access log --------------------------------------------------------------------------------
def test_supervisors_read_the_biometrics_access_log_of_their_own_office(env, images):
    store, _db, booking, clock = env
    booking.add("A2")
    store.capture_photo(OFFICER, "A1", images["blurred"], "")  # rejected: logged as well
    clock.advance(seconds=1)
    store.capture_photo(OFFICER, "A1", images["good"], "")
    clock.advance(seconds=1)
    store.capture_fingerprint(OFFICER, "A2", 6, b"", "BANDAGED")
    clock.advance(seconds=1)
    store.photo(SUPERVISOR, "A1")

    log = store.access_log(SUPERVISOR, "TBK")
    assert [(e.application_id, e.action) for e in log] == [
        ("A1", "photo-read"), ("A2", "fingerprint-captured"), ("A1", "photo-captured"), ("A1", "photo-rejected")]
    assert (log[0].actor_id, log[0].actor_role) == ("sup-1", "SUPERVISOR") and log[0].capture_id
    assert (log[1].finger, log[1].reason) == (6, "BANDAGED")
    assert all(not hasattr(e, "image") for e in log)
    assert [e.action for e in store.access_log(SUPERVISOR, "TBK", "A2")] == ["fingerprint-captured"]
    assert [e.action for e in store.access_log(SUPERVISOR, "TBK", "", 1)] == ["photo-read"]
    assert dataclasses.asdict(log[0])["at"] == clock.now()

    for caller, office in ((OFFICER, "TBK"), (OTHER_SUPERVISOR, "TBK"), (SUPERVISOR, "BTM"),
                           (common_pb2.Caller(account_id="acc-A1", role="APPLICANT"), "TBK")):
        assert refused(store.access_log, caller, office).kind == "forbidden"
    assert store.access_log(OTHER_SUPERVISOR, "BTM") == []
    for limit in (-1, 501):
        assert refused(store.access_log, SUPERVISOR, "TBK", "", limit).errors[0]["field"] == "limit"


def test_access_log_entries_are_newest_first_across_days(env, images):
    store, _db, _booking, clock = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    clock.advance(seconds=30)
    store.photo(OFFICER, "A1")
    at = [e.at for e in store.access_log(SUPERVISOR, "TBK")]
    assert at == sorted(at, reverse=True) and at[0] - at[1] == dt.timedelta(seconds=30)
