"""Composition root of the payment service: `python -m services.payment`."""
from __future__ import annotations

import datetime as dt
import logging
import time

from passport.v1 import payment_pb2, payment_pb2_grpc
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env, env_float, env_int
from servicekit.consumer import EventConsumer
from servicekit.errors import DomainError
from servicekit.grpcserver import ServiceRunner, every
from servicekit.events import TOPICS
from servicekit.outbox import OutboxRelay

from services.payment import billings, reconcile, refunds, settlements, statement
from services.payment.bank import BankClient
from services.payment.fees import FeeSchedule

NAME = "payment"
logger = logging.getLogger("payment")


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, store: billings.Billings, settled: settlements.Settlements, bank: BankClient,
                 owed: refunds.Refunds):
        self.store, self.settled, self.bank, self.owed = store, settled, bank, owed

    def _view(self, record: dict, fresh: bool = False) -> payment_pb2.Billing:
        status, paid_at = self.settled.status(record, fresh)
        billing = billings.to_proto(record, status, paid_at)
        billing.refunds.extend(refunds.to_proto(v) for v in self.owed.for_application(record["application_id"]))
        return billing

    def ListRefunds(self, request, context):
        views = self.owed.list(request.office_id, request.status, request.limit)
        return payment_pb2.ListRefundsReply(refunds=[refunds.to_proto(v) for v in views])

    def MarkRefundPaidOut(self, request, context):
        return refunds.to_proto(self.owed.mark_paid(request.billing_code, request.bank_reference,
                                                    request.refund_id, request.office_id, request.actor))

    def IssueBilling(self, request, context):
        record, fresh = self.store.issue_fresh(request.appointment_id, request.application_id, request.account_id,
                                               request.office_id, request.fee, request.expires_at)
        return self._view(record, fresh)

    def GetBilling(self, request, context):
        return self._view(self.store.latest_for(request.application_id))

    def SettlePayment(self, request, context):
        outcome, record = self.settled.settle(request.billing_code, request.amount, request.paid_at,
                                              request.bank_reference, request.source or "NOTIFICATION")
        return payment_pb2.SettlePaymentReply(outcome=outcome, billing=self._view(record))

    def RecheckBilling(self, request, context):
        record = self.store.latest_for(request.application_id)
        if self.settled.outcome_of(record["_id"]) is None:
            for p in self.bank.payments_for(record["_id"]):
                try:
                    self.settled.settle(record["_id"], p.get("amount"), p.get("paid_at", ""),
                                        str(p.get("bank_reference", "")), "RECHECK")
                except DomainError as err:  # recorded (mismatch, late) or unusable: status tells
                    log.event(logger, "recheck found an unusable payment", problem=err.problem)
        return self._view(record)

    def Reconcile(self, request, context):
        lines = statement.parse_csv(request.csv) if request.csv else [
            {"bank_reference": ln.bank_reference, "billing_code": ln.billing_code, "amount": ln.amount,
             "paid_at": ln.paid_at} for ln in request.lines]
        report = reconcile.reconcile(self.settled, lines, request.office_id)

        def items(kind):
            return [payment_pb2.ReconcileItem(line=payment_pb2.StatementLine(
                bank_reference=str(i["line"]["bank_reference"] or ""), billing_code=str(i["line"]["billing_code"] or ""),
                amount=i["line"]["amount"] if isinstance(i["line"]["amount"], int) else 0,
                paid_at=str(i["line"]["paid_at"] or "")), outcome=i["outcome"]) for i in report[kind]]

        return payment_pb2.ReconcileReport(matched=items("matched"), missing_ours=items("missing_ours"),
                                           missing_bank=items("missing_bank"), mismatched=items("mismatched"))


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    store = billings.Billings(db, FeeSchedule.load(), clock)
    store.ensure_indexes()
    grace = dt.timedelta(seconds=env_float("PAYMENT_EXPIRY_GRACE_SECONDS", 0))
    owed = refunds.Refunds(db, clock)
    owed.ensure_indexes()
    settled = settlements.Settlements(db, clock, grace, on_settled=owed.on_settled)
    settled.ensure_indexes()
    bank = BankClient(env("BANK_API_URL", ""), env_float("BANK_API_TIMEOUT_SECONDS", 3.0))
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(payment_pb2_grpc.add_PaymentServiceServicer_to_server, PaymentServicer(store, settled, bank, owed),
               "passport.v1.PaymentService")
    runner.add_worker("outbox_relay", OutboxRelay(db, NAME, clock).run)
    # Booking's cancellations (a paid application the office cancels is refunded; an unpaid billing
    # is voided) and its answers to late payments (refunded when no seat could be given back).
    consumer = EventConsumer(db, "payment", [TOPICS["booking"]], refunds.handlers(owed, settled))
    runner.add_worker("consumer", consumer.run)

    lookback = dt.timedelta(hours=env_float("PAYMENT_SWEEP_LOOKBACK_HOURS", 48))
    scan_every = env_float("PAYMENT_SWEEP_SCAN_SECONDS", 600)
    last_scan = [None]

    def sweep() -> None:
        # Every second the expiry queue's windows that passed; at start-up (so downtime never skips
        # an expiry) and then every PAYMENT_SWEEP_SCAN_SECONDS a scan of the billings as a safety net.
        now = time.monotonic()
        if last_scan[0] is None or now - last_scan[0] >= scan_every:
            settled.sweep(None if last_scan[0] is None else lookback)
            last_scan[0] = now
        settled.sweep_due()

    runner.add_worker("expiry_sweeper", every(env_float("PAYMENT_SWEEP_INTERVAL_SECONDS", 1.0),
                                              "expiry_sweeper", sweep))
    runner.run()


if __name__ == "__main__":
    main()
