"""TOTP second factor of staff (RFC 6238: 6 digits, 30-second steps, SHA-1 as every authenticator app
reads it). A code is matched to its time step - one step either side for a phone's clock drift - and
the caller refuses a step already used, so the same code cannot be replayed within its window."""
from __future__ import annotations

import datetime as dt
import hmac

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
