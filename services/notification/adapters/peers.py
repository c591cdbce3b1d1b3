"""Clients of peer services: office time zones and supervisors (booking's BookingService and
AccountService) and recipients' contacts (AccountService.GetContact; an anonymous reporter's from
ComplaintService.GetReporterContact). Recipients never come from events."""
from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc

from passport.v1 import (accounts_pb2, accounts_pb2_grpc, booking_pb2, booking_pb2_grpc, complaint_pb2,
                         complaint_pb2_grpc)
from servicekit import grpcclient

from services.notification.domain.delivery import SendError
from services.notification.domain.message import REPORTER_PREFIX

logger = logging.getLogger("notification")


class OfficeZones:
    """Office id -> time zone, from the booking service's ListOffices (cached; UTC if unknown)."""

    def __init__(self, address: str):
        self.stub = booking_pb2_grpc.BookingServiceStub(grpcclient.channel(address, 5.0))
        self.zones: dict[str, ZoneInfo] = {}

    def zone_of(self, office_id: str, tries: int = 3):
        for attempt in range(tries if office_id and office_id not in self.zones else 0):
            try:
                for o in self.stub.ListOffices(booking_pb2.ListOfficesRequest()).items:
                    self.zones[o.office_id] = ZoneInfo(o.timezone)
                break
            except (grpc.RpcError, ZoneInfoNotFoundError) as exc:
                if attempt == tries - 1:
                    logger.warning("office zones unavailable, times shown in UTC: %s", exc)
                else:
                    time.sleep(0.5 * (attempt + 1))  # booking busy or starting: ask again shortly
        return self.zones.get(office_id)


class Supervisors:
    """Office id -> account ids of its SUPERVISOR(s) (head of office), from booking's ListStaff.
    Asked per event (escalations are rare); a failure raises, so the consumer retries the event."""

    def __init__(self, address: str, deadline_s: float = 3.0):
        self.stub = accounts_pb2_grpc.AccountServiceStub(grpcclient.channel(address, deadline_s))

    def of(self, office_id: str) -> list[str]:
        reply = self.stub.ListStaff(accounts_pb2.ListStaffRequest(office_id=office_id, role="SUPERVISOR"))
        return sorted({a.account_id for a in reply.items if a.account_id})


class Contacts:
    """Recipients come from the booking service's AccountService.GetContact, never from events; an
    anonymous reporter's contact (`complaint:<complaint_id>`) from ComplaintService.GetReporterContact."""

    def __init__(self, address: str, deadline_s: float = 3.0, complaint_address: str = ""):
        self.stub = accounts_pb2_grpc.AccountServiceStub(grpcclient.channel(address, deadline_s))
        self.reporters = complaint_pb2_grpc.ComplaintServiceStub(grpcclient.channel(complaint_address, deadline_s)) \
            if complaint_address else None

    def address_of(self, account_id: str, channel: str) -> str:
        try:
            if account_id.startswith(REPORTER_PREFIX) and self.reporters is not None:
                contact = self.reporters.GetReporterContact(complaint_pb2.GetReporterContactRequest(
                    complaint_id=account_id[len(REPORTER_PREFIX):]))
            else:
                contact = self.stub.GetContact(accounts_pb2.GetAccountRequest(account_id=account_id))
        except grpc.RpcError as exc:
            permanent = exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
            raise SendError(f"contact lookup {exc.code().name}", permanent=permanent) from None
        to = contact.email if channel == "EMAIL" else contact.phone
        if not to:
            raise SendError(f"account has no {channel.lower()} address", permanent=True)
        return to
