"""Who may call whom over gRPC, and the signed end-user identity that replaces a body's caller."""
from __future__ import annotations

import time

import pytest

from passport.v1 import booking_pb2, common_pb2, payment_pb2
from servicekit import events, identity, tls
from servicekit.clock import FixedClock, parse_rfc3339
from servicekit.config import ConfigError
from servicekit.consumer import EventConsumer
from servicekit.events import new_event
from servicekit.grpcserver import replace_caller
from tests.unit.fakemongo import Database


@pytest.mark.parametrize("server, method, caller, allowed", [
    ("booking", "passport.v1.BookingService/GetApplication", "gateway", True),
    ("booking", "passport.v1.BookingService/GetApplication", "biometrics-capture", True),
    ("booking", "passport.v1.BookingService/GetApplication", "payment", False),
    ("booking", "passport.v1.AccountService/GetContact", "notification", True),
    ("booking", "passport.v1.AccountService/GetContact", "biometrics-capture", False),
    ("booking", "passport.v1.AccountService/CreateStaff", "gateway", False),
    ("payment", "passport.v1.PaymentService/IssueBilling", "booking", True),
    ("payment", "passport.v1.PaymentService/IssueBilling", "notification", False),
    ("biometrics-capture", "passport.v1.BiometricsService/GetPhoto", "booking", False),
    ("complaint", "passport.v1.ComplaintService/GetComplaint", "notification", True),
    ("complaint", "passport.v1.ComplaintService/GetComplaint", "", False),
    ("notification", "grpc.health.v1.Health/Check", "complaint", True),
    ("notification", "grpc.health.v1.Health/Check", "", False),
])
def test_callers_are_allowed_by_certificate_identity(server, method, caller, allowed):
    assert tls.may_call(server, method, caller) is allowed


def test_local_ca_issues_one_certificate_per_identity(tmp_path):
    tls.make_local_ca(tmp_path, identities=("gateway", "payment"))
    for name in ("gateway", "payment"):
        files = tls.local_files(tmp_path, name)
        assert tls.identity_of(files.cert.read_bytes()) == name
        assert (files.key.stat().st_mode & 0o777) == 0o600
    first = (tmp_path / "ca.crt").read_bytes()
    tls.make_local_ca(tmp_path, identities=("gateway", "payment"))
    assert (tmp_path / "ca.crt").read_bytes() == first  # kept, so running processes stay valid


