"""Accounts at rest: NIK, email and phone sealed in the record, claims keyed by HMAC lookup hashes,
and the rotation of both keys (also of records written in clear before)."""
from __future__ import annotations

import datetime as dt

import pytest

from servicekit.clock import FixedClock
from servicekit.config import ConfigError
from servicekit.errors import DomainError
from services.booking.adapters.accounts import Accounts
from services.booking.adapters.documents import Documents
from services.booking.domain.passwords import hash_password
from tests.unit import keys
from tests.unit.fakemongo import Database

NIK, EMAIL, PHONE, PASSWORD = "3171011205880001", "siti.aminah@example.id", "081234567890", "Rahasia-2026"
NOW = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.timezone.utc)


def accounts_with(db, ring=keys.RING_1, lookup=keys.LOOKUP_1) -> Accounts:
    return Accounts(db, FixedClock(NOW), keys.ring(ring), keys.lookup(lookup))


def stored_text(db) -> str:
    return repr([d for name in ("accounts", "nik_claims", "email_claims") for d in db[name].docs.values()])


def register(accounts, nik=NIK, email=EMAIL):
    return accounts.register(nik, "Siti Aminah", "1988-05-12", email, PHONE, PASSWORD)


def test_nik_email_and_phone_are_stored_sealed_and_read_back_in_clear():
    db = Database()
    accounts = accounts_with(db)
    created = register(accounts, email="Siti.Aminah@Example.ID")
    assert created["nik"] == NIK and created["email"] == EMAIL
    text = stored_text(db)
    for value in (NIK, EMAIL, PHONE, "siti.aminah", "1234567890"):
        assert value not in text
    [record] = db["accounts"].docs.values()
    assert record["key_id"] == "k1" and not {"nik", "email", "phone"} & record.keys()
    assert [c["_id"][:3] for c in db["nik_claims"].docs.values()] == ["h1:"]
    got = accounts.get(created["_id"])
    assert (got["nik"], got["email"], got["phone"]) == (NIK, EMAIL, PHONE)
    assert "ciphertext" not in got
    assert accounts.account_id_of_nik(NIK) == created["_id"]
    assert accounts.account_id_of_nik("3171011205880002") is None


def test_a_taken_nik_or_email_is_refused_and_login_by_email_ignores_case():
    accounts = accounts_with(Database())
    created = register(accounts)
    with pytest.raises(DomainError) as nik:
        register(accounts, email="other@example.id")
    with pytest.raises(DomainError) as email:
        register(accounts, nik="3171011205880002", email=EMAIL.upper())
    assert (nik.value.problem, email.value.problem) == ("nik-taken", "email-taken")
    assert accounts.authenticate("  SITI.Aminah@example.id ", PASSWORD)["_id"] == created["_id"]
    with pytest.raises(DomainError):
        accounts.authenticate(EMAIL, "wrong-password-1")
    staff = accounts.create_staff("Budi", "Budi@Office.example", "Officer-2026x", "OFFICER", "TBK")
    assert accounts.authenticate("budi@office.example", "Officer-2026x")["_id"] == staff["_id"]
    assert accounts.staff_of("TBK")[0]["email"] == "budi@office.example"
    assert "budi@office.example" not in stored_text(accounts.accounts.database)


def test_rotating_both_keys_keeps_every_lookup_and_the_old_keys_can_go():
    db = Database()
    created = register(accounts_with(db))
    rotated = accounts_with(db, f"{keys.RING_2},{keys.RING_1}", f"{keys.LOOKUP_2},{keys.LOOKUP_1}")
    # before the command runs, old records still work: login, search, and uniqueness
    assert rotated.authenticate(EMAIL, PASSWORD)["nik"] == NIK
    assert rotated.account_id_of_nik(NIK) == created["_id"]
    with pytest.raises(DomainError) as taken:
        register(rotated, email="other@example.id")
    assert taken.value.problem == "nik-taken" and len(db["nik_claims"].docs) == 1
    reports = rotated.rotate_keys()
    assert [(r.collection, r.resealed, r.migrated, r.raced) for r in reports] == [
        ("accounts", 1, 0, 0), ("nik_claims", 1, 0, 0), ("email_claims", 1, 0, 0)]
    assert [(r.resealed, r.migrated) for r in rotated.rotate_keys()] == [(0, 0)] * 3, "idempotent"
    only_new = accounts_with(db, keys.RING_2, keys.LOOKUP_2)
    assert only_new.authenticate(EMAIL, PASSWORD)["phone"] == PHONE
    assert only_new.account_id_of_nik(NIK) == created["_id"]
    with pytest.raises(DomainError):
        register(only_new, email="other@example.id")


def test_records_from_before_encryption_are_read_then_sealed_by_the_rotation():
    db = Database()
    db["accounts"].insert_one({"_id": "acc_old", "role": "APPLICANT", "nik": NIK, "email": EMAIL, "phone": PHONE,
                               "full_name": "Siti Aminah", "birth_date": "1988-05-12", "created_at": NOW,
                               "password_hash": hash_password(PASSWORD)})
    db["nik_claims"].insert_one({"_id": NIK, "account_id": "acc_old", "at": NOW})
    db["email_claims"].insert_one({"_id": EMAIL, "account_id": "acc_old", "at": NOW})
    db["documents"].insert_one({"_id": "app_1:KTP:0", "application_id": "app_1", "kind": "KTP",
                                "data": b"%PDF-1.4 ktp scan", "sha256": "", "uploaded_at": NOW})
    accounts = accounts_with(db)
    assert accounts.authenticate(EMAIL, PASSWORD)["_id"] == "acc_old"
    with pytest.raises(DomainError):
        register(accounts, email="new@example.id")  # the clear claim still holds the NIK
    documents = Documents(db, FixedClock(NOW), keys.ring())
    assert documents.rotate_keys().migrated == 1
    assert [(r.migrated, r.raced) for r in accounts.rotate_keys()] == [(1, 0)] * 3
    assert b"ktp scan" not in repr(db["documents"].docs).encode() and documents.content("app_1:KTP:0") == b"%PDF-1.4 ktp scan"
    assert NIK not in stored_text(db) and EMAIL not in stored_text(db)
    assert accounts.authenticate(EMAIL, PASSWORD)["nik"] == NIK
    assert accounts.account_id_of_nik(NIK) == "acc_old"


def test_documents_are_sealed_bound_to_their_record_and_never_stored_in_clear():
    db = Database()
    documents = Documents(db, FixedClock(NOW), keys.ring())
    documents.upload("app_1", "KTP", b"%PDF-1.4 my ktp")
    [record] = db["documents"].docs.values()
    assert record["_id"] == "app_1:KTP:0" and b"my ktp" not in bytes(record["ciphertext"]) and "data" not in record
    assert documents.content("app_1:KTP:0") == b"%PDF-1.4 my ktp"
    with pytest.raises(ConfigError):
        Documents(db, FixedClock(NOW), None).upload("app_1", "KK", b"%PDF-1.4 kk")  # never in clear
