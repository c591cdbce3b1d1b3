"""Payments: the bank's signed settlement notifications, the applicant's recheck, and the
supervisor's reconciliation of a bank statement."""
from __future__ import annotations

import hashlib
import hmac
import json

from flask import Blueprint, jsonify, request
from prometheus_client import Counter

from passport.v1 import payment_pb2
from servicekit.clock import parse_rfc3339
from servicekit.config import secret
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import Problem
from services.gateway.routes.applications import billing_json, billing_of
from services.gateway.validation import fields, json_body

bp = Blueprint("payments", __name__)
COLUMNS = ("bank_reference", "billing_code", "amount", "paid_at")

SIGNATURE_FAILURES = Counter("payment_signature_failures_total",
                             "Bank notifications refused for a bad or missing signature.", ["reason"])
MAX_NOTIFICATION_BYTES = 4096
MAX_STATEMENT_BYTES = 2 * 1024 * 1024


def sign(secret: str, body: bytes) -> str:
    """The X-Signature value for a raw body: sha256=<hex HMAC-SHA256>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


@bp.post("/v1/payments/notifications")
def bank_notification():
    body = request.get_data(cache=True)  # the raw bytes are what is verified
    header = request.headers.get("X-Signature")
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise Problem(413, "payload-too-large", f"a notification is at most {MAX_NOTIFICATION_BYTES} bytes")
    if not signature_valid(secret("BANK_CALLBACK_SECRET"), body, header):
        SIGNATURE_FAILURES.labels("missing" if not header else "invalid").inc()
        raise Problem(401, "invalid-signature",
                      "X-Signature must be sha256=<hex HMAC-SHA256 of the raw body> keyed by the shared secret")
    try:
        data = json.loads(body)
    except ValueError:
        raise Problem(400, "malformed-json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Problem(422, "validation-error", "the request body must be a JSON object")
    data = fields(data, {"billing_code": (str, True), "amount": (int, True), "paid_at": (str, True),
                         "bank_reference": (str, True)})
    _check_payment(data)
    reply = clients.call(clients.payment().SettlePayment, payment_pb2.SettlePaymentRequest(
        billing_code=data["billing_code"], amount=data["amount"], paid_at=data["paid_at"],
        bank_reference=data["bank_reference"], source="NOTIFICATION"))
    return jsonify({"outcome": reply.outcome, "billing_code": reply.billing.billing_code,
                    "status": reply.billing.status, "bank_reference": data["bank_reference"]})


def _check_payment(data: dict) -> None:
    errors = []
    code = data["billing_code"]
    if not (len(code) == 15 and code.isdigit()):
        errors.append({"field": "billing_code", "message": "billing_code must be 15 digits"})
    if data["amount"] <= 0:
        errors.append({"field": "amount", "message": "amount must be a positive number of rupiah"})
    try:
        parse_rfc3339(data["paid_at"])
    except ValueError:
        errors.append({"field": "paid_at", "message": "paid_at must be an RFC 3339 timestamp with offset"})
    if errors:
        raise Problem(422, "validation-error", "some fields are missing or invalid", errors)


@bp.post("/v1/applications/<application_id>/billing/recheck")
@auth.required("APPLICANT")
@idempotent
def recheck_billing(application_id: str):
    return jsonify(billing_json(billing_of(application_id, clients.payment().RecheckBilling)))


@bp.post("/v1/offices/<office_id>/reconciliations")
@auth.required("SUPERVISOR")
def reconcile_statement(office_id: str):
    auth.staff_of(office_id)
    raw = request.get_data(cache=True)
    if len(raw) > MAX_STATEMENT_BYTES:
        raise Problem(413, "payload-too-large", "a statement is at most 2 MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "validation-error", "the statement must be UTF-8 CSV") from None
    # The payment service parses the statement: its format is the payment domain's.
    report = clients.call(clients.payment().Reconcile, payment_pb2.ReconcileRequest(csv=text, office_id=office_id))

    def items(values):
        return [{**{c: getattr(i.line, c) for c in COLUMNS}, "outcome": i.outcome} for i in values]

    return jsonify({"matched": items(report.matched), "missing_ours": items(report.missing_ours),
                    "missing_bank": items(report.missing_bank), "mismatched": items(report.mismatched)})


def refund_json(r) -> dict:
    out = {"refund_id": r.refund_id, "billing_code": r.billing_code, "application_id": r.application_id,
           "reason": r.reason, "amount": r.amount.amount, "currency": r.amount.currency or "IDR",
           "status": r.status, "recorded_at": r.recorded_at}
    if r.paid_out_at:
        out["paid_out_at"] = r.paid_out_at
        out["payout_reference"] = r.payout_reference
    return out


@bp.get("/v1/offices/<office_id>/refunds")
@auth.required("SUPERVISOR")
def list_refunds(office_id: str):
    auth.staff_of(office_id)
    status = request.args.get("status", "")
    if status and status not in schema.REFUND_STATUSES:
        raise Problem(422, "validation-error", "status must be PENDING or PAID_OUT",
                      [{"field": "status", "message": "one of PENDING, PAID_OUT"}])
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= schema.REFUNDS_LIMIT_MAX:
        raise Problem(422, "validation-error", f"limit must be a whole number from 1 to {schema.REFUNDS_LIMIT_MAX}",
                      [{"field": "limit", "message": f"1..{schema.REFUNDS_LIMIT_MAX}"}])
    reply = clients.call(clients.payment().ListRefunds, payment_pb2.ListRefundsRequest(
        office_id=office_id, status=status, limit=int(limit)))
    return jsonify({"items": [refund_json(r) for r in reply.refunds]})


@bp.post("/v1/offices/<office_id>/refunds/<billing_code>/payout")
@auth.required("SUPERVISOR")
@idempotent
def pay_out_refund(office_id: str, billing_code: str):
    supervisor = auth.staff_of(office_id)
    data = fields(json_body(), {"bank_reference": (str, True), "refund_id": (str, False)})
    if not (len(billing_code) == 15 and billing_code.isdigit()):
        raise Problem(422, "validation-error", "billing_code must be 15 digits",
                      [{"field": "billing_code", "message": "15 digits"}])
    refund = clients.call(clients.payment().MarkRefundPaidOut, payment_pb2.MarkRefundPaidOutRequest(
        billing_code=billing_code, refund_id=data["refund_id"] or "", bank_reference=data["bank_reference"],
        office_id=office_id, actor=supervisor.account_id))
    return jsonify(refund_json(refund))


openapi.SCHEMAS.update({
    "Refund": openapi.obj(["refund_id", "billing_code", "reason", "amount", "status", "recorded_at"],
                          refund_id=openapi.S, billing_code=openapi.S, application_id=openapi.S,
                          reason=openapi.enum(schema.REFUND_REASONS), amount=openapi.I,
                          currency=openapi.S, status=openapi.enum(schema.REFUND_STATUSES), recorded_at=openapi.S,
                          paid_out_at=openapi.S, payout_reference=openapi.S),
    "RefundPayout": openapi.obj(["bank_reference"], bank_reference=openapi.BANK_REFERENCE, refund_id=openapi.S),
    "Reconciliation": openapi.obj(**{k: {"type": "array", "items": openapi.obj(
        bank_reference=openapi.S, billing_code=openapi.S, amount=openapi.I, paid_at=openapi.S, outcome=openapi.S)}
        for k in ("matched", "missing_ours", "missing_bank", "mismatched")}),
    "BankNotification": openapi.obj(["billing_code", "amount", "paid_at", "bank_reference"],
                                    billing_code={"type": "string", "pattern": "^[0-9]{15}$"},
                                    amount={"type": "integer", "minimum": 1}, paid_at=openapi.DATE_TIME,
                                    bank_reference=openapi.BANK_REFERENCE),
    "NotificationResult": openapi.obj(outcome=openapi.enum(schema.SETTLEMENT_OUTCOMES), billing_code=openapi.S,
                                      status=openapi.S, bank_reference=openapi.S),
    "BillingStatus": openapi.obj(status=openapi.enum(schema.BILLING_STATUSES), billing_code=openapi.S,
                                 expires_at=openapi.S, paid_at=openapi.S,
                                 refunds={"type": "array", "items": {"$ref": "#/components/schemas/Refund"}}),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/payments/notifications",
     "Bank settlement notification; header X-Signature: sha256=<hex HMAC-SHA256 of the raw body>",
     "Payment", None, "BankNotification",
     {200: "NotificationResult", 401: "invalid-signature (nothing recorded)",
      409: "bank-reference-reused with a different payment",
      422: "validation-error, unknown-billing-code, amount-mismatch or billing-expired (recorded)"}),
    ("post", "/v1/applications/{application_id}/billing/recheck", "Ask the bank again (\"I have paid\")",
     "Payment", "APPLICANT", None, {200: "Billing", 404: "no such application (or not yours)",
                                    409: "no-billing-yet (no appointment booked)", 503: "bank-unavailable"}),
    ("post", "/v1/offices/{office_id}/reconciliations",
     "Reconcile a bank statement (text/csv: bank_reference,billing_code,amount,paid_at)", "Payment",
     "SUPERVISOR", None, {200: "Reconciliation", 413: "a statement is at most 2 MB", 422: "not UTF-8 CSV"}),
    ("get", "/v1/offices/{office_id}/refunds", "Refunds of the office (?status=PENDING|PAID_OUT&limit=)",
     "Payment", "SUPERVISOR", None, {200: "items: Refund[]", 422: "validation-error"}),
    ("post", "/v1/offices/{office_id}/refunds/{billing_code}/payout",
     "Record that a refund was paid out (audited; idempotent per refund and bank_reference)", "Payment",
     "SUPERVISOR", "RefundPayout",
     {200: "Refund", 404: "refund-not-found", 409: "refund-already-paid-out",
      422: "validation-error or refund-id-required"}),
])
openapi.EXTRAS.update({
    ("post", "/v1/payments/notifications"): {"headers": [openapi.header(
        "X-Signature", {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}, required=True,
        description="sha256=<hex HMAC-SHA256 of the raw body> keyed by the shared secret")],
        "also": (400, 413)},
    ("post", "/v1/offices/{office_id}/refunds/{billing_code}/payout"): {"path": {
        "billing_code": {"type": "string", "pattern": "^[0-9]{15}$"}}},
    ("post", "/v1/offices/{office_id}/reconciliations"): {"content": "text/csv", "schema": {"type": "string"}},
    ("get", "/v1/offices/{office_id}/refunds"): {"query": [
        openapi.query("status", openapi.enum(schema.REFUND_STATUSES)),
        openapi.query("limit", {"type": "integer", "minimum": 1, "maximum": schema.REFUNDS_LIMIT_MAX})]},
})
