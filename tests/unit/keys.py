"""Test keys for the booking service's sealed fields and lookup hashes (never used outside tests)."""
from __future__ import annotations

import base64

from servicekit.crypto import KeyRing, LookupKeys

RING_1 = "k1:" + base64.b64encode(b"a" * 32).decode()
RING_2 = "k2:" + base64.b64encode(b"b" * 32).decode()
LOOKUP_1 = "h1:" + base64.b64encode(b"c" * 32).decode()
LOOKUP_2 = "h2:" + base64.b64encode(b"d" * 32).decode()


def ring(spec: str = RING_1) -> KeyRing:
    return KeyRing(spec)


def lookup(spec: str = LOOKUP_1) -> LookupKeys:
    return LookupKeys(spec)
