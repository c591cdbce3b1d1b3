"""15-digit billing codes: 14 random digits from a CSPRNG plus a Luhn check digit, so codes are
not guessable in sequence and a mistyped digit is caught before it reaches us."""
from __future__ import annotations

import secrets


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_code() -> str:
    body = str(secrets.randbelow(9 * 10 ** 13) + 10 ** 13)  # 14 digits, no leading zero
    return body + luhn_digit(body)


def is_valid(code: str) -> bool:
    return len(code) == 15 and code.isdigit() and luhn_digit(code[:-1]) == code[-1]