def test_without_certificate_files_a_service_refuses_to_start(monkeypatch):
    for name in ("GRPC_TLS_CA", "GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_INSECURE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="GRPC_TLS_CA, GRPC_TLS_CERT, GRPC_TLS_KEY"):
        tls.from_env()
    monkeypatch.setenv("GRPC_INSECURE", "1")
    assert tls.from_env() is None


@pytest.fixture
def keys(tmp_path):
    env = identity.make_local_keys(tmp_path / "a", "k1")
    other = identity.make_local_keys(tmp_path / "b", "k2")
    signer = identity.Signer((tmp_path / "a" / "identity-k1.key").read_bytes(), "k1")
    verifier = identity.Verifier({"k1": (tmp_path / "a" / "identity-k1.pub").read_bytes()})
    forger = identity.Signer((tmp_path / "b" / "identity-k2.key").read_bytes(), "k1")  # claims k1's id
    return signer, verifier, forger, env, other


def test_a_signed_identity_verifies_and_names_the_principal(keys):
    signer, verifier, *_ = keys
    principal = verifier.verify(signer.sign("acc-1", "OFFICER", "TBK"))
    assert principal == identity.Principal("acc-1", "OFFICER", "TBK")


def test_a_principal_s_assertion_is_reused_for_half_its_life_and_still_verifies(keys, monkeypatch):
    signer, verifier, *_ = keys
    now = [time.time()]
    monkeypatch.setattr(identity.time, "time", lambda: now[0])
    first = signer.sign_reused("acc-1", "APPLICANT")
    monkeypatch.undo()
    assert verifier.verify(first) == identity.Principal("acc-1", "APPLICANT", "")
    monkeypatch.setattr(identity.time, "time", lambda: now[0])
    now[0] += identity.Signer.REUSE_S - 1
    assert signer.sign_reused("acc-1", "APPLICANT") == first  # one signature for a burst of retries
    assert signer.sign_reused("acc-2", "APPLICANT") != first  # never another principal's
    assert signer.sign_reused("acc-1", "OFFICER", "TBK") != first
    now[0] += 1
    assert signer.sign_reused("acc-1", "APPLICANT") != first


def test_a_deferred_assertion_is_signed_once_and_only_when_a_call_needs_it():
    signed = []
    identity.current.set(lambda: signed.append(1) or "token")
    assert signed == []  # a request answered without a call signs nothing
    assert identity.assertion() == "token" and identity.assertion() == "token"
    assert signed == [1]
    identity.current.set(None)
    assert identity.assertion() is None


def test_forged_expired_or_unknown_assertions_are_refused(keys, tmp_path):
    signer, verifier, forger, *_ = keys
    with pytest.raises(identity.InvalidAssertion):
        verifier.verify(forger.sign("acc-1", "SUPERVISOR", "TBK"))  # another key under a known id
    with pytest.raises(identity.InvalidAssertion, match="expired"):
        verifier.verify(signer.sign("acc-1", "OFFICER", "TBK", now=time.time() - identity.TTL_S - 5))
    with pytest.raises(identity.InvalidAssertion):
        verifier.verify(signer.sign("acc-1", "ROOT", "TBK"))
    with pytest.raises(identity.InvalidAssertion):
        verifier.verify("not-a-token")
    unknown = identity.Signer((tmp_path / "a" / "identity-k1.key").read_bytes(), "k9")
    with pytest.raises(identity.InvalidAssertion, match="unknown key"):
        verifier.verify(unknown.sign("acc-1", "OFFICER", "TBK"))


def test_rotation_accepts_old_and_new_keys_while_both_are_published(keys, tmp_path):
    signer, _, _, env, other = keys
    both = identity.Verifier({"k1": (tmp_path / "a" / "identity-k1.pub").read_bytes(),
                              "k2": (tmp_path / "b" / "identity-k2.pub").read_bytes()})
    new = identity.Signer((tmp_path / "b" / "identity-k2.key").read_bytes(), "k2")
    assert both.verify(signer.sign("a", "APPLICANT")).account_id == "a"
    assert both.verify(new.sign("b", "APPLICANT")).account_id == "b"


def test_a_body_caller_is_replaced_by_the_proven_one_or_cleared():
    forged = booking_pb2.GetApplicationRequest(
        caller=common_pb2.Caller(account_id="x", role="SUPERVISOR", office_id="JKT"), application_id="A1")
    replace_caller(forged, None)
    assert not forged.HasField("caller") and forged.application_id == "A1"
    replace_caller(forged, identity.Principal("acc-7", "APPLICANT", ""))
    assert (forged.caller.account_id, forged.caller.role, forged.caller.office_id) == ("acc-7", "APPLICANT", "")
    untouched = payment_pb2.IssueBillingRequest(application_id="A1")  # no caller field: nothing to do
    replace_caller(untouched, None)
    assert untouched.application_id == "A1"


class _DeadLetters(EventConsumer):
    """The consumer with its dead-letter topic kept in memory (no Kafka in a unit test)."""

    def __init__(self, handlers):
        super().__init__(Database(), "booking-payments", ["payment.events", "complaint.events"], handlers)
        self.dead: list[tuple[str, str]] = []

    def _dead_letter(self, topic, value, reason):
        self.dead.append((topic, reason))


def test_an_event_is_believed_only_from_its_producers_topic():
    handled = []
    consumer = _DeadLetters({"PaymentSettled": lambda envelope, payload: handled.append(payload.billing_code)})
    settled = new_event("payment", "A1", payment_pb2.PaymentSettled(billing_code="BC1"), FixedClock(
        parse_rfc3339("2026-12-03T10:00:00+07:00"))).SerializeToString()
    assert consumer.process("complaint.events", settled) == "wrong_topic"
    assert handled == [] and consumer.dead == [
        ("complaint.events", "PaymentSettled is published on payment.events, not complaint.events")]
    assert consumer.process("payment.events", settled) == "handled" and handled == ["BC1"]
    assert events.home_topic(booking_pb2.BookingAbandoned()) == "booking.events"


def test_a_public_demo_secret_is_refused_outside_the_local_mode(monkeypatch):
    from servicekit.config import DEMO_SECRETS, secret
    monkeypatch.setenv("JWT_SECRET", DEMO_SECRETS["JWT_SECRET"])
    monkeypatch.delenv("PASSPORT_LOCAL_MODE", raising=False)
    with pytest.raises(ConfigError, match="JWT_SECRET holds a public demo value"):
        secret("JWT_SECRET")
    monkeypatch.setenv("PASSPORT_LOCAL_MODE", "1")
    assert secret("JWT_SECRET") == DEMO_SECRETS["JWT_SECRET"]
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(ConfigError, match="JWT_SECRET is required"):
        secret("JWT_SECRET")
