"""Store documents <-> domain records: one mapping per record, the documents' shape unchanged
(the collections hold data written before this layout, and the integration tests read them)."""
from __future__ import annotations

from services.payment.domain.billing import SETTLED, Billing, BillingItem, Claim, FeeParameters, Outcome, Payment
from services.payment.domain.payments import AmountMismatch, LatePayment
from services.payment.domain.refund import PAID_OUT, PENDING, Cancellation, Payout, Refund


# -- billings, claims ----------------------------------------------------------------------------
def billing_to_doc(b: Billing) -> dict:
    doc = {"_id": b.code, "appointment_id": b.appointment_id, "application_id": b.application_id,
           "account_id": b.account_id, "office_id": b.office_id,
           "items": [{"code": i.code, "label": i.label, "amount": i.amount} for i in b.items],
           "amount": b.amount, "currency": b.currency, "issued_at": b.issued_at, "expires_at": b.expires_at}
    if b.fee is not None:
        doc["fee"] = {"passport_type": b.fee.passport_type, "validity_years": b.fee.validity_years,
                      "service_type": b.fee.service_type, "express": b.fee.express}
    return doc


def billing_from_doc(doc: dict) -> Billing:
    fee = doc.get("fee")
    return Billing(
        code=doc["_id"], appointment_id=doc["appointment_id"], application_id=doc["application_id"],
        account_id=doc["account_id"], office_id=doc["office_id"],
        items=tuple(BillingItem(code=i["code"], label=i["label"], amount=i["amount"]) for i in doc["items"]),
        amount=doc["amount"], currency=doc["currency"], issued_at=doc.get("issued_at"),
        expires_at=doc["expires_at"],
        fee=FeeParameters(passport_type=fee.get("passport_type", ""), validity_years=fee.get("validity_years", 0),
                          service_type=fee.get("service_type", ""), express=fee.get("express", False))
        if fee else None)


def claim_from_doc(doc: dict) -> Claim:
    return Claim(appointment_id=doc["_id"], code=doc.get("code"))


# -- outcomes, payments, and money not applied ---------------------------------------------------
def outcome_to_doc(o: Outcome) -> dict:
    doc = {"_id": o.billing_code, "kind": o.kind, "application_id": o.application_id, "office_id": o.office_id}
    if o.kind == SETTLED:
        doc.update(bank_reference=o.bank_reference, amount=o.amount, paid_at=o.paid_at)
    else:
        doc.update(expired_at=o.expired_at)
    doc["decided_at"] = o.decided_at
    if o.void_reason:
        doc.update(voided=True, void_reason=o.void_reason)
    return doc


def outcome_from_doc(doc: dict) -> Outcome:
    return Outcome(billing_code=doc["_id"], kind=doc["kind"], application_id=doc.get("application_id", ""),
                   office_id=doc.get("office_id", ""), decided_at=doc.get("decided_at"),
                   bank_reference=doc.get("bank_reference", ""), amount=doc.get("amount", 0),
                   paid_at=doc.get("paid_at"), expired_at=doc.get("expired_at"),
                   void_reason=doc.get("void_reason") or "")


def payment_to_doc(p: Payment) -> dict:
    return {"_id": p.bank_reference, "billing_code": p.billing_code, "amount": p.amount, "paid_at": p.paid_at,
            "office_id": p.office_id, "received_at": p.received_at, "source": p.source}


def payment_from_doc(doc: dict) -> Payment:
    return Payment(bank_reference=doc["_id"], billing_code=doc["billing_code"], amount=doc["amount"],
                   paid_at=doc["paid_at"], office_id=doc.get("office_id", ""), received_at=doc.get("received_at"),
                   source=doc.get("source", ""))


def late_payment_to_doc(late: LatePayment) -> dict:
    return {"_id": late.bank_reference, "billing_code": late.billing_code, "application_id": late.application_id,
            "office_id": late.office_id, "amount": late.amount, "paid_at": late.paid_at, "at": late.recorded_at}


def late_payment_from_doc(doc: dict) -> LatePayment:
    return LatePayment(bank_reference=doc["_id"], billing_code=doc["billing_code"],
                       application_id=doc["application_id"], office_id=doc["office_id"], amount=doc["amount"],
                       paid_at=doc["paid_at"], recorded_at=doc["at"])


def mismatch_to_doc(m: AmountMismatch) -> dict:
    return {"_id": m.bank_reference, "billing_code": m.billing_code, "expected": m.expected,
            "received": m.received, "paid_at": m.paid_at, "at": m.recorded_at}


# -- refunds, payouts, cancellations -------------------------------------------------------------
def refund_to_doc(r: Refund) -> dict:
    doc = {"_id": r.refund_id, "billing_code": r.billing_code, "application_id": r.application_id,
           "account_id": r.account_id, "office_id": r.office_id, "amount": r.amount, "reason": r.reason,
           "status": PENDING, "at": r.recorded_at}  # status: as recorded; the payout is its own record
    for optional in ("appointment_id", "paid_at", "cancellation"):
        if getattr(r, optional) is not None:
            doc[optional] = getattr(r, optional)
    return doc


def refund_from_doc(doc: dict) -> Refund:
    return Refund(refund_id=doc["_id"], billing_code=doc["billing_code"], application_id=doc["application_id"],
                  office_id=doc["office_id"], account_id=doc.get("account_id", ""), reason=doc["reason"],
                  amount=doc["amount"], recorded_at=doc["at"], appointment_id=doc.get("appointment_id"),
                  paid_at=doc.get("paid_at"), cancellation=doc.get("cancellation"))


def payout_to_doc(p: Payout) -> dict:
    return {"_id": p.payout_id, "refund_id": p.refund_id, "billing_code": p.billing_code,
            "application_id": p.application_id, "office_id": p.office_id, "reason": p.reason, "amount": p.amount,
            "status": PAID_OUT, "bank_reference": p.bank_reference, "actor": p.actor, "paid_out_at": p.paid_out_at}


def payout_from_doc(doc: dict) -> Payout:
    return Payout(refund_id=doc["refund_id"], billing_code=doc["billing_code"],
                  application_id=doc["application_id"], office_id=doc["office_id"], reason=doc["reason"],
                  amount=doc["amount"], bank_reference=doc["bank_reference"], actor=doc["actor"],
                  paid_out_at=doc["paid_out_at"])


def cancellation_to_doc(c: Cancellation) -> dict:
    return {"_id": c.appointment_id, "billing_code": c.billing_code, "reason": c.reason,
            "application_id": c.application_id, "event_id": c.event_id, "at": c.at}


def cancellation_from_doc(doc: dict) -> Cancellation:
    return Cancellation(appointment_id=doc["_id"], billing_code=doc["billing_code"], reason=doc["reason"],
                        application_id=doc["application_id"], event_id=doc.get("event_id", ""), at=doc["at"])
