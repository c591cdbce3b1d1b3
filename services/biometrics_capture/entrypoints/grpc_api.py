"""Thin gRPC entrypoint of the biometrics-capture service: requests in, use cases called, protos out."""
from __future__ import annotations

from passport.v1 import biometrics_pb2_grpc

from services.biometrics_capture.adapters import protos
from services.biometrics_capture.usecases.captures import Captures


class BiometricsServicer(biometrics_pb2_grpc.BiometricsServiceServicer):
    def __init__(self, captures: Captures):
        self.captures = captures

    def GetCaptureStatus(self, request, context):
        return protos.status_proto(self.captures.status(request.caller, request.application_id))

    def CapturePhoto(self, request, context):
        result = self.captures.capture_photo(request.caller, request.application_id, request.image,
                                             request.override_reason)
        return protos.result_proto(result, self.captures.status(request.caller, request.application_id))

    def CaptureFingerprint(self, request, context):
        result = self.captures.capture_fingerprint(request.caller, request.application_id, request.finger,
                                                   request.image, request.missing_reason)
        return protos.result_proto(result, self.captures.status(request.caller, request.application_id))

    def RecordInterview(self, request, context):
        return protos.interview_proto(self.captures.record_interview(
            request.caller, request.application_id, request.outcome, request.notes,
            protos.examination_report_from_proto(request)))

    def GetPhoto(self, request, context):
        return protos.photo_proto(self.captures.photo(request.caller, request.application_id))

    def ApproveMissingFingers(self, request, context):
        return protos.status_proto(self.captures.approve_missing_fingers(request.caller, request.application_id,
                                                                         request.reason))

    def ListAccessLog(self, request, context):
        return protos.access_log_proto(self.captures.access_log(request.caller, request.office_id,
                                                                request.application_id, request.limit))
