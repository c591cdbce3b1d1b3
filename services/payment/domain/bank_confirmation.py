"""What the bank's signed status answer says of one payment, and whether a statement line may be
settled on it. A reconciliation file is the supervisor's word; only the bank's own answer settles."""
from __future__ import annotations

from dataclasses import dataclass

# Why a statement line we had not recorded was not settled (its outcome in the report).
UNKNOWN_REFERENCE = "bank-unknown-reference"   # the bank has no payment under this reference
AMOUNT_MISMATCH = "bank-amount-mismatch"       # the bank's payment is for another billing or amount
NOT_PAID = "bank-not-paid"                     # the bank knows it but it is not (or no longer) paid
UNAVAILABLE = "bank-unavailable"               # no trusted answer (down, slow, unsigned): upload again later
REFUSALS = (UNKNOWN_REFERENCE, AMOUNT_MISMATCH, NOT_PAID, UNAVAILABLE)


@dataclass(frozen=True)
class BankConfirmation:
    bank_reference: str
    billing_code: str
    amount: int
    status: str      # PAID, or what else the bank says (UNKNOWN when it has no such payment)
    paid_at: str     # RFC 3339, the bank's

    @property
    def known(self) -> bool:
        return self.status != "UNKNOWN"


def refusal(line: dict, confirmation: BankConfirmation) -> str | None:
    """None when the bank confirms this line's payment exactly (same code and amount, paid)."""
    if not confirmation.known:
        return UNKNOWN_REFERENCE
    if confirmation.billing_code != line["billing_code"] or confirmation.amount != line["amount"]:
        return AMOUNT_MISMATCH
    if confirmation.status != "PAID":
        return NOT_PAID
    return None
