"""The capture workflow at the service level: a fake booking answer (check-in is not reachable
through the gateway yet) and an in-memory stand-in for the service's collections."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import struct

import pytest

from passport.v1 import biometrics_pb2, booking_pb2, common_pb2
from servicekit import events
from servicekit.clock import FixedClock, rfc3339
from servicekit.errors import DomainError
from services.biometrics_capture import config
from servicekit.crypto import KeyRing
from services.biometrics_capture.adapters.protos import application_from_proto
from services.biometrics_capture.adapters.repository import CaptureRepository
from services.biometrics_capture.usecases.captures import Captures
from tests.unit import biometrics_samples as samples
from tests.unit.fakemongo import Database as FakeDb

WIB = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 3, 10, 3, 0, tzinfo=dt.timezone.utc)
KEY1 = "k1:" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
KEY2 = "k2:" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
OFFICER = common_pb2.Caller(account_id="officer-1", role="OFFICER", office_id="TBK")


class FakeBooking:
    """Answers like booking: staff of another office get NOT_FOUND."""

    def __init__(self):
        self.apps = {}

    def add(self, app_id, status="CHECKED_IN", office="TBK", service_type="NEW", checked_in_at=NOW):
        app = booking_pb2.Application(application_id=app_id, account_id="acc-" + app_id, office_id=office,
                                      status=status, service_type=service_type)
        if status == "CHECKED_IN":
            app.timeline.add(status="CHECKED_IN", at=rfc3339(checked_in_at, WIB))
        self.apps[app_id] = app

    def application(self, caller, app_id):
        app = self.apps.get(app_id)
        if app is None or app.office_id != caller.office_id:
            raise DomainError("not_found", "application-not-found", "no such application")
        return application_from_proto(app)  # what the gRPC adapter answers


@pytest.fixture()
def env():
    db, booking, clock = FakeDb(), FakeBooking(), FixedClock(NOW)
    booking.add("A1")
    store = Captures(CaptureRepository(db, clock), booking, KeyRing(KEY1), config.load({"BIOMETRICS_REQUIRED_FINGERS": "1,2,6"}), clock)
    store.repository.ensure_indexes()
    return store, db, booking, clock


@pytest.fixture(scope="module")
def images():
    return {"good": samples.good_photo_jpeg(), "blurred": samples.blurred_photo(),
            "print": samples.good_print_png(), "noise": samples.bad_print_png()}


def events_of(db, key):
    doc = db["decisions"].docs.get(key)
    return [events.decode(bytes(e["data"])) for e in doc["_outbox"]] if doc else []


def test_full_journey_emits_each_event_once(env, images):
    store, db, _booking, _clock = env
    failing = store.capture_photo(OFFICER, "A1", images["blurred"], "")
    assert not failing["accepted"] and "sharpness" in [c.name for c in failing["checks"] if not c.passed]
    assert db["captures"].docs == {}  # a refused photo stores nothing
    ok = store.capture_photo(OFFICER, "A1", images["good"], "")
    assert ok["accepted"] and not ok["overridden"]
    with pytest.raises(DomainError) as err:
        store.record_interview(OFFICER, "A1", "APPROVED", "fine", None)
    assert err.value.problem == "biometrics-incomplete"
    store.capture_fingerprint(OFFICER, "A1", 1, images["print"], "")
    store.capture_fingerprint(OFFICER, "A1", 2, images["print"], "")
    assert "A1:biometrics-captured" not in db["decisions"].docs
    store.capture_fingerprint(OFFICER, "A1", 6, b"", "amputated")
    store.capture_fingerprint(OFFICER, "A1", 6, b"", "AMPUTATED")  # a repeat does not emit again
    [(envelope, captured)] = events_of(db, "A1:biometrics-captured")
    assert envelope.event_type == "BiometricsCaptured" and envelope.aggregate_id == "A1"
    assert (captured.account_id, captured.office_id, captured.outcome) == ("acc-A1", "TBK", "CAPTURED")
    assert list(captured.fingers_captured) == [1, 2] and list(captured.fingers_missing) == [6]
    status = store.status(OFFICER, "A1")
    # a finger recorded missing is not captured (issue 16 bug 8): it is listed as missing
    assert status.complete and status.photo_accepted and list(status.fingers_captured) == [1, 2]
    assert list(status.fingers_missing) == [6]

    record = store.record_interview(OFFICER, "A1", "APPROVED", "documents in order", None)
    assert record["outcome"] == "APPROVED"
    assert store.record_interview(OFFICER, "A1", "APPROVED", "documents in order", None)["outcome"] == "APPROVED"
    with pytest.raises(DomainError) as err:
        store.record_interview(OFFICER, "A1", "REJECTED", "changed my mind", None)
    assert err.value.problem == "interview-already-recorded"
    [(envelope, done)] = events_of(db, "A1:interview")
    assert envelope.event_type == "InterviewCompleted"
    assert (done.application_id, done.account_id, done.office_id, done.outcome) == ("A1", "acc-A1", "TBK", "APPROVED")
    assert store.status(OFFICER, "A1").interview_outcome == "APPROVED"


def test_override_accepts_failing_photo_and_is_audited(env, images):
    store, db, _b, _c = env
    result = store.capture_photo(OFFICER, "A1", images["blurred"], "camera fault, applicant elderly")
    assert result["accepted"] and result["overridden"]
    [record] = db["captures"].docs.values()
    assert record["override_reason"] == "camera fault, applicant elderly" and "sharpness" in record["failed"]
    audit = [a for a in db["audit"].docs.values() if a["action"] == "photo-captured"]
    assert audit[0]["override_reason"] and audit[0]["actor_id"] == "officer-1" and audit[0]["at"] == NOW


def test_images_are_encrypted_and_keys_rotate(env, images):
    store, db, booking, clock = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    [record] = db["captures"].docs.values()
    assert images["good"] not in bytes(record["ciphertext"]) and record["key_id"] == "k1"
    assert record["sha256"] == hashlib.sha256(images["good"]).hexdigest()
    # rotate: k2 is current, k1 still decrypts old records
    store.keys = KeyRing(f"{KEY2},{KEY1}")
    assert store.photo(OFFICER, "A1")["image"] == images["good"]
    clock.advance(seconds=1)
    store.capture_photo(OFFICER, "A1", images["good"], "")
    assert sorted(r["key_id"] for r in db["captures"].docs.values()) == ["k1", "k2"]
    assert len(db["captures"].docs) == 2  # a retake is a new record, not an update
    reads = [a for a in db["audit"].docs.values() if a["action"] == "photo-read"]
    assert len(reads) == 1 and reads[0]["actor_id"] == "officer-1"


def test_ciphertext_is_bound_to_its_record():
    ring = KeyRing(KEY1)
    kid, nonce, sealed = ring.encrypt(b"photo", "rec-1")
    assert ring.decrypt(kid, nonce, sealed, "rec-1") == b"photo"
    with pytest.raises(Exception):
        ring.decrypt(kid, nonce, sealed, "rec-2")


def test_not_checked_in_and_other_office_are_refused(env, images):
    store, db, booking, _c = env
    booking.add("DRAFT1", status="AWAITING_PAYMENT")
    with pytest.raises(DomainError) as err:
        store.capture_photo(OFFICER, "DRAFT1", images["good"], "")
    assert (err.value.kind, err.value.problem) == ("conflict", "not-checked-in")
    booking.add("OLD", checked_in_at=NOW - dt.timedelta(days=1))
    with pytest.raises(DomainError) as err:
        store.capture_photo(OFFICER, "OLD", images["good"], "")
    assert err.value.problem == "not-checked-in-today"
    other = common_pb2.Caller(account_id="officer-9", role="OFFICER", office_id="BTM")
    with pytest.raises(DomainError) as err:
        store.capture_photo(other, "A1", images["good"], "")
    assert err.value.kind == "not_found"
    supervisor = common_pb2.Caller(account_id="sup", role="SUPERVISOR", office_id="TBK")
    with pytest.raises(DomainError) as err:
        store.capture_photo(supervisor, "A1", images["good"], "")
    assert err.value.kind == "forbidden"
    assert db["captures"].docs == {}


def test_fingerprint_input_rules(env, images):
    store, db, _b, _c = env
    for finger, image, reason, problem in [(11, images["print"], "", "unknown-finger-position"),
                                           (0, images["print"], "", "unknown-finger-position"),
                                           (1, b"", "", "validation-error"),
                                           (1, b"", "LOST_IT", "validation-error"),
                                           (1, images["print"], "INJURED", "validation-error"),
                                           (1, b"not a png at all", "", "unsupported-image-format")]:
        with pytest.raises(DomainError) as err:
            store.capture_fingerprint(OFFICER, "A1", finger, image, reason)
        assert err.value.problem == problem
    poor = store.capture_fingerprint(OFFICER, "A1", 1, images["noise"], "")
    assert not poor["accepted"] and not [c for c in poor["checks"] if c.name == "quality"][0].passed
    assert db["captures"].docs == {}


def test_bap_only_for_lost_or_damaged(env, images):
    store, db, booking, _c = env
    bap = biometrics_pb2.ExaminationReport(report_number="BAP-1", circumstances="lost at sea")
    booking.add("LOST", service_type="REPLACEMENT_LOST")
    for app in ("A1", "LOST"):
        store.capture_photo(OFFICER, app, images["good"], "")
        for f in (1, 2, 6):
            store.capture_fingerprint(OFFICER, app, f, b"", "UNUSABLE")
        # every finger missing needs a supervisor's approval (issue 16, counter rules)
        store.approve_missing_fingers(common_pb2.Caller(account_id="sup", role="SUPERVISOR", office_id="TBK"),
                                      app, "fingertips burnt")
    with pytest.raises(DomainError) as err:
        store.record_interview(OFFICER, "A1", "APPROVED", "", bap)
    assert err.value.errors[0]["field"] == "bap"
    record = store.record_interview(OFFICER, "LOST", "REJECTED", "story does not add up", bap)
    assert record["bap"]["report_number"] == "BAP-1" and record["outcome"] == "REJECTED"


def test_retention_purges_old_captures_but_keeps_audit(env, images):
    store, db, _b, clock = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    clock.advance(days=store.settings.retention_days + 1)
    assert store.purge_expired() == 1
    assert db["captures"].docs == {} and db["audit"].docs


def test_settings_defaults_require_all_ten_fingers():
    assert config.load({}).required_fingers == tuple(range(1, 11))


def test_decrypted_photo_only_for_staff_of_the_office(env, images):
    store, db, _b, _c = env
    store.capture_photo(OFFICER, "A1", images["good"], "")
    refused = [(common_pb2.Caller(account_id="acc-A1", role="APPLICANT"), "forbidden"),
               (common_pb2.Caller(account_id="officer-9", role="OFFICER", office_id="BTM"), "not_found"),
               (common_pb2.Caller(account_id="sup-9", role="SUPERVISOR", office_id="BTM"), "not_found")]
    for caller, kind in refused:
        with pytest.raises(DomainError) as err:
            store.photo(caller, "A1")
        assert err.value.kind == kind
    assert not [a for a in db["audit"].docs.values() if a["action"] == "photo-read"]
    supervisor = common_pb2.Caller(account_id="sup-1", role="SUPERVISOR", office_id="TBK")
    assert store.photo(supervisor, "A1")["image"] == images["good"]
    [read] = [a for a in db["audit"].docs.values() if a["action"] == "photo-read"]
    assert (read["actor_id"], read["actor_role"], read["at"]) == ("sup-1", "SUPERVISOR", NOW)


def test_bad_photo_files_are_refused_and_nothing_is_stored(env, images):
    store, db, _b, _c = env
    good = images["good"]
    bomb = bytearray(good)
    sof = next(i for i in range(2, len(bomb) - 1) if bomb[i] == 0xFF and bomb[i + 1] in (0xC0, 0xC2))
    bomb[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    grey16 = samples.encode(samples.fingerprint().astype("uint16") * 256, ".png")  # 16-bit: decodes, has no face
    for data, problem in [(b"GIF89a not a jpeg", "unsupported-image-format"), (good[: len(good) // 2], "truncated-image"),
                          (bytes(bomb), "image-too-large"), (b"", "invalid-image")]:
        with pytest.raises(DomainError) as err:
            store.capture_photo(OFFICER, "A1", data, "override anyway")
        assert (err.value.kind, err.value.problem) == ("invalid", problem)
    rejected = store.capture_photo(OFFICER, "A1", grey16, "")
    assert not rejected["accepted"]
    assert db["captures"].docs == {}
    assert not [a for a in db["audit"].docs.values() if a["action"] == "photo-captured"]


def test_check_in_without_a_readable_time_is_not_today(env, images):
    store, db, booking, _c = env
    booking.add("NOTIME")
    del booking.apps["NOTIME"].timeline[:]
    with pytest.raises(DomainError) as err:
        store.capture_photo(OFFICER, "NOTIME", images["good"], "")
    assert err.value.problem == "not-checked-in-today" and db["captures"].docs == {}
