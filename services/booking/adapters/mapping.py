"""Proto <-> domain mapping of booking, in one place: the application view, documents, domain events."""
from __future__ import annotations

import dataclasses
import datetime as dt

from passport.v1 import booking_pb2, common_pb2, staff_pb2
from servicekit.clock import rfc3339

from services.booking.adapters.documents import view as document_view
from services.booking.domain import events
from services.booking.domain.application import Application, appointment_status, mask_passport


def event_to_proto(event):
    """A domain event as the integration event of the same name (protos/passport/v1/booking.proto)."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    for name, value in fields.items():
        if isinstance(value, events.Money):
            fields[name] = common_pb2.Money(amount=value.amount, currency=value.currency)
    return getattr(booking_pb2, type(event).__name__)(**fields)


def application_view(app: Application, calendar, caller=None) -> dict:
    """The application as its owner or the office's staff see it (staff see the passport number)."""
    header, history = app.header, app.history
    office = calendar.offices[header["office_id"]]
    latest = app.latest
    state = latest.get("state") or {}
    appointment = state.get("appointment")
    if appointment:
        appointment = {k: v for k, v in appointment.items() if k != "hold_id"}
        appointment["status"] = appointment_status(latest["status"])
        if state.get("queue_number"):
            appointment["queue_number"] = state["queue_number"]
    staff = caller is not None and caller.role in ("OFFICER", "SUPERVISOR")
    number = state.get("passport_number", "")
    return {
        "application_id": header["_id"], "account_id": header["account_id"],
        "office_id": header["office_id"], "status": latest["status"],
        "passport_type": header["passport_type"], "validity_years": header["validity_years"],
        "service_type": header["service_type"], "express": header["express"],
        "priority_group": header["priority_group"] or None,
        "created_at": rfc3339(header["created_at"], office.tz),
        "appointment": appointment, "billing": state.get("billing"),
        "passport_number": number if staff else mask_passport(number) if number else "",
        "delivery": state.get("delivery", ""), "tracking_number": state.get("tracking_number", ""),
        "ready_by": _ready_by(calendar, office, header, state),
        "timeline": [{"status": t["status"], "at": rfc3339(t["at"], office.tz), "note": t.get("note", "")}
                     for t in history if "abandoned_hold" not in t],
    }


def _ready_by(calendar, office, header: dict, state: dict) -> str:
    """Issued within 4 working days of the interview, the same day for express service."""
    approved = state.get("approved_on")
    if not approved:
        return ""
    day = dt.date.fromisoformat(approved)
    if header["express"]:
        return day.isoformat()
    return calendar.working_days(office, day + dt.timedelta(days=1), 4)[-1].isoformat()


def office_proto(office, holidays: list[str]) -> booking_pb2.Office:
    return booking_pb2.Office(office_id=office.office_id, name=office.name, timezone=office.timezone,
                              address=office.address, working_days=office.working_days, holidays=holidays)


def slot_proto(slot: dict) -> booking_pb2.Slot:
    """A slot as listed, with its `remaining` seats."""
    return booking_pb2.Slot(slot_id=slot["_id"], office_id=slot["office_id"], date=slot["date"],
                            start_time=slot["start_time"], end_time=slot["end_time"], lane=slot["lane"],
                            capacity=slot["capacity"], remaining=slot["remaining"])


def to_proto(view: dict) -> booking_pb2.Application:
    app = booking_pb2.Application(
        application_id=view["application_id"], account_id=view["account_id"], office_id=view["office_id"],
        status=view["status"], passport_type=view["passport_type"], validity_years=view["validity_years"],
        service_type=view["service_type"], express=view["express"],
        priority_group=view["priority_group"] or "", created_at=view["created_at"],
        timeline=[booking_pb2.TimelineEntry(**t) for t in view["timeline"]],
        passport_number=view["passport_number"], delivery=view["delivery"],
        tracking_number=view["tracking_number"], ready_by=view["ready_by"])
    if view["appointment"]:
        app.appointment.CopyFrom(booking_pb2.Appointment(**view["appointment"]))
    if view["billing"]:
        b = view["billing"]
        app.billing.CopyFrom(booking_pb2.BillingSummary(
            billing_code=b["billing_code"], amount=common_pb2.Money(amount=b["amount"], currency=b["currency"]),
            expires_at=b["expires_at"]))
    return app


def document_proto(doc: dict) -> booking_pb2.Document:
    return booking_pb2.Document(**document_view(doc))


def staff_account_proto(doc: dict, temporary_password: str = "") -> staff_pb2.StaffAccount:
    deactivated = doc.get("deactivated_at")
    return staff_pb2.StaffAccount(
        account_id=doc["_id"], full_name=doc.get("full_name", ""), email=doc.get("email", ""), role=doc["role"],
        office_id=doc.get("office_id", ""), active=bool(doc.get("active", True)),
        token_version=int(doc.get("token_version", 0)),
        created_at=rfc3339(doc["created_at"]) if doc.get("created_at") else "",
        deactivated_at=rfc3339(deactivated) if deactivated else "", temporary_password=temporary_password)
