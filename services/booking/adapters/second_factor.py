"""Staff TOTP secrets and used time steps, and the rehash of a password hash after a sign-in.

A secret is stored AES-GCM encrypted (TOTP_ENCRYPTION_KEYS="kid:base64key[,...]": the first key
encrypts, every listed key decrypts, so keys rotate by putting a new one first), bound to its account
id as associated data; it never appears in a log or a reply after enrolment. A used step is a keyed
insert `<account>:<step>`, atomic on FerretDB and MongoDB, so two replicas cannot both accept a code
(one small record per staff sign-in, looked up by `_id` only). Recovery codes are stored as SHA-256
digests only, one record each `<account>:<digest>`; a code is used by deleting its record, which
one caller alone can do, so a code signs in once.
"""
from __future__ import annotations

import datetime as dt

from servicekit.crypto import KeyRing
from servicekit.mongo import insert_unique, upsert


class SecondFactors:
    def __init__(self, db, ring: KeyRing):
        self.secrets, self.used, self.accounts = db["totp_secrets"], db["totp_used_steps"], db["accounts"]
        self.recovery = db["totp_recovery_codes"]
        self.ring = ring

    def _seal(self, account_id: str, secret: str) -> dict:
        return self.ring.seal(secret.encode(), account_id)

    def _open(self, account_id: str, sealed: dict) -> str:
        return self.ring.open(sealed, account_id).decode()

    def confirmed_secret(self, account_id: str) -> str | None:
        doc = self.secrets.find_one({"_id": account_id})
        return self._open(account_id, doc["confirmed"]) if doc and doc.get("confirmed") else None

    def pending_secret(self, account_id: str) -> str | None:
        doc = self.secrets.find_one({"_id": account_id})
        return self._open(account_id, doc["pending"]) if doc and doc.get("pending") else None

    def start(self, account_id: str, secret: str, at: dt.datetime) -> None:
        """A new pending secret (a second start replaces the first: only the last QR shown counts)."""
        upsert(self.secrets, {"_id": account_id}, {"$set": {"pending": self._seal(account_id, secret), "started_at": at}})

    def confirm(self, account_id: str, secret: str, at: dt.datetime) -> None:
        self.secrets.update_one({"_id": account_id}, {"$set": {"confirmed": self._seal(account_id, secret),
                                                               "enrolled_at": at}, "$unset": {"pending": ""}})

    def remove(self, account_id: str) -> None:
        """The secret and its recovery codes go together (a reset: the officer enrols again)."""
        self.secrets.delete_one({"_id": account_id})
        self.recovery.delete_many({"account_id": account_id})

    def ensure_indexes(self) -> None:
        self.recovery.create_index("account_id")

    def replace_recovery_codes(self, account_id: str, digests: list[str], at: dt.datetime) -> None:
        self.recovery.delete_many({"account_id": account_id})
        for d in digests:
            self.recovery.insert_one({"_id": f"{account_id}:{d}", "account_id": account_id, "created_at": at})

    def use_recovery_code(self, account_id: str, digest: str) -> bool:
        """True once per code: whoever deletes its record used it."""
        return self.recovery.delete_one({"_id": f"{account_id}:{digest}"}).deleted_count == 1

    def recovery_codes_left(self, account_id: str) -> int:
        return self.recovery.count_documents({"account_id": account_id})

    def use_step(self, account_id: str, step: int, at: dt.datetime) -> bool:
        """False when this account's code of `step` was accepted before (a replay)."""
        return insert_unique(self.used, {"_id": f"{account_id}:{step}", "at": at})

    def rehash(self, account_id: str, old_hash: str, new_hash: str) -> None:
        """Only if the hash is still the one verified (a password changed meanwhile wins)."""
        self.accounts.update_one({"_id": account_id, "password_hash": old_hash}, {"$set": {"password_hash": new_hash}})
