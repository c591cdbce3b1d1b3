"""Protobuf <-> domain, one mapping per record: booking's application in; capture results, status,
interview, photo and the integration events (whose fields the domain events share) out."""
from __future__ import annotations

import dataclasses

from passport.v1 import biometrics_pb2
from servicekit.clock import parse_rfc3339, rfc3339

from services.biometrics_capture.domain.capture import AccessEntry, Application, CaptureStatus, ExaminationReport
from services.biometrics_capture.domain.events import Event


def application_from_proto(app) -> Application:
    """The domain's view of booking's Application; the latest CHECKED_IN time of its timeline
    (None when missing or unreadable, so the check-in rule fails closed)."""
    entries = [t for t in app.timeline if t.status == "CHECKED_IN"]
    try:
        checked_in_at = parse_rfc3339(entries[-1].at) if entries else None
    except ValueError:
        checked_in_at = None
    return Application(application_id=app.application_id, account_id=app.account_id, office_id=app.office_id,
                       status=app.status, service_type=app.service_type, checked_in_at=checked_in_at)


def examination_report_from_proto(request) -> ExaminationReport | None:
    if not request.HasField("bap"):
        return None
    bap = request.bap
    return ExaminationReport(bap.report_number, bap.police_report_number, bap.circumstances, bap.force_majeure)


def event_proto(event: Event):
    """The integration event of a domain event: same name, same fields."""
    return getattr(biometrics_pb2, type(event).__name__)(**dataclasses.asdict(event))


def status_proto(status: CaptureStatus) -> biometrics_pb2.CaptureStatus:
    return biometrics_pb2.CaptureStatus(**dataclasses.asdict(status))


def result_proto(result: dict, status: CaptureStatus) -> biometrics_pb2.CaptureResult:
    return biometrics_pb2.CaptureResult(
        accepted=result["accepted"], capture_id=result["capture_id"], overridden=result["overridden"],
        checks=[biometrics_pb2.Check(**c.as_dict()) for c in result["checks"]], status=status_proto(status))


def interview_proto(record: dict) -> biometrics_pb2.InterviewRecord:
    return biometrics_pb2.InterviewRecord(application_id=record["application_id"], outcome=record["outcome"],
                                          notes=record["notes"], recorded_at=rfc3339(record["at"]),
                                          officer_id=record["officer_id"])


def photo_proto(photo: dict) -> biometrics_pb2.PhotoImage:
    return biometrics_pb2.PhotoImage(capture_id=photo["capture_id"], image=photo["image"],
                                     content_type=photo["content_type"], sha256=photo["sha256"])


def access_log_proto(entries: list[AccessEntry]) -> biometrics_pb2.AccessLog:
    return biometrics_pb2.AccessLog(items=[biometrics_pb2.AccessLogEntry(
        at=rfc3339(e.at), application_id=e.application_id, action=e.action, actor_id=e.actor_id,
        actor_role=e.actor_role, capture_id=e.capture_id, finger=e.finger, reason=e.reason, outcome=e.outcome)
        for e in entries])
