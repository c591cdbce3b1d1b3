"""TOTP second factor of staff (RFC 6238: 6 digits, 30-second steps, SHA-1 as every authenticator app
reads it). A code is matched to its time step - one step either side for a phone's clock drift - and
the caller refuses a step already used, so the same code cannot be replayed within its window."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
ISSUER = "Imigrasi Passport"
MODES = ("required", "optional")


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters = 160 bits, RFC 4226's recommended length


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step whose code `code` is (now, or one step either side), or None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp, current = pyotp.TOTP(secret), int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):  # every step compared: no timing hint
            found = step if found is None else found
    return found


def mode_of(raw: str) -> str:
    """`required` (production: staff cannot sign in until enrolled) or `optional` (local stack)."""
    value = (raw or "required").strip().lower()
    if value not in MODES:
        raise ValueError(f"STAFF_TOTP must be one of {MODES}, got {raw!r}")
    return value


# -- recovery codes ---------------------------------------------------------------------------
# Ten one-time codes shown once at enrolment, for a lost or broken phone: 12 characters of a
# 32-symbol alphabet (60 bits, so a stored SHA-256 cannot be searched offline in any useful time),
# written XXXX-XXXX-XXXX; without 0/O, 1/I/L so they can be read off paper.
RECOVERY_COUNT = 10
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789" + "X"  # 32 symbols
RECOVERY_LENGTH = 12


def new_recovery_codes(count: int = RECOVERY_COUNT) -> list[str]:
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH)) for _ in range(count)]
    return ["-".join(c[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in codes]


def recovery_form(code: str) -> str | None:
    """The code as stored (upper case, no separators), or None if it cannot be a recovery code."""
    plain = (code or "").upper().replace("-", "").replace(" ", "")
    if len(plain) != RECOVERY_LENGTH or any(ch not in RECOVERY_ALPHABET for ch in plain):
        return None
    return plain


def recovery_digest(account_id: str, code: str) -> str:
    """What is stored of a recovery code: bound to its account, so equal codes never collide."""
    return hashlib.sha256(f"{account_id}:{recovery_form(code) or ''}".encode()).hexdigest()
