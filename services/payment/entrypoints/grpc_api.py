"""PaymentService over gRPC: maps requests to use cases and their results to messages."""
from __future__ import annotations

import logging

from passport.v1 import payment_pb2, payment_pb2_grpc
from servicekit import log
from servicekit.errors import DomainError

from services.payment.adapters import proto
from services.payment.adapters.bank import BankClient
from services.payment.domain.billing import Billing
from services.payment.domain.statement import parse_csv
from services.payment.usecases.billing import Billings
from services.payment.adapters.repositories import ReconciliationRepository
from services.payment.usecases.reconciliation import reconcile, record_run
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements

logger = logging.getLogger("payment")


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, billings: Billings, settlements: Settlements, bank: BankClient, refunds: Refunds,
                 reconciliations: ReconciliationRepository):
        self.billings, self.settlements, self.bank, self.refunds = billings, settlements, bank, refunds
        self.reconciliations = reconciliations

    def _view(self, billing: Billing, fresh: bool = False) -> payment_pb2.Billing:
        """A billing just issued has no outcome and nothing owed back for it: its view reads nothing
        (the application's refunds are a query by a field the store scans for, on the booking's
        synchronous path; GetBilling lists them)."""
        status, paid_at = self.settlements.status(billing, fresh)
        refunds = [] if fresh else self.refunds.for_application(billing.application_id)
        return proto.billing_to_proto(billing, status, paid_at, refunds)

    def ListRefunds(self, request, context):
        views = self.refunds.list(request.office_id, request.status, request.limit)
        return payment_pb2.ListRefundsReply(refunds=[proto.refund_to_proto(v) for v in views])

    def MarkRefundPaidOut(self, request, context):
        return proto.refund_to_proto(self.refunds.mark_paid(request.billing_code, request.bank_reference,
                                                            request.refund_id, request.office_id, request.actor))

    def IssueBilling(self, request, context):
        billing, fresh = self.billings.issue_fresh(request.appointment_id, request.application_id,
                                                   request.account_id, request.office_id,
                                                   proto.fee_from_proto(request.fee), request.expires_at)
        return self._view(billing, fresh)

    def GetBilling(self, request, context):
        return self._view(self.billings.latest_for(request.application_id))

    def SettlePayment(self, request, context):
        outcome, billing = self.settlements.settle(request.billing_code, request.amount, request.paid_at,
                                                   request.bank_reference, request.source or "NOTIFICATION")
        return payment_pb2.SettlePaymentReply(outcome=outcome, billing=self._view(billing))

    def RecheckBilling(self, request, context):
        billing = self.billings.latest_for(request.application_id)
        if self.settlements.outcome_of(billing.code) is None:
            for p in self.bank.payments_for(billing.code):
                try:
                    self.settlements.settle(billing.code, p.get("amount"), p.get("paid_at", ""),
                                            str(p.get("bank_reference", "")), "RECHECK")
                except DomainError as err:  # recorded (mismatch, late) or unusable: status tells
                    log.event(logger, "recheck found an unusable payment", problem=err.problem)
        return self._view(billing)

    def Reconcile(self, request, context):
        # The caller is the signed identity the gateway verified (servicekit.grpcserver), not a field.
        caller = request.caller
        if caller.role != "SUPERVISOR" or not request.office_id or caller.office_id != request.office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office may reconcile its statements")
        lines = parse_csv(request.csv) if request.csv else proto.statement_lines_from_proto(request.lines)
        report = reconcile(self.settlements, lines, request.office_id, self.bank)
        statement = request.csv or proto.statement_csv(lines)
        record_run(self.reconciliations, self.settlements.clock, report, statement, request.office_id,
                   caller.account_id, caller.role)
        return proto.report_to_proto(report)
