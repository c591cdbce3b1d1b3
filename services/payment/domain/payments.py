"""Bank payments: the shape a payment must have, and the records of money we could not apply
(a late payment, an amount that differs from the billing)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from servicekit.clock import parse_rfc3339
from servicekit.errors import DomainError, invalid

from services.payment.domain import billing_codes

SOURCES = ("NOTIFICATION", "RECHECK", "RECONCILIATION")
# How far ahead of our clock a bank's paid_at may be (clocks differ a little). A later one is refused:
# a far-future paid_at would otherwise read as "paid after the deadline" and expire a valid bill.
PAID_AT_SKEW = dt.timedelta(minutes=5)
_REFERENCE = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
REFERENCE_RULE = "bank_reference must be 1-64 characters of letters, digits and ._:/-"
CODE_RULE = "billing_code must be a valid 15-digit billing code"


def valid_reference(ref: str) -> bool:
    """A bank reference: 1-64 of letters, digits and ._:/- (never our own `refund:` key space)."""
    return bool(_REFERENCE.match(ref or "")) and not ref.startswith("refund:")


def validate(billing_code: str, amount: int, paid_at: str, bank_reference: str,
             now: dt.datetime | None = None, skew: dt.timedelta = PAID_AT_SKEW) -> dt.datetime:
    """Shape checks of a payment; returns paid_at parsed. Raises 422-kind errors. With `now`, a
    paid_at more than `skew` ahead of it is refused too."""
    errors = []
    if not billing_codes.is_valid(billing_code or ""):
        errors.append({"field": "billing_code", "message": CODE_RULE})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        errors.append({"field": "amount", "message": "amount must be a positive integer number of rupiah"})
    if not valid_reference(bank_reference or ""):
        errors.append({"field": "bank_reference", "message": REFERENCE_RULE})
    moment = None
    try:
        moment = parse_rfc3339(paid_at or "")
    except ValueError:
        errors.append({"field": "paid_at", "message": "paid_at must be an RFC 3339 timestamp with offset"})
    if moment is not None and now is not None and moment > now + skew:
        errors.append({"field": "paid_at", "message": f"paid_at is in the future (more than "
                                                      f"{int(skew.total_seconds() // 60)} minutes ahead of our clock)"})
    if errors:
        raise DomainError("invalid", "validation-error", "the payment is malformed", errors)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # the store keeps milliseconds


def validate_source(source: str) -> None:
    if source not in SOURCES:
        raise invalid(f"source must be one of {', '.join(SOURCES)}", "source")


def validate_payout(billing_code: str, bank_reference: str) -> None:
    """Shape checks of a refund payout (the transfer back has a bank reference like a payment)."""
    errors = []
    if not billing_codes.is_valid(billing_code or ""):
        errors.append({"field": "billing_code", "message": CODE_RULE})
    if not valid_reference(bank_reference or ""):
        errors.append({"field": "bank_reference", "message": REFERENCE_RULE})
    if errors:
        raise DomainError("invalid", "validation-error", "the payout is malformed", errors)


@dataclass(frozen=True)
class LatePayment:
    """A payment of a billing whose outcome was already EXPIRED; booking re-seats or refunds it."""
    bank_reference: str
    billing_code: str
    application_id: str
    office_id: str
    amount: int
    paid_at: dt.datetime
    recorded_at: dt.datetime


@dataclass(frozen=True)
class AmountMismatch:
    """A payment whose amount differs from its billing: never applied, refunded in full."""
    bank_reference: str
    billing_code: str
    expected: int
    received: int
    paid_at: dt.datetime
    recorded_at: dt.datetime
