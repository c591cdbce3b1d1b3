"""Encryption at rest: AES-256-GCM (or 128/192 by key length) with a key ring.

BIOMETRICS_ENCRYPTION_KEYS="kid:base64key[,kid2:base64key2]": the first key encrypts new
records, every listed key can decrypt; each record stores the id of its key, so keys rotate by
putting a new key first and keeping the old ones until no record needs them. The record id is
bound to the ciphertext as associated data, so a ciphertext moved to another record fails.
"""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.config import ConfigError


class KeyRing:
    def __init__(self, spec: str):
        self.keys: dict[str, AESGCM] = {}
        self.current = ""
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, b64 = part.partition(":")
            if not sep or not kid:
                raise ConfigError("BIOMETRICS_ENCRYPTION_KEYS entries must be kid:base64key")
            try:
                key = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"encryption key {kid} is not valid base64") from None
            if len(key) not in (16, 24, 32):
                raise ConfigError(f"encryption key {kid} must be 16, 24 or 32 bytes")
            self.keys[kid] = AESGCM(key)
            self.current = self.current or kid
        if not self.keys:
            raise ConfigError("BIOMETRICS_ENCRYPTION_KEYS names no key")

    def encrypt(self, plaintext: bytes, record_id: str) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext+tag)."""
        nonce = os.urandom(12)
        return self.current, nonce, self.keys[self.current].encrypt(nonce, plaintext, record_id.encode())

    def decrypt(self, kid: str, nonce: bytes, ciphertext: bytes, record_id: str) -> bytes:
        if kid not in self.keys:
            raise KeyError(f"encryption key {kid} is not configured")
        return self.keys[kid].decrypt(nonce, ciphertext, record_id.encode())
