"""Verification of the bank's notification signature (HMAC-SHA256 over the raw body)."""
from __future__ import annotations

import hashlib
import hmac

from deploy.local import bank_simulator
from services.gateway.routes.payments import sign, signature_valid

SECRET = "s3cret"
BODY = b'{"billing_code":"123456789012345","amount":950000}'


def test_signature_of_the_raw_body_is_accepted():
    header = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == header
    assert signature_valid(SECRET, BODY, header)
    assert signature_valid(SECRET, BODY, header + "\n")  # header whitespace is not part of it


def test_simulator_signs_like_the_gateway_verifies():
    assert signature_valid(SECRET, BODY, bank_simulator.sign(SECRET, BODY))


def test_forged_missing_or_altered_signatures_are_refused():
    good = sign(SECRET, BODY)
    assert not signature_valid(SECRET, BODY, None)
    assert not signature_valid(SECRET, BODY, "")
    assert not signature_valid(SECRET, BODY, sign("other-secret", BODY))
    assert not signature_valid(SECRET, BODY.replace(b"950000", b"950001"), good)  # altered body
    assert not signature_valid(SECRET, BODY + b" ", good)  # re-serialised body
    assert not signature_valid(SECRET, BODY, good[len("sha256="):])  # without the scheme
    assert not signature_valid(SECRET, BODY, good.upper())
    assert not signature_valid("", BODY, sign("", BODY))  # no secret configured: refuse everything
