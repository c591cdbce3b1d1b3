"""Composition root of the payment service: `python -m services.payment`. Wires the store, the
use cases and the entrypoints; no rules here."""
from __future__ import annotations

from passport.v1 import payment_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.consumer import EventConsumer
from servicekit.grpcserver import ServiceRunner, every
from servicekit.kafka_access import CONSUMES
from servicekit.outbox import OutboxRelay

from services.payment.adapters.bank import BankClient
from services.payment.adapters.repositories import Repositories
from services.payment.config import NAME, Settings
from services.payment.domain.fees import FeeSchedule
from services.payment.entrypoints.events import handlers
from services.payment.entrypoints.grpc_api import PaymentServicer
from services.payment.entrypoints.sweeper import expiry_sweeper
from services.payment.usecases.billing import Billings
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements


def main() -> None:
    log.setup(NAME)
    settings = Settings.from_env()
    clock = Clock()
    db = mongo.database(NAME)
    repos = Repositories.over(db, clock)
    repos.ensure_indexes()
    billings = Billings(repos, FeeSchedule.load(), clock)
    refunds = Refunds(repos, clock)
    settlements = Settlements(repos, clock, settings.expiry_grace, on_settled=refunds.on_settled,
                              paid_at_skew=settings.paid_at_skew)
    bank = BankClient(settings.bank_api_url, settings.bank_api_timeout_s, settings.bank_secret)

    runner = ServiceRunner(NAME, settings.grpc_port, settings.metrics_port)
    runner.add(payment_pb2_grpc.add_PaymentServiceServicer_to_server,
               PaymentServicer(billings, settlements, bank, refunds, repos.reconciliations), "passport.v1.PaymentService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    runner.add_worker("consumer", EventConsumer(db, NAME, list(CONSUMES[NAME]), handlers(refunds, settlements)).run)
    sweeper = expiry_sweeper(settlements, settings.sweep_scan_every_s, settings.sweep_lookback)
    runner.add_worker("expiry_sweeper", every(settings.sweep_interval_s, "expiry_sweeper", sweeper))
    runner.run()


if __name__ == "__main__":
    main()
