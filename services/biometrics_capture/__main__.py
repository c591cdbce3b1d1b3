"""Composition root of the biometrics-capture service: `python -m services.biometrics_capture`."""
from __future__ import annotations

from passport.v1 import biometrics_pb2, biometrics_pb2_grpc, booking_pb2_grpc
from servicekit import grpcclient, log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int, service_address
from servicekit.grpcserver import ServiceRunner, every
from servicekit.outbox import OutboxRelay

from services.biometrics_capture import config
from services.biometrics_capture.captures import BookingClient, Captures, interview_proto
from services.biometrics_capture.crypto import KeyRing

NAME = "biometrics-capture"


def result_proto(result: dict, status: biometrics_pb2.CaptureStatus) -> biometrics_pb2.CaptureResult:
    return biometrics_pb2.CaptureResult(
        accepted=result["accepted"], capture_id=result["capture_id"], overridden=result["overridden"],
        checks=[biometrics_pb2.Check(**c.as_dict()) for c in result["checks"]], status=status)


class BiometricsServicer(biometrics_pb2_grpc.BiometricsServiceServicer):
    def __init__(self, captures: Captures):
        self.captures = captures

    def GetCaptureStatus(self, request, context):
        return self.captures.status(request.caller, request.application_id)

    def CapturePhoto(self, request, context):
        result = self.captures.capture_photo(request.caller, request.application_id, request.image,
                                             request.override_reason)
        return result_proto(result, self.captures.status(request.caller, request.application_id))

    def CaptureFingerprint(self, request, context):
        result = self.captures.capture_fingerprint(request.caller, request.application_id, request.finger,
                                                   request.image, request.missing_reason)
        return result_proto(result, self.captures.status(request.caller, request.application_id))

    def RecordInterview(self, request, context):
        bap = request.bap if request.HasField("bap") else None
        return interview_proto(self.captures.record_interview(
            request.caller, request.application_id, request.outcome, request.notes, bap))

    def GetPhoto(self, request, context):
        photo = self.captures.photo(request.caller, request.application_id)
        return biometrics_pb2.PhotoImage(capture_id=photo["capture_id"], image=photo["image"],
                                         content_type=photo["content_type"], sha256=photo["sha256"])


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    settings = config.load()
    keys = KeyRing(config.encryption_keys())
    booking = BookingClient(booking_pb2_grpc.BookingServiceStub(
        grpcclient.channel(service_address("booking", GRPC_PORTS["booking"]))))
    captures = Captures(db, booking, keys, settings, clock)
    captures.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(biometrics_pb2_grpc.add_BiometricsServiceServicer_to_server, BiometricsServicer(captures),
               "passport.v1.BiometricsService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    runner.add_worker("retention_sweep", every(3600, "retention_sweep", captures.purge_expired))
    runner.run()


if __name__ == "__main__":
    main()
