"""Personal data at rest: an AES-GCM key ring for sealed values, an HMAC key ring for lookup
fields, and the re-encryption pass behind every service's key-rotation command.

Key rings come from a secret "kid:base64key[,kid2:base64key2]": the first key is current (it
seals and hashes new records), every listed key still opens old ones; each record stores the id
of its key, so a key rotates by putting a new key first, running the rotation command, and
dropping the old key once the command reports nothing left under it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Callable

from bson.binary import Binary
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.config import ConfigError, secret


def _parse(spec: str, name: str, sizes: tuple[int, ...]) -> list[tuple[str, bytes]]:
    keys = []
    for part in (p.strip() for p in (spec or "").split(",") if p.strip()):
        kid, sep, b64 = part.partition(":")
        if not sep or not kid:
            raise ConfigError(f"{name} entries must be kid:base64key")
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{name}: key {kid} is not valid base64") from None
        if len(key) not in sizes:
            raise ConfigError(f"{name}: key {kid} must be {' or '.join(map(str, sizes))} bytes")
        if kid in (k for k, _ in keys):
            raise ConfigError(f"{name}: key id {kid} is listed twice")
        keys.append((kid, key))
    if not keys:
        raise ConfigError(f"{name} names no key")
    return keys


class KeyRing:
    """AES-256-GCM (or 128/192 by key length). The record id is the associated data, so a
    ciphertext copied into another record does not open."""

    def __init__(self, spec: str, name: str = "encryption keys"):
        keys = _parse(spec, name, (16, 24, 32))
        self.current = keys[0][0]
        self.keys: dict[str, AESGCM] = {kid: AESGCM(key) for kid, key in keys}

    def encrypt(self, plaintext: bytes, record_id: str) -> tuple[str, bytes, bytes]:
        """(key id, nonce, ciphertext+tag)."""
        nonce = os.urandom(12)
        return self.current, nonce, self.keys[self.current].encrypt(nonce, plaintext, record_id.encode())

    def decrypt(self, kid: str, nonce: bytes, ciphertext: bytes, record_id: str) -> bytes:
        if kid not in self.keys:
            raise KeyError(f"encryption key {kid} is not configured")
        return self.keys[kid].decrypt(nonce, ciphertext, record_id.encode())

    # The stored form: three fields of the record itself, the ones rotate() rewrites.
    def seal(self, plaintext: bytes, record_id: str) -> dict:
        kid, nonce, sealed = self.encrypt(plaintext, record_id)
        return {"key_id": kid, "nonce": Binary(nonce), "ciphertext": Binary(sealed)}

    def open(self, record: dict, record_id: str) -> bytes:
        return self.decrypt(record["key_id"], bytes(record["nonce"]), bytes(record["ciphertext"]), record_id)


class LookupKeys:
    """Keyed hashes (HMAC-SHA256) standing in for a value in an equality lookup or a unique key:
    `kid:hex`. Without the key a hash cannot be checked against guesses (a NIK has few enough
    possible values that a plain hash would be reversed by enumeration)."""

    def __init__(self, spec: str, name: str = "lookup keys"):
        keys = _parse(spec, name, (32, 48, 64))
        self.current = keys[0][0]
        self.keys: dict[str, bytes] = dict(keys)

    def digest(self, value: str, kid: str = "") -> str:
        kid = kid or self.current
        return kid + ":" + hmac.new(self.keys[kid], value.encode(), hashlib.sha256).hexdigest()

    def digests(self, value: str) -> list[str]:
        """Under every key, the current first: a lookup still finds what is not re-hashed yet."""
        return [self.digest(value, kid) for kid in self.keys]

    def is_current(self, digest: str) -> bool:
        return digest.startswith(self.current + ":")


def key_ring(name: str) -> KeyRing:
    """The key ring in the secret `name` (refused when missing, or a demo value outside local mode)."""
    return KeyRing(secret(name), name)


def lookup_keys(name: str) -> LookupKeys:
    return LookupKeys(secret(name), name)


@dataclass
class RotationReport:
    collection: str
    resealed: int = 0     # sealed under an older key, now under the current one
    migrated: int = 0     # were in clear, now sealed
    raced: int = 0        # changed by someone else meanwhile (left for the next run)

    def line(self) -> str:
        return (f"{self.collection}: {self.resealed} re-encrypted, {self.migrated} encrypted from clear, "
                f"{self.raced} changed meanwhile")


def rotate(collection, ring: KeyRing, *, clear_fields: tuple[str, ...] = (),
           clear_plaintext: Callable[[dict], bytes] | None = None,
           record_id: Callable[[dict], str] = lambda d: d["_id"], id_fields: tuple[str, ...] = (),
           batch: int = 200) -> RotationReport:
    """Seal every record of `collection` under the ring's current key: records under an older key
    are re-encrypted, records still holding `clear_fields` are encrypted (their plaintext made by
    `clear_plaintext`) and those fields removed. Each record is one conditional update (on its old
    key id, or on the clear field still being there), so a run is idempotent, may be stopped at
    any point and run again (it resumes with what is left), and never overwrites a record another
    writer changed meanwhile. Records with neither (nothing secret) are left alone. `record_id`
    gives a record's associated data, from `_id` and the `id_fields` read with it."""
    report = RotationReport(collection.name)
    wanted = [{"key_id": {"$exists": True, "$ne": ring.current}}]
    wanted += [{f: {"$exists": True}} for f in clear_fields]
    projection = {"_id": 1, "key_id": 1, "nonce": 1, "ciphertext": 1, **{f: 1 for f in clear_fields + id_fields}}
    seen: set = set()
    while True:
        # Read a batch, write it, read again: updated records drop out of the query, so the loop
        # ends when nothing is left (`seen` stops it on records that keep failing their update).
        docs = [d for d in collection.find({"$or": wanted}, projection).limit(batch + len(seen))
                if d["_id"] not in seen][:batch]
        if not docs:
            return report
        for doc in docs:
            seen.add(doc["_id"])
            rid = record_id(doc)
            if "ciphertext" in doc and doc.get("key_id") != ring.current:
                plain, condition = ring.open(doc, rid), {"key_id": doc["key_id"]}
            elif clear_plaintext and any(f in doc for f in clear_fields):
                plain, condition = clear_plaintext(doc), {"$or": [{f: {"$exists": True}} for f in clear_fields]}
            else:
                continue
            update = {"$set": ring.seal(plain, rid)}
            if clear_fields:
                update["$unset"] = {f: "" for f in clear_fields}
            done = collection.update_one({"_id": doc["_id"], **condition}, update).modified_count
            if not done:
                report.raced += 1
            elif "ciphertext" in doc:
                report.resealed += 1
            else:
                report.migrated += 1
