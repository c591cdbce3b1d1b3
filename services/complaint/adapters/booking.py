"""Adapter: the complaint service's view of its peers (booking's BookingService and AccountService), over
gRPC with deadlines. Peer refusals become the complaint service's own DomainErrors, so the domain
never sees gRPC."""
from __future__ import annotations

from dataclasses import dataclass

import grpc

from passport.v1 import accounts_pb2, accounts_pb2_grpc, booking_pb2, booking_pb2_grpc
from servicekit import grpcclient
from servicekit.errors import DomainError


@dataclass(frozen=True)
class ApplicationInfo:
    application_id: str
    account_id: str
    office_id: str
    service_type: str


@dataclass(frozen=True)
class StaffInfo:
    account_id: str
    role: str
    office_id: str


def _unavailable() -> DomainError:
    return DomainError("unavailable", "booking-unavailable", "the booking service did not answer; try again")


class Booking:
    def __init__(self, address: str, deadline_s: float = 3.0):
        channel = grpcclient.channel(address, deadline_s)
        self.booking = booking_pb2_grpc.BookingServiceStub(channel)
        self.accounts = accounts_pb2_grpc.AccountServiceStub(channel)

    def offices(self):
        """The offices with their calendars (booking owns them)."""
        try:
            return self.booking.ListOffices(booking_pb2.ListOfficesRequest()).items
        except grpc.RpcError:
            raise _unavailable() from None

    def application(self, caller, application_id: str) -> ApplicationInfo:
        """The application as `caller` may see it; not_found if it does not exist for them."""
        try:
            app = self.booking.GetApplication(booking_pb2.GetApplicationRequest(
                caller=caller, application_id=application_id))
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
                              grpc.StatusCode.INVALID_ARGUMENT):
                raise DomainError("not_found", "application-not-found",
                                  "no application with this id that you may see") from None
            raise _unavailable() from None
        return ApplicationInfo(app.application_id, app.account_id, app.office_id, app.service_type)

    def staff(self, account_id: str) -> StaffInfo | None:
        try:
            acc = self.accounts.GetAccount(accounts_pb2.GetAccountRequest(account_id=account_id))
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise _unavailable() from None
        return StaffInfo(acc.account_id, acc.role, acc.office_id)
