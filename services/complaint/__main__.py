"""Composition root of the complaint service: `python -m services.complaint`."""
from __future__ import annotations

import hmac

from passport.v1 import complaint_pb2, complaint_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import rfc3339
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int
from servicekit.errors import DomainError
from servicekit.grpcserver import ServiceRunner

NAME = "complaint"


class ComplaintServicer(complaint_pb2_grpc.ComplaintServiceServicer):
    def __init__(self, db):
        self.complaints = db["complaints"]

    def GetComplaintByTrackingCode(self, request, context):
        doc = self.complaints.find_one({"tracking_code": request.tracking_code})
        staff = request.caller.role in ("OFFICER", "SUPERVISOR") and doc and doc["office_id"] == request.caller.office_id
        if doc is None or not (staff or hmac.compare_digest(doc.get("pin", ""), request.access_pin)):
            raise DomainError("not_found", "complaint-not-found", "no complaint with this tracking code and PIN")
        return complaint_pb2.Complaint(complaint_id=doc["_id"], tracking_code=doc["tracking_code"],
                                       office_id=doc["office_id"], category=doc["category"],
                                       status=doc["status"], created_at=rfc3339(doc["created_at"]),
                                       due_at=rfc3339(doc["due_at"]))


def main() -> None:
    log.setup(NAME)
    db = mongo.database(NAME)
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(complaint_pb2_grpc.add_ComplaintServiceServicer_to_server, ComplaintServicer(db),
               "passport.v1.ComplaintService")
    runner.run()


if __name__ == "__main__":
    main()
