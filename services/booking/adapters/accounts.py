"""Accounts of applicants (one per NIK) and of staff.

Uniqueness of NIK and email rests on claim documents (`nik_claims`, `email_claims`): inserting a
claim is atomic on FerretDB and MongoDB alike, and staff accounts, which have no NIK, need no
sparse or partial index (FerretDB has neither).

At rest, NIK, email and phone are sealed together in the account record (AES-GCM, the account id
as associated data: `key_id`, `nonce`, `ciphertext`); a claim is keyed by the value's keyed hash
(`kid:hmac`, servicekit/crypto.py LookupKeys), which serves the uniqueness check, login by email
and the counter's search by NIK. Records written before that (values in clear, claims keyed by
the value) are still read until `cli rotate-keys` has sealed and re-keyed them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import uuid

from passport.v1 import accounts_pb2
from servicekit import events, outbox
from servicekit.clock import Clock
from servicekit.crypto import KeyRing, LookupKeys, RotationReport, rotate
from servicekit.errors import DomainError, invalid
from servicekit.log import mask_nik
from servicekit.mongo import insert_unique

from services.booking.domain import rules
from services.booking.domain.passwords import DUMMY_HASH, hash_password, verify_password

STALE_CLAIM = dt.timedelta(minutes=2)
RESET_VALID = dt.timedelta(minutes=15)  # a password-reset code's life
RESET_MAX_FAILURES = 5                  # wrong codes per account and 15-minute window
SEALED = ("nik", "email", "phone")     # stored only inside the account's ciphertext


class Accounts:
    def __init__(self, db, clock: Clock, keys: KeyRing, lookup: LookupKeys):
        self.keys, self.lookup = keys, lookup
        self.accounts = db["accounts"]
        self.nik_claims = db["nik_claims"]
        self.email_claims = db["email_claims"]
        self.resets, self.reset_used, self.reset_failures = (
            db["password_resets"], db["password_reset_used"], db["password_reset_failures"])
        self.clock = clock

    def ensure_indexes(self) -> None:
        self.accounts.create_index([("office_id", 1), ("role", 1)])

    def register(self, nik: str, full_name: str, birth_date: str, email: str, phone: str,
                 password: str) -> dict:
        email = (email or "").strip().lower()
        born = rules.validate_registration(nik, full_name, birth_date, email, phone, password,
                                           today=self.clock.now().date())
        account_id = "acc_" + uuid.uuid4().hex
        if not self._claim(self.nik_claims, nik, account_id):
            raise DomainError("exists", "nik-taken", "an account for this NIK already exists")
        if not self._claim(self.email_claims, email, account_id):
            self.nik_claims.delete_one({"_id": self.lookup.digest(nik), "account_id": account_id})
            raise DomainError("exists", "email-taken", "this email is already registered")
        doc = {"_id": account_id, "role": "APPLICANT", "full_name": full_name.strip(),
               "birth_date": born.isoformat(), "password_hash": hash_password(password), "created_at": self.clock.now()}
        self.accounts.insert_one(self._sealed(doc, nik=nik, email=email, phone=phone))
        return {**doc, "nik": nik, "email": email, "phone": phone}

    def create_staff(self, full_name: str, email: str, password: str, role: str, office_id: str) -> dict:
        email = (email or "").strip().lower()
        if role not in ("OFFICER", "SUPERVISOR"):
            raise invalid("role must be OFFICER or SUPERVISOR", "role")
        if not office_id:
            raise invalid("staff belong to one office", "office_id")
        account_id = "stf_" + uuid.uuid4().hex
        if not self._claim(self.email_claims, email, account_id):
            raise DomainError("exists", "email-taken", "this email is already registered")
        doc = {"_id": account_id, "role": role, "office_id": office_id, "full_name": full_name,
               "password_hash": hash_password(password), "created_at": self.clock.now()}
        self.accounts.insert_one(self._sealed(doc, email=email))
        return {**doc, "email": email}

    def authenticate(self, email: str, password: str) -> dict:
        doc = self.find(self._holder(self.email_claims, (email or "").strip().lower()))
        matches = verify_password(password or "", doc["password_hash"] if doc else DUMMY_HASH)
        # A deactivated staff account (usecases/staff.py) answers like a wrong password.
        if doc is None or not matches or not doc.get("active", True):
            raise DomainError("unauthenticated", "invalid-credentials", "email or password is wrong")
        return doc

    def get(self, account_id: str) -> dict:
        doc = self.find(account_id)
        if doc is None:
            raise DomainError("not_found", "account-not-found", "no such account")
        return doc

    def find(self, account_id: str | None) -> dict | None:
        return self._open(self.accounts.find_one({"_id": account_id or ""}))

    def account_id_of_nik(self, nik: str) -> str | None:
        """The counter's exact search by NIK, through the NIK's keyed hash."""
        return self._holder(self.nik_claims, nik)

    def holder(self, nik: str = "", email: str = "") -> str | None:
        """The account holding a NIK or an email (to tell its owner of a registration attempt)."""
        account_id = (self._holder(self.nik_claims, nik) if nik else
                      self._holder(self.email_claims, (email or "").strip().lower()))
        return account_id if account_id and self.find(account_id) else None

    def replace_password(self, account_id: str, password: str) -> None:
        """A new password ends every open session of the account (its token version moves on)."""
        self.accounts.update_one({"_id": account_id}, {"$set": {"password_hash": hash_password(password)},
                                                       "$inc": {"token_version": 1}})

    def deactivate(self, account_id: str, at) -> None:
        self.accounts.update_one({"_id": account_id}, {"$set": {"active": False, "deactivated_at": at},
                                                       "$inc": {"token_version": 1}})

    def token_state(self, account_id: str) -> tuple[bool, int]:
        """(active, token version) as the gateway checks them; an unknown account is inactive."""
        doc = self.accounts.find_one({"_id": account_id or ""}, {"active": 1, "token_version": 1})
        if doc is None:
            return False, 0
        return bool(doc.get("active", True)), int(doc.get("token_version", 0))

    def staff_of(self, office_id: str, role: str = "") -> list[dict]:
        query = {"office_id": office_id, "role": role} if role else {"office_id": office_id,
                                                                    "role": {"$in": ["OFFICER", "SUPERVISOR"]}}
        return [self._open(d) for d in self.accounts.find(query).sort("created_at", 1)]

    # -- sealed fields and keyed-hash claims -------------------------------------------------
    def _sealed(self, doc: dict, **fields: str) -> dict:
        return {**doc, **self.keys.seal(json.dumps(fields).encode(), doc["_id"])}

    def _open(self, doc: dict | None) -> dict | None:
        if doc is None or "ciphertext" not in doc:
            return doc  # not found, or written before sealing (rotate-keys seals it)
        fields = json.loads(self.keys.open(doc, doc["_id"]))
        return {**{k: v for k, v in doc.items() if k not in ("key_id", "nonce", "ciphertext")}, **fields}

    def _holder(self, claims, value: str) -> str | None:
        """The account holding `value`: its hash under each key, newest first, then the value
        itself (a claim from before hashing, until rotate-keys re-keys it)."""
        for key in self.lookup.digests(value) + [value]:
            held = claims.find_one({"_id": key}) if value else None
            if held:
                return held["account_id"]
        return None

    def _claim(self, claims, value: str, account_id: str) -> bool:
        """Claim a unique value under the current hash key. A claim of the same value under an older
        key (or in clear) still holds it; one left by a registration that died half-way is
        reclaimed."""
        now = self.clock.now()
        current, *older = self.lookup.digests(value)
        if not self._take(claims, current, account_id, now):
            return False
        for key in older + [value]:
            held = claims.find_one({"_id": key})
            if held and held["account_id"] != account_id and not self._stale(held, now):
                claims.delete_one({"_id": current, "account_id": account_id})
                return False
        return True

    def _take(self, claims, key: str, account_id: str, now) -> bool:
        claim = {"_id": key, "account_id": account_id, "at": now, "kid": self.lookup.current}
        if insert_unique(claims, claim):
            return True
        held = claims.find_one({"_id": key})
        if held and self._stale(held, now):
            claims.delete_one({"_id": key, "account_id": held["account_id"]})
            return insert_unique(claims, claim)
        return False

    def _stale(self, held: dict, now) -> bool:
        return now - _aware(held["at"]) > STALE_CLAIM and not self.accounts.find_one({"_id": held["account_id"]}, {"_id": 1})

    def rotate_keys(self) -> list[RotationReport]:
        """Seal every account under the current encryption key (and the ones still in clear), then
        re-key every claim under the current hash key. Idempotent and resumable (see crypto.rotate)."""
        sealed = rotate(self.accounts, self.keys, clear_fields=SEALED,
                        clear_plaintext=lambda d: json.dumps({f: d[f] for f in SEALED if f in d}).encode())
        return [sealed, self._rekey(self.nik_claims, "nik"), self._rekey(self.email_claims, "email")]

    def _rekey(self, claims, field: str) -> RotationReport:
        """Each claim not under the current hash key: insert the current one, then delete the old
        (for a moment both hold the value, which only makes a registration of it refuse)."""
        report, now = RotationReport(claims.name), self.clock.now()
        for claim in list(claims.find({"kid": {"$ne": self.lookup.current}})):
            account = self.find(claim["account_id"])
            if account is None:
                if self._stale(claim, now):
                    claims.delete_one({"_id": claim["_id"], "account_id": claim["account_id"]})
                continue  # a registration under way keeps its claim
            key = self.lookup.digest(account[field])
            if not insert_unique(claims, {"_id": key, "account_id": claim["account_id"], "at": claim["at"],
                                          "kid": self.lookup.current}):
                held = claims.find_one({"_id": key})
                if not held or held["account_id"] != claim["account_id"]:
                    report.raced += 1
                    continue
            claims.delete_one({"_id": claim["_id"], "account_id": claim["account_id"]})
            if "kid" in claim:
                report.resealed += 1
            else:
                report.migrated += 1
        return report

    # -- password reset by a one-time code ---------------------------------------------------
    # A request is an insert keyed `<account>:<minute>` (so at most one code per account and minute)
    # carrying its PasswordResetRequested event (outbox); only the newest request of the last
    # RESET_VALID is honoured, once (a keyed `used` insert), after at most RESET_MAX_FAILURES wrong
    # codes per account and 15-minute window. Every lookup is by `_id`.
    def request_password_reset(self, email: str) -> None:
        doc = self.find(self._holder(self.email_claims, (email or "").strip().lower()))
        if doc is None or doc.get("role") != "APPLICANT":
            return  # the same answer as for a real account: no way to learn who is registered
        now = self.clock.now()
        code = f"{secrets.randbelow(10 ** 6):06d}"
        expires = now + RESET_VALID
        event = accounts_pb2.PasswordResetRequested(account_id=doc["_id"], code=code, expires_at=expires.isoformat())
        record = {"_id": f"{doc['_id']}:{_minute(now)}", "account_id": doc["_id"], "at": now,
                  "code_hash": _code_hash(doc["_id"], code)}
        outbox.insert(self.resets, record, [events.new_event("booking", doc["_id"], event, self.clock)],
                      events.TOPICS["booking"], self.clock)

    def confirm_password_reset(self, email: str, code: str, new_password: str) -> dict:
        rejected = DomainError("invalid", "reset-code-invalid", "the code is wrong, expired or already used",
                               [{"field": "code", "message": "the code is wrong, expired or already used"}])
        if not rules.strong_password(new_password):
            raise DomainError("invalid", "validation-error", "the new password is too weak", [
                {"field": "new_password", "message": "password needs at least 10 characters with a letter and a digit"}])
        account_id = self._holder(self.email_claims, (email or "").strip().lower())
        if not account_id or not re.fullmatch(r"\d{6}", code or ""):
            raise rejected
        now = self.clock.now()
        window = f"{account_id}:{_minute(now) // 15}"  # wrong codes are keyed inserts `<window>:<n>`
        if self.reset_failures.find_one({"_id": f"{window}:{RESET_MAX_FAILURES}"}):
            raise rejected
        newest = None
        for minute in range(_minute(now), _minute(now - RESET_VALID) - 1, -1):
            newest = self.resets.find_one({"_id": f"{account_id}:{minute}"})
            if newest:
                break
        fresh = newest is not None and now - _aware(newest["at"]) <= RESET_VALID
        if not fresh or not hmac.compare_digest(newest["code_hash"], _code_hash(account_id, code)):
            next(n for n in range(1, RESET_MAX_FAILURES + 2)
                 if n > RESET_MAX_FAILURES or insert_unique(self.reset_failures, {"_id": f"{window}:{n}", "at": now}))
            raise rejected
        if not insert_unique(self.reset_used, {"_id": newest["_id"], "at": now}):
            raise rejected  # used already (single use)
        self.accounts.update_one({"_id": account_id}, {"$set": {"password_hash": hash_password(new_password)}})
        return self.get(account_id)


def _minute(moment: dt.datetime) -> int:
    return int(moment.timestamp() // 60)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _code_hash(account_id: str, code: str) -> str:
    return hashlib.sha256(f"{account_id}:{code}".encode()).hexdigest()


def public_view(doc: dict) -> dict:
    return {"account_id": doc["_id"], "full_name": doc["full_name"], "role": doc["role"],
            "office_id": doc.get("office_id", ""), "nik_masked": mask_nik(doc["nik"]) if doc.get("nik") else ""}
