"""gRPC messages <-> domain records of the payment service (the one place each is mapped)."""
from __future__ import annotations

from passport.v1 import common_pb2, payment_pb2
from servicekit.clock import rfc3339

from services.payment.domain.billing import CURRENCY, Billing, FeeParameters
from services.payment.domain.peer_facts import AppointmentCancelled, BookingAbandoned, LatePaymentResolved
from services.payment.domain.refund import RefundView


def fee_from_proto(fee: payment_pb2.FeeParameters) -> FeeParameters:
    return FeeParameters(passport_type=fee.passport_type, validity_years=fee.validity_years,
                         service_type=fee.service_type, express=fee.express)


def billing_to_proto(billing: Billing, status: str, paid_at=None,
                     refunds: list[RefundView] = ()) -> payment_pb2.Billing:
    return payment_pb2.Billing(
        paid_at=rfc3339(paid_at) if paid_at else "",
        billing_code=billing.code, application_id=billing.application_id, appointment_id=billing.appointment_id,
        amount=common_pb2.Money(amount=billing.amount, currency=billing.currency), status=status,
        expires_at=rfc3339(billing.expires_at),
        items=[payment_pb2.BillingItem(code=i.code, label=i.label, amount=i.amount) for i in billing.items],
        refunds=[refund_to_proto(v) for v in refunds])


def refund_to_proto(v: RefundView) -> payment_pb2.Refund:
    return payment_pb2.Refund(
        refund_id=v.refund_id, billing_code=v.billing_code, application_id=v.application_id,
        office_id=v.office_id, reason=v.reason, amount=common_pb2.Money(amount=v.amount, currency=CURRENCY),
        status=v.status, recorded_at=rfc3339(v.recorded_at),
        paid_out_at=rfc3339(v.paid_out_at) if v.paid_out_at else "", payout_reference=v.payout_reference)


def statement_lines_from_proto(lines) -> list[dict]:
    return [{"bank_reference": ln.bank_reference, "billing_code": ln.billing_code, "amount": ln.amount,
             "paid_at": ln.paid_at} for ln in lines]


def statement_csv(lines: list[dict]) -> str:
    """Lines sent as messages, written as the CSV they stand for (what the audit's SHA-256 is of)."""
    return "bank_reference,billing_code,amount,paid_at\n" + "".join(
        f"{ln['bank_reference']},{ln['billing_code']},{ln['amount']},{ln['paid_at']}\n" for ln in lines)


def report_to_proto(report: dict) -> payment_pb2.ReconcileReport:
    def items(kind):
        return [payment_pb2.ReconcileItem(line=payment_pb2.StatementLine(
            bank_reference=str(i["line"]["bank_reference"] or ""), billing_code=str(i["line"]["billing_code"] or ""),
            amount=i["line"]["amount"] if isinstance(i["line"]["amount"], int) else 0,
            paid_at=str(i["line"]["paid_at"] or "")), outcome=i["outcome"]) for i in report[kind]]

    return payment_pb2.ReconcileReport(matched=items("matched"), missing_ours=items("missing_ours"),
                                       missing_bank=items("missing_bank"), mismatched=items("mismatched"))


# -- booking's facts (booking.events) --------------------------------------------------------------
def cancelled_from_proto(msg) -> AppointmentCancelled:
    return AppointmentCancelled(application_id=msg.application_id, account_id=msg.account_id,
                                office_id=msg.office_id, appointment_id=msg.appointment_id, reason=msg.reason)


def late_resolved_from_proto(msg) -> LatePaymentResolved:
    return LatePaymentResolved(application_id=msg.application_id, billing_code=msg.billing_code,
                               outcome=msg.outcome)


def abandoned_from_proto(msg) -> BookingAbandoned:
    return BookingAbandoned(application_id=msg.application_id, account_id=msg.account_id,
                            office_id=msg.office_id, appointment_id=msg.appointment_id)
