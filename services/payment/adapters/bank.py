"""The bank adapter: asks the bank which payments it holds for a billing code.

Bank status API (implemented locally by deploy/local/bank_simulator.py):
    GET {BANK_API_URL}/v1/billings/{billing_code}/payments
    -> 200 {"billing_code": "...", "payments": [{"bank_reference", "amount", "paid_at"}]}
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from servicekit.errors import DomainError


class BankClient:
    def __init__(self, base_url: str, timeout_s: float = 3.0):
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s

    def payments_for(self, billing_code: str) -> list[dict]:
        if not self.base_url:
            raise DomainError("unavailable", "bank-unavailable", "no bank adapter is configured (BANK_API_URL)")
        url = f"{self.base_url}/v1/billings/{urllib.parse.quote(billing_code)}/payments"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                body = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DomainError("unavailable", "bank-unavailable",
                              "the bank cannot be asked right now; please retry shortly") from exc
        payments = body.get("payments") if isinstance(body, dict) else None
        if not isinstance(payments, list):
            raise DomainError("unavailable", "bank-unavailable", "the bank answered something unexpected")
        return [p for p in payments if isinstance(p, dict)]
