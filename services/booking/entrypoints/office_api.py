"""gRPC adapter of OfficeService: audit log, statistics and ballots (hosted by the booking process)."""
from __future__ import annotations

import datetime as dt
import json

from passport.v1 import office_pb2, office_pb2_grpc
from servicekit.errors import DomainError, invalid

from services.booking.adapters.audit import AuditLog
from services.booking.usecases.outreach import Outreach
from services.booking.usecases.releases import Ballots
from services.booking.usecases.statistics import Statistics


def _supervisor_of(caller, office_id: str) -> None:
    if caller.role != "SUPERVISOR" or caller.office_id != office_id:
        raise DomainError("forbidden", "forbidden", "only the supervisor of this office may do this")


class OfficeServicer(office_pb2_grpc.OfficeServiceServicer):
    def __init__(self, audit: AuditLog, statistics: Statistics, ballots: Ballots, calendar, outreach: Outreach):
        self.audit, self.statistics, self.ballots, self.calendar = audit, statistics, ballots, calendar
        self.outreach = outreach

    def RequestOutreach(self, request, context):
        return office_pb2.OutreachRequest(**self.outreach.request(
            request.caller, request.office_id, request.organisation, request.location, request.date,
            request.people, request.contact_phone))

    def GetOutreach(self, request, context):
        return office_pb2.OutreachRequest(**self.outreach.get(request.caller, request.request_id))

    def ListOutreach(self, request, context):
        return office_pb2.ListOutreachResponse(items=[
            office_pb2.OutreachRequest(**v) for v in self.outreach.list(request.caller, request.office_id, request.status)])

    def DecideOutreach(self, request, context):
        return office_pb2.OutreachRequest(**self.outreach.decide(
            request.caller, request.office_id, request.request_id, request.approve, request.seats,
            request.start_time, request.reason))

    def ListAudit(self, request, context):
        _supervisor_of(request.caller, request.office_id)
        office = self.calendar.offices.get(request.office_id)
        if office is None:
            raise DomainError("not_found", "office-not-found", f"no office {request.office_id!r}")
        today = office.today(dt.datetime.now(dt.timezone.utc))
        last = _day(request.to, "to", today)
        first = _day(getattr(request, "from") or "", "from", last - dt.timedelta(days=30))
        if first > last:
            raise invalid("from must not be after to", "from")
        start = dt.datetime.combine(first, dt.time(), office.tz)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), office.tz)
        return office_pb2.ListAuditResponse(items=[_entry(e) for e in self.audit.list(request.office_id, start, end)])

    def VerifyAudit(self, request, context):
        if request.caller.role != "SUPERVISOR":
            raise DomainError("forbidden", "forbidden", "only supervisors verify the audit log")
        return office_pb2.AuditVerification(**self.audit.verify())

    def GetStatistics(self, request, context):
        report = self.statistics.report(request.caller, request.office_id, getattr(request, "from"), request.to,
                                        request.group or "day")
        return office_pb2.StatisticsResponse(
            office_id=report["office_id"], to=report["to"], group=report["group"],
            rows=[office_pb2.StatisticsRow(**r) for r in report["rows"]],
            total=office_pb2.StatisticsRow(**report["total"]), **{"from": report["from"]})

    def CreateBallot(self, request, context):
        return office_pb2.Ballot(**self.ballots.create(
            request.caller, request.office_id, request.date, request.lane, request.entries_open_at,
            request.entries_close_at, request.draw_at))

    def ListBallots(self, request, context):
        return office_pb2.ListBallotsResponse(items=[office_pb2.Ballot(**b) for b in self.ballots.list(request.office_id)])

    def EnterBallot(self, request, context):
        return office_pb2.BallotEntry(**self.ballots.enter(request.caller, request.office_id, request.ballot_id,
                                                           request.application_id))

    def ListApplicationBallotEntries(self, request, context):
        return office_pb2.ListApplicationBallotEntriesResponse(items=[
            office_pb2.ApplicationBallotEntry(entry=office_pb2.BallotEntry(**e["entry"]),
                                              ballot=office_pb2.Ballot(**e["ballot"]),
                                              outcome=e["outcome"], slot_id=e["slot_id"])
            for e in self.ballots.entries_of_application(request.caller, request.application_id)])

    def ListReleases(self, request, context):
        return office_pb2.ListReleasesResponse(items=[
            office_pb2.Release(**dict(r, ballots=[office_pb2.Ballot(**b) for b in r["ballots"]]))
            for r in self.ballots.releases(request.office_id)])

    def GetBallotResult(self, request, context):
        r = self.ballots.result(request.office_id, request.ballot_id)
        return office_pb2.BallotResult(
            ballot_id=r["ballot_id"], commitment=r["commitment"], seed=r["seed"], secret=r["secret"],
            entry_ids=r["entry_ids"], order=r["order"],
            outcomes=[office_pb2.BallotOutcome(**o) for o in r["outcomes"]], drawn_at=r["drawn_at"],
            complete=r["complete"])


def _day(text: str, field: str, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid(f"{field} must be a date YYYY-MM-DD", field) from None


def _entry(e: dict) -> office_pb2.AuditEntry:
    return office_pb2.AuditEntry(seq=e["seq"], at=e["at"], actor_account_id=e["actor_account_id"],
                                 actor_role=e["actor_role"], office_id=e["office_id"], action=e["action"],
                                 details_json=json.dumps(e["details"], sort_keys=True), prev_hash=e["prev_hash"],
                                 hash=e["hash"])
