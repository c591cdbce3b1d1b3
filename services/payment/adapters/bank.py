"""The bank adapter: asks the bank which payments it holds for a billing code, and confirms one
payment by its reference (signed answer) before a reconciliation line is settled.

Bank status API (implemented locally by deploy/local/bank_simulator.py):
    GET {BANK_API_URL}/v1/billings/{billing_code}/payments
    -> 200 {"billing_code": "...", "payments": [{"bank_reference", "amount", "paid_at"}]}
    GET {BANK_API_URL}/v1/payments/{bank_reference}
    -> 200 {"bank_reference", "billing_code", "amount", "status": "PAID", "paid_at"}
       404 {"bank_reference", "status": "UNKNOWN"}
       both with X-Signature: sha256=<hex HMAC-SHA256(BANK_CALLBACK_SECRET, raw body)>
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request

from servicekit.errors import DomainError

from services.payment import metrics
from services.payment.domain.bank_confirmation import BankConfirmation


def _unavailable(detail: str) -> DomainError:
    return DomainError("unavailable", "bank-unavailable", detail)


class BankClient:
    def __init__(self, base_url: str, timeout_s: float = 3.0, secret: str = ""):
        self.base_url, self.timeout_s, self.secret = base_url.rstrip("/"), timeout_s, secret

    def payments_for(self, billing_code: str) -> list[dict]:
        if not self.base_url:
            raise _unavailable("no bank adapter is configured (BANK_API_URL)")
        url = f"{self.base_url}/v1/billings/{urllib.parse.quote(billing_code)}/payments"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                body = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _unavailable("the bank cannot be asked right now; please retry shortly") from exc
        payments = body.get("payments") if isinstance(body, dict) else None
        if not isinstance(payments, list):
            raise _unavailable("the bank answered something unexpected")
        return [p for p in payments if isinstance(p, dict)]

    def confirm(self, bank_reference: str) -> BankConfirmation:
        """The bank's own word on one payment; DomainError bank-unavailable when there is no answer
        we can trust (not configured, down, past the timeout, unsigned or about another reference)."""
        try:
            confirmation = self._confirm(bank_reference)
        except DomainError:
            metrics.BANK_CONFIRMATIONS.labels("unavailable").inc()
            raise
        metrics.BANK_CONFIRMATIONS.labels("paid" if confirmation.status == "PAID" else
                                          "unknown" if not confirmation.known else "other").inc()
        return confirmation

    def _confirm(self, bank_reference: str) -> BankConfirmation:
        if not self.base_url or not self.secret:
            raise _unavailable("no bank status API is configured (BANK_API_URL, BANK_CALLBACK_SECRET)")
        url = f"{self.base_url}/v1/payments/{urllib.parse.quote(bank_reference, safe='')}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                raw, signature = resp.read(), resp.headers.get("X-Signature", "")
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise _unavailable(f"the bank answered {err.code}") from None
            raw, signature = err.read(), err.headers.get("X-Signature", "")
        except (urllib.error.URLError, OSError) as exc:
            raise _unavailable("the bank cannot be asked right now; please retry shortly") from exc
        expected = "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise _unavailable("the bank's answer is not signed with the shared secret")
        try:
            body = json.loads(raw)
        except ValueError:
            raise _unavailable("the bank answered something unexpected") from None
        # A signed answer about another payment (replayed) says nothing about this one.
        if not isinstance(body, dict) or body.get("bank_reference") != bank_reference:
            raise _unavailable("the bank's answer is about another payment")
        amount = body.get("amount", 0)
        return BankConfirmation(bank_reference=bank_reference, billing_code=str(body.get("billing_code") or ""),
                                amount=amount if isinstance(amount, int) else 0,
                                status=str(body.get("status") or "UNKNOWN"), paid_at=str(body.get("paid_at") or ""))
