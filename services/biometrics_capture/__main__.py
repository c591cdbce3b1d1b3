"""Composition root of the biometrics-capture service: `python -m services.biometrics_capture`.
Only wiring."""
from __future__ import annotations

from passport.v1 import biometrics_pb2_grpc, booking_pb2_grpc
from servicekit import grpcclient, log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int, service_address
from servicekit.grpcserver import ServiceRunner, every
from servicekit.outbox import OutboxRelay

from services.biometrics_capture import config
from services.biometrics_capture.adapters.booking import BookingClient
from servicekit.crypto import KeyRing
from services.biometrics_capture.adapters.repository import CaptureRepository
from services.biometrics_capture.entrypoints.grpc_api import BiometricsServicer
from services.biometrics_capture.usecases.captures import Captures

NAME = "biometrics-capture"


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    settings = config.load()
    keys = KeyRing(config.encryption_keys(), "BIOMETRICS_ENCRYPTION_KEYS")
    booking = BookingClient(booking_pb2_grpc.BookingServiceStub(
        grpcclient.channel(service_address("booking", GRPC_PORTS["booking"]))))
    repository = CaptureRepository(db, clock)
    repository.ensure_indexes()
    captures = Captures(repository, booking, keys, settings, clock)
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(biometrics_pb2_grpc.add_BiometricsServiceServicer_to_server, BiometricsServicer(captures),
               "passport.v1.BiometricsService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    runner.add_worker("retention_sweep", every(3600, "retention_sweep", captures.purge_expired))
    runner.run()


if __name__ == "__main__":
    main()
