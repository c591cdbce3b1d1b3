"""Adapter: booking's BookingService as this service sees it, over gRPC. Asks for the application
as the caller sees it (staff of another office: 404) and answers the domain's Application."""
from __future__ import annotations

import grpc

from passport.v1 import booking_pb2
from servicekit.errors import DomainError

from services.biometrics_capture.adapters.protos import application_from_proto
from services.biometrics_capture.domain.capture import Application


class BookingClient:
    def __init__(self, stub):
        self.stub = stub

    def application(self, caller, application_id: str) -> Application:
        try:
            app = self.stub.GetApplication(booking_pb2.GetApplicationRequest(
                caller=caller, application_id=application_id))
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise DomainError("not_found", "application-not-found", "no such application") from None
            raise DomainError("unavailable", "booking-unavailable",
                              "the booking service cannot be reached; please retry") from None
        return application_from_proto(app)
