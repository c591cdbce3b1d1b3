"""Composition root of the payment service: `python -m services.payment`."""
from __future__ import annotations

from passport.v1 import payment_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int
from servicekit.grpcserver import ServiceRunner
from servicekit.outbox import OutboxRelay

from services.payment import billings
from services.payment.fees import FeeSchedule

NAME = "payment"


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, store: billings.Billings):
        self.store = store

    def IssueBilling(self, request, context):
        record = self.store.issue(request.appointment_id, request.application_id, request.account_id,
                                  request.office_id, request.fee, request.expires_at)
        return billings.to_proto(record, self.store.status_of(record))

    def GetBilling(self, request, context):
        record = self.store.latest_for(request.application_id)
        return billings.to_proto(record, self.store.status_of(record))


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    store = billings.Billings(db, FeeSchedule.load(), clock)
    store.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(payment_pb2_grpc.add_PaymentServiceServicer_to_server, PaymentServicer(store),
               "passport.v1.PaymentService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, billings.OUTBOX_COLLECTIONS, clock).run)
    runner.run()


if __name__ == "__main__":
    main()
