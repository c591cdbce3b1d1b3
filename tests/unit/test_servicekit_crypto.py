"""The shared key rings (servicekit/crypto.py): sealing, lookup hashes, and the rotation pass."""
from __future__ import annotations

import base64

import pytest
from bson.binary import Binary
from cryptography.exceptions import InvalidTag

from servicekit.config import ConfigError
from servicekit.crypto import KeyRing, LookupKeys, rotate
from tests.unit import keys
from tests.unit.fakemongo import Collection


def test_the_first_key_seals_every_listed_key_opens():
    old = KeyRing(keys.RING_1)
    record = old.seal(b"KTP scan", "doc-1")
    assert record["key_id"] == "k1" and b"KTP scan" not in bytes(record["ciphertext"])
    both = KeyRing(f"{keys.RING_2},{keys.RING_1}")
    assert both.current == "k2" and both.seal(b"x", "doc-2")["key_id"] == "k2"
    assert both.open(record, "doc-1") == b"KTP scan"
    with pytest.raises(KeyError):
        KeyRing(keys.RING_2).open(record, "doc-1")  # k1 dropped: old records no longer open


def test_a_sealed_value_is_bound_to_its_record_and_nonces_differ():
    ring = KeyRing(keys.RING_1)
    a, b = ring.seal(b"same", "r1"), ring.seal(b"same", "r1")
    assert a["nonce"] != b["nonce"] and a["ciphertext"] != b["ciphertext"]
    with pytest.raises(InvalidTag):
        ring.open(a, "r2")


@pytest.mark.parametrize("spec, says", [
    ("", "names no key"), ("k1", "kid:base64key"), ("k1:not base64!", "not valid base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "16 or 24 or 32 bytes"),
    (f"{keys.RING_1},{keys.RING_1}", "listed twice")])
def test_a_bad_key_ring_is_refused_naming_the_setting(spec, says):
    with pytest.raises(ConfigError) as err:
        KeyRing(spec, "BOOKING_ENCRYPTION_KEYS")
    assert says in str(err.value) and "BOOKING_ENCRYPTION_KEYS" in str(err.value)


def test_lookup_hashes_are_keyed_and_carry_their_key_id():
    one, both = LookupKeys(keys.LOOKUP_1), LookupKeys(f"{keys.LOOKUP_2},{keys.LOOKUP_1}")
    nik = "3171011205880001"
    digest = one.digest(nik)
    assert digest.startswith("h1:") and nik not in digest and len(digest) == 3 + 64
    assert one.digest(nik) == digest, "deterministic: it serves equality lookups"
    assert both.digests(nik) == [both.digest(nik, "h2"), digest], "the current key first, then the older"
    assert both.is_current(both.digest(nik)) and not both.is_current(digest)
    assert LookupKeys(keys.LOOKUP_2).digest(nik)[3:] != digest[3:]
    with pytest.raises(ConfigError):
        LookupKeys("h1:" + base64.b64encode(b"16 bytes is weak").decode())  # HMAC keys: 32 bytes at least


def test_rotation_reseals_old_records_seals_clear_ones_and_a_second_run_does_nothing():
    old, new = KeyRing(keys.RING_1), KeyRing(f"{keys.RING_2},{keys.RING_1}")
    docs = Collection("documents")
    docs.insert_one({"_id": "a", "kind": "KTP", **old.seal(b"under k1", "a")})
    docs.insert_one({"_id": "b", "kind": "KK", "data": Binary(b"in clear")})
    docs.insert_one({"_id": "c", "kind": "note"})  # nothing secret: left alone
    docs.insert_one({"_id": "d", **new.seal(b"under k2", "d")})
    report = rotate(docs, new, clear_fields=("data",), clear_plaintext=lambda d: bytes(d["data"]))
    assert (report.resealed, report.migrated, report.raced) == (1, 1, 0)
    assert {k: d.get("key_id") for k, d in docs.docs.items()} == {"a": "k2", "b": "k2", "c": None, "d": "k2"}
    assert "data" not in docs.docs["b"] and new.open(docs.docs["b"], "b") == b"in clear"
    assert KeyRing(keys.RING_2).open(docs.docs["a"], "a") == b"under k1", "k1 is no longer needed"
    again = rotate(docs, new, clear_fields=("data",), clear_plaintext=lambda d: bytes(d["data"]))
    assert (again.resealed, again.migrated, again.raced) == (0, 0, 0)


def test_rotation_stopped_half_way_resumes_and_never_overwrites_a_record_changed_meanwhile():
    old, new = KeyRing(keys.RING_1), KeyRing(f"{keys.RING_2},{keys.RING_1}")
    docs = Collection("captures")
    for i in range(5):
        docs.insert_one({"_id": f"r{i}", **old.seal(f"image {i}".encode(), f"r{i}")})

    class Interrupted(Exception):
        pass

    real_update, calls = docs.update_one, []

    def dies_after_two(query, update):
        if len(calls) == 2:
            raise Interrupted()
        calls.append(query["_id"])
        return real_update(query, update)

    docs.update_one = dies_after_two
    with pytest.raises(Interrupted):
        rotate(docs, new, batch=2)
    docs.update_one = real_update
    assert sorted(d["key_id"] for d in docs.docs.values()) == ["k1", "k1", "k1", "k2", "k2"]

    # another writer re-seals r4 between the read and the write: its update is not applied
    def sneaks_in(query, update):
        if query["_id"] == "r4":
            real_update({"_id": "r4"}, {"$set": new.seal(b"written meanwhile", "r4")})
        return real_update(query, update)

    docs.update_one = sneaks_in
    report = rotate(docs, new, batch=2)
    assert (report.resealed, report.raced) == (2, 1)
    assert all(d["key_id"] == "k2" for d in docs.docs.values())
    assert new.open(docs.docs["r4"], "r4") == b"written meanwhile"
    assert [new.open(docs.docs[f"r{i}"], f"r{i}") for i in range(4)] == [f"image {i}".encode() for i in range(4)]
