"""Payment metrics. Labels are bounded (office ids, kinds); never billing codes or references."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

BILLINGS_ISSUED = Counter("payment_billings_issued_total", "Billings issued.", ["office_id", "passport_type"])
BILLINGS_PAID = Counter("payment_billings_paid_total", "Billings settled (once per billing).",
                        ["office_id", "passport_type"])
BILLINGS_EXPIRED = Counter("payment_billings_expired_total", "Billings expired unpaid (once per billing).",
                           ["office_id", "passport_type"])
BILLINGS_VOIDED = Counter("payment_billings_voided_total",
                          "Billings voided because their booking never completed (once per billing).", ["office_id"])
REFUNDS = Counter("payment_refunds_total", "Refund records: recorded (PENDING) and paid out (PAID_OUT).",
                  ["reason", "status"])  # reason: OVERPAYMENT|OFFICE_CANCELLED
PAYMENTS = Counter("payment_payments_total", "Bank payments received, by source and outcome.",
                   ["source", "outcome"])  # outcome: SETTLED|OVERPAYMENT|LATE|VOID|AMOUNT_MISMATCH|UNKNOWN_BILLING
SETTLEMENT_LATENCY = Histogram(
    "payment_settlement_latency_seconds", "From the bank's paid_at to our settlement decision.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600))
RECONCILIATION_MISMATCHES = Counter(
    "payment_reconciliation_mismatches_total", "Statement lines that did not match our records.",
    ["kind"])  # kind: missing_ours|missing_bank|mismatched
BANK_CONFIRMATIONS = Counter(
    "payment_bank_confirmations_total", "Answers of the bank's status API to a reconciliation line.",
    ["result"])  # result: paid|unknown|other|unavailable
