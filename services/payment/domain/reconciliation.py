"""Where a bank statement line lands in a reconciliation report."""
from __future__ import annotations

BUCKETS = ("matched", "missing_ours", "missing_bank", "mismatched")
DIFFERENCES = ("missing_ours", "missing_bank", "mismatched")
# Problems of a line we never recorded that mean the money cannot be applied as the bank says.
_UNAPPLICABLE = ("validation-error", "unknown-billing-code", "bank-reference-reused", "billing-void")
# Outcomes of a recorded payment whose money went back (refunded in full): the supervisor follows up.
_REFUNDED = ("AMOUNT_MISMATCH", "VOID")


def empty_report() -> dict:
    return {bucket: [] for bucket in BUCKETS}


def bucket_of_refusal(problem: str) -> str:
    """A line we missed whose settlement was refused: money we cannot apply is a mismatch; a late
    or mismatched payment is still recorded now, so it counts as missed by us."""
    return "mismatched" if problem in _UNAPPLICABLE else "missing_ours"


def bucket_of_outcome(outcome: str) -> str:
    return "mismatched" if outcome in _REFUNDED else "matched"
