"""Attacks from inside the network on the gRPC links, replayed against a running stack: each is
refused and changes nothing. The caller of every direct call is a certificate of this stack's CA
(a service identity) or an attacker's own."""
from __future__ import annotations

import grpc
import pytest

from passport.v1 import accounts_pb2, accounts_pb2_grpc, booking_pb2, booking_pb2_grpc, common_pb2
from passport.v1 import payment_pb2, payment_pb2_grpc
from servicekit import grpcclient, identity, tls


def booking(stack, as_identity: str):
    channel = grpcclient.channel(stack.ports.address("booking"), 10, tls_files=stack.tls(as_identity))
    return booking_pb2_grpc.BookingServiceStub(channel), accounts_pb2_grpc.AccountServiceStub(channel)


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    return refused.value.code()


@pytest.fixture(scope="module")
def victim(api):
    person = api.register_applicant()
    reply = api.create_application(person["token"])
    assert reply.status == 201, reply.body
    return {**person, "application_id": reply.body["application_id"]}


def test_a_call_without_a_client_certificate_is_refused(stack):
    ca = stack.tls("gateway").ca.read_bytes()
    no_cert = grpc.secure_channel(f"127.0.0.1:{stack.ports.grpc('booking')}", grpc.ssl_channel_credentials(ca))
    assert code_of(lambda: booking_pb2_grpc.BookingServiceStub(no_cert).ListOffices(
        booking_pb2.ListOfficesRequest(), timeout=5)) == grpc.StatusCode.UNAVAILABLE
    plain = grpc.insecure_channel(f"127.0.0.1:{stack.ports.grpc('booking')}")
    assert code_of(lambda: booking_pb2_grpc.BookingServiceStub(plain).ListOffices(
        booking_pb2.ListOfficesRequest(), timeout=5)) == grpc.StatusCode.UNAVAILABLE


def test_a_certificate_of_another_authority_is_refused_even_naming_the_gateway(stack, tmp_path):
    tls.make_local_ca(tmp_path, identities=("gateway",))  # the attacker's own CA, same names
    forged = tls.channel_credentials(tls.TlsFiles(stack.tls("gateway").ca, tmp_path / "gateway.crt",
                                                  tmp_path / "gateway.key"))
    channel = grpc.secure_channel(f"127.0.0.1:{stack.ports.grpc('booking')}", forged)
    assert code_of(lambda: booking_pb2_grpc.BookingServiceStub(channel).ListOffices(
        booking_pb2.ListOfficesRequest(), timeout=5)) == grpc.StatusCode.UNAVAILABLE


def test_a_peer_may_call_only_what_its_work_needs(stack, victim):
    _, accounts_as_biometrics = booking(stack, "biometrics-capture")
    assert code_of(lambda: accounts_as_biometrics.GetContact(
        accounts_pb2.GetAccountRequest(account_id=victim["account_id"]))) == grpc.StatusCode.PERMISSION_DENIED
    _, accounts_as_notification = booking(stack, "notification")  # whose work it is: allowed
    contact = accounts_as_notification.GetContact(accounts_pb2.GetAccountRequest(account_id=victim["account_id"]))
    assert contact.email == victim["email"]

    payment = payment_pb2_grpc.PaymentServiceStub(
        grpcclient.channel(stack.ports.address("payment"), 10, tls_files=stack.tls("notification")))
    assert code_of(lambda: payment.IssueBilling(payment_pb2.IssueBillingRequest(
        appointment_id="apt_x", application_id=victim["application_id"], account_id=victim["account_id"],
        office_id="TBK"))) == grpc.StatusCode.PERMISSION_DENIED


def test_staff_cannot_be_created_over_the_network(stack):
    _, accounts = booking(stack, "gateway")
    assert code_of(lambda: accounts.CreateStaff(accounts_pb2.CreateStaffRequest(
        full_name="Mallory", email="mallory@example.id", password="Sandi-Rahasia-2026", role="SUPERVISOR",
        office_id="TBK"))) == grpc.StatusCode.PERMISSION_DENIED


def test_a_caller_written_in_the_body_is_not_believed(stack, victim):
    bookings, _ = booking(stack, "gateway")
    forged = booking_pb2.GetApplicationRequest(
        caller=common_pb2.Caller(account_id="mallory", role="SUPERVISOR", office_id="TBK"),
        application_id=victim["application_id"])
    assert code_of(lambda: bookings.GetApplication(forged)) in (
        grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)

    # The same call with the owner's signed identity (as the gateway relays it) is answered.
    signer = identity.Signer.from_paths(stack.identity_env["IDENTITY_SIGNING_KEY"], stack.identity_env["IDENTITY_KEY_ID"])
    owner = identity.current.set(signer.sign(victim["account_id"], "APPLICANT"))
    try:
        assert bookings.GetApplication(forged).application_id == victim["application_id"]
    finally:
        identity.current.reset(owner)


def test_an_identity_signed_with_another_key_is_refused(stack, victim, tmp_path):
    identity.make_local_keys(tmp_path, "local-1")  # the attacker's key under the real key id
    mallory = identity.Signer.from_paths(str(tmp_path / "identity-local-1.key"), "local-1")
    bookings, _ = booking(stack, "gateway")
    forged = mallory.sign("mallory", "SUPERVISOR", "TBK")
    token = identity.current.set(forged)
    try:
        assert code_of(lambda: bookings.GetApplication(booking_pb2.GetApplicationRequest(
            application_id=victim["application_id"]))) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        identity.current.reset(token)


def test_reflection_is_off(stack):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    channel = grpcclient.channel(stack.ports.address("booking"), 10, tls_files=stack.tls("gateway"))
    replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    assert code_of(lambda: list(replies)) == grpc.StatusCode.UNIMPLEMENTED
