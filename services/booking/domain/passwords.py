"""Password hashing with scrypt (a memory-hard KDF from the standard library)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

# n=2**14, r=8, p=1: ~16 MiB and tens of milliseconds per hash - OWASP's scrypt baseline.
_N, _R, _P = 2 ** 14, 8, 1


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verifying against this keeps "unknown email" as slow as "wrong password" (no user enumeration).
DUMMY_HASH = hash_password("not-a-real-password-0")
