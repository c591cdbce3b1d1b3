"""Staff TOTP secrets and used time steps, and the rehash of a password hash after a sign-in.

A secret is stored AES-GCM encrypted (TOTP_ENCRYPTION_KEYS="kid:base64key[,...]": the first key
encrypts, every listed key decrypts, so keys rotate by putting a new one first), bound to its account
id as associated data; it never appears in a log or a reply after enrolment. A used step is a keyed
insert `<account>:<step>`, atomic on FerretDB and MongoDB, so two replicas cannot both accept a code
(one small record per staff sign-in, looked up by `_id` only).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.config import ConfigError
from servicekit.mongo import insert_unique


def key_ring(spec: str) -> dict[str, AESGCM]:
    ring: dict[str, AESGCM] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        kid, sep, b64 = part.partition(":")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not sep or not kid or len(key) not in (16, 24, 32):
            raise ConfigError("TOTP_ENCRYPTION_KEYS entries must be kid:base64key (16, 24 or 32 bytes)")
        ring[kid] = AESGCM(key)
    if not ring:
        raise ConfigError("TOTP_ENCRYPTION_KEYS names no key")
    return ring


class SecondFactors:
    def __init__(self, db, keys: dict[str, AESGCM]):
        self.secrets, self.used, self.accounts = db["totp_secrets"], db["totp_used_steps"], db["accounts"]
        self.keys, self.current = keys, next(iter(keys))

    def _seal(self, account_id: str, secret: str) -> dict:
        nonce = os.urandom(12)
        return {"kid": self.current, "nonce": nonce,
                "ciphertext": self.keys[self.current].encrypt(nonce, secret.encode(), account_id.encode())}

    def _open(self, account_id: str, sealed: dict) -> str:
        if sealed["kid"] not in self.keys:
            raise ConfigError(f"TOTP key {sealed['kid']} is not configured")
        return self.keys[sealed["kid"]].decrypt(sealed["nonce"], sealed["ciphertext"], account_id.encode()).decode()

    def confirmed_secret(self, account_id: str) -> str | None:
        doc = self.secrets.find_one({"_id": account_id})
        return self._open(account_id, doc["confirmed"]) if doc and doc.get("confirmed") else None

    def pending_secret(self, account_id: str) -> str | None:
        doc = self.secrets.find_one({"_id": account_id})
        return self._open(account_id, doc["pending"]) if doc and doc.get("pending") else None

    def start(self, account_id: str, secret: str, at: dt.datetime) -> None:
        """A new pending secret (a second start replaces the first: only the last QR shown counts)."""
        self.secrets.update_one({"_id": account_id}, {"$set": {"pending": self._seal(account_id, secret),
                                                               "started_at": at}}, upsert=True)

    def confirm(self, account_id: str, secret: str, at: dt.datetime) -> None:
        self.secrets.update_one({"_id": account_id}, {"$set": {"confirmed": self._seal(account_id, secret),
                                                               "enrolled_at": at}, "$unset": {"pending": ""}})

    def remove(self, account_id: str) -> None:
        self.secrets.delete_one({"_id": account_id})

    def use_step(self, account_id: str, step: int, at: dt.datetime) -> bool:
        """False when this account's code of `step` was accepted before (a replay)."""
        return insert_unique(self.used, {"_id": f"{account_id}:{step}", "at": at})

    def rehash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        """Only if the hash is still the one verified (a password changed meanwhile wins)."""
        self.accounts.update_one({"_id": account_id, "password_hash": old_hash}, {"$set": {"password_hash": new_hash}})
