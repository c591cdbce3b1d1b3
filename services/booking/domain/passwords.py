"""Password hashing with scrypt (a memory-hard KDF from the standard library).

The cost is OWASP's (Password Storage Cheat Sheet): N=2^15, r=8, p=3 by default - one of its
equivalent scrypt settings (with N=2^17/p=1, N=2^16/p=2, ...), chosen because each in-flight hash
holds 128*r*N bytes: 32 MiB here, so 16 gRPC threads hashing at once stay within 512 MiB, where
N=2^17 would need 2 GiB. `configure` (PASSWORD_SCRYPT_N/R/P, read by the booking service at start)
sets it; every hash records its own parameters, so older hashes still verify and are rehashed at
the configured cost on the next sign-in (`needs_rehash`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

# OWASP's equivalent scrypt settings (N, p) with r=8.
OWASP_SETTINGS = ((2 ** 17, 1), (2 ** 16, 2), (2 ** 15, 3), (2 ** 14, 5), (2 ** 13, 10))
OWASP = (2 ** 15, 8, 3)
_cost = list(OWASP)
# The dummy hash of an unknown email is verified at whatever cost is configured then (its "0"
# parameters mean "current"), so "unknown email" stays as slow as "wrong password".
DUMMY_HASH = "scrypt$0$0$0$" + base64.b64encode(b"dummy-salt-00000").decode() + "$" + base64.b64encode(bytes(32)).decode()


_HASHING = threading.BoundedSemaphore(4)


def configure(n: int, r: int, p: int, concurrency: int = 4) -> None:
    global _HASHING
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or concurrency < 1:
        raise ValueError("scrypt needs N a power of two > 1, r >= 1, p >= 1, and a concurrency >= 1")
    _cost[:] = [n, r, p]
    _HASHING = threading.BoundedSemaphore(concurrency)


def cost() -> tuple[int, int, int]:
    return tuple(_cost)


def below_owasp() -> bool:
    n, r, p = _cost
    return not any(n >= min_n and r >= 8 and p >= min_p for min_n, min_p in OWASP_SETTINGS)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = 32) -> bytes:
    # maxmem: OpenSSL refuses above 32 MiB by default; allow the configured cost with room. At most
    # _HASHING hashes at once per process: more would not be faster on the pod's cores, only bigger.
    with _HASHING:
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * r * n + 2 ** 20)


def hash_password(password: str) -> str:
    n, r, p = _cost
    salt = os.urandom(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt, digest = stored.split("$")
        n, r, p = (int(n), int(r), int(p)) if n != "0" else _cost
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), n, r, p, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected) and stored != DUMMY_HASH


def needs_rehash(stored: str) -> bool:
    """A hash made at another cost than the configured one (older, or from a lower-cost test stack)."""
    try:
        _scheme, n, r, p, _salt, _digest = stored.split("$")
        return (int(n), int(r), int(p)) != tuple(_cost)
    except ValueError:
        return True
