"""Composition root of the complaint service: `python -m services.complaint`. Only wiring."""
from __future__ import annotations

from passport.v1 import complaint_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int, service_address
from servicekit.due_windows import DueSweeper
from servicekit.grpcserver import ServiceRunner, every
from servicekit.outbox import OutboxRelay

from services.complaint import config
from services.complaint.adapters.booking import Booking
from services.complaint.adapters.calendars import BookingCalendars
from services.complaint.adapters.repository import ComplaintRepository
from services.complaint.entrypoints.grpc_api import ComplaintServicer
from services.complaint.usecases.complaints import Complaints

NAME = "complaint"


def main() -> None:
    log.setup(NAME)
    settings = config.load()
    clock = Clock()
    db = mongo.database(NAME)
    booking = Booking(service_address("booking", GRPC_PORTS["booking"]))
    calendars = BookingCalendars(booking.offices, clock)
    calendars.prime(timeout_s=settings.calendar_wait_s)
    repository = ComplaintRepository(db, clock, settings.contact_keys)
    repository.ensure_indexes()
    complaints = Complaints(repository, calendars, clock, booking)
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(complaint_pb2_grpc.add_ComplaintServiceServicer_to_server, ComplaintServicer(complaints),
               "passport.v1.ComplaintService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    sweeper = DueSweeper(lambda _first: complaints.sweep(), complaints.sweep_due, settings.sweep_scan_every_s)
    runner.add_worker("escalation_sweeper", every(settings.sweep_interval_s, "complaint_escalation_sweeper", sweeper))
    runner.add_worker("complaint_statistics", every(60, "complaint_statistics", complaints.refresh_metrics))
    runner.run()


if __name__ == "__main__":
    main()
