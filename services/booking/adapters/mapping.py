"""Proto <-> domain mapping of booking, in one place: the application view, documents, domain events."""
from __future__ import annotations

from passport.v1 import booking_pb2, common_pb2

from services.booking.documents import view as document_view


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
