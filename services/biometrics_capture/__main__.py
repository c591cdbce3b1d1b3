"""Composition root of the biometrics-capture service: `python -m services.biometrics_capture`."""
from __future__ import annotations

from passport.v1 import biometrics_pb2, biometrics_pb2_grpc
from servicekit import log, mongo
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int
from servicekit.grpcserver import ServiceRunner

NAME = "biometrics-capture"


class BiometricsServicer(biometrics_pb2_grpc.BiometricsServiceServicer):
    def __init__(self, db):
        self.captures = db["captures"]

    def GetCaptureStatus(self, request, context):
        doc = self.captures.find_one({"_id": request.application_id}) or {}
        return biometrics_pb2.CaptureStatus(application_id=request.application_id,
                                            photo_accepted=bool(doc.get("photo_accepted")),
                                            fingers_captured=doc.get("fingers", []),
                                            interview_outcome=doc.get("interview_outcome", ""))


def main() -> None:
    log.setup(NAME)
    db = mongo.database(NAME)
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(biometrics_pb2_grpc.add_BiometricsServiceServicer_to_server, BiometricsServicer(db),
               "passport.v1.BiometricsService")
    runner.run()


if __name__ == "__main__":
    main()
