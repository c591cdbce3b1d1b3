"""The payment service as booking uses it: issue the billing of a held seat."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import grpc

from passport.v1 import payment_pb2
from servicekit.clock import rfc3339


class PaymentUnavailable(Exception):
    """The billing could not be issued (it may exist all the same: issued, answer lost)."""


@dataclass(frozen=True)
class Billing:
    status: str
    billing_code: str
    amount: int
    currency: str
    expires_at: str


class PaymentClient:
    def __init__(self, stub):
        self.stub = stub  # passport.v1.PaymentService (or a fake with IssueBilling)

    def issue_billing(self, hold_id: str, header: dict, pay_before: dt.datetime) -> Billing:
        try:
            billing = self.stub.IssueBilling(payment_pb2.IssueBillingRequest(
                appointment_id=hold_id, application_id=header["_id"],
                account_id=header["account_id"], office_id=header["office_id"],
                fee=payment_pb2.FeeParameters(passport_type=header["passport_type"],
                                              validity_years=header["validity_years"],
                                              service_type=header["service_type"], express=header["express"]),
                expires_at=rfc3339(pay_before)))
        except grpc.RpcError as exc:
            raise PaymentUnavailable() from exc
        return Billing(status=billing.status, billing_code=billing.billing_code, amount=billing.amount.amount,
                       currency=billing.amount.currency, expires_at=billing.expires_at)
