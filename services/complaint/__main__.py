"""Composition root of the complaint service: `python -m services.complaint`."""
from __future__ import annotations

from passport.v1 import complaint_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_float, env_int, service_address
from servicekit.grpcserver import ServiceRunner, every
from servicekit.outbox import OutboxRelay

from services.complaint import complaints, peers, sla
from services.complaint.grpc_api import ComplaintServicer

NAME = "complaint"


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    booking = peers.Booking(service_address("booking", GRPC_PORTS["booking"]))
    calendars = sla.BookingCalendars(booking.offices, clock)
    calendars.prime(timeout_s=env_float("COMPLAINT_CALENDAR_WAIT_SECONDS", 30))
    store = complaints.Complaints(db, calendars, clock, booking)
    store.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(complaint_pb2_grpc.add_ComplaintServiceServicer_to_server, ComplaintServicer(store),
               "passport.v1.ComplaintService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    runner.add_worker("escalation_sweeper",
                      every(env_float("COMPLAINT_SWEEP_INTERVAL_SECONDS", 5.0), "complaint_escalation_sweeper",
                            store.sweep))
    runner.add_worker("complaint_statistics", every(60, "complaint_statistics", store.refresh_metrics))
    runner.run()


if __name__ == "__main__":
    main()
