"""Accounts of applicants (one per NIK) and of staff.

Uniqueness of NIK and email rests on claim documents keyed by the value itself (`nik_claims`,
`email_claims`): inserting a claim is atomic on FerretDB and MongoDB alike, and staff accounts,
which have no NIK, need no sparse or partial index (FerretDB has neither).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid

from passport.v1 import accounts_pb2
from servicekit import events, outbox
from servicekit.clock import Clock
from servicekit.errors import DomainError, invalid
from servicekit.log import mask_nik
from servicekit.mongo import insert_unique

from services.booking.domain import rules
from services.booking.domain.passwords import DUMMY_HASH, hash_password, verify_password

STALE_CLAIM = dt.timedelta(minutes=2)
RESET_VALID = dt.timedelta(minutes=15)  # a password-reset code's life
RESET_MAX_FAILURES = 5                  # wrong codes per account and 15-minute window


class Accounts:
    def __init__(self, db, clock: Clock):
        self.accounts = db["accounts"]
        self.nik_claims = db["nik_claims"]
        self.email_claims = db["email_claims"]
        self.resets, self.reset_used, self.reset_failures = (
            db["password_resets"], db["password_reset_used"], db["password_reset_failures"])
        self.clock = clock

    def ensure_indexes(self) -> None:
        self.accounts.create_index("email")
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
            self.nik_claims.delete_one({"_id": nik, "account_id": account_id})
            raise DomainError("exists", "email-taken", "this email is already registered")
        doc = {"_id": account_id, "role": "APPLICANT", "nik": nik, "full_name": full_name.strip(),
               "birth_date": born.isoformat(), "email": email, "phone": phone,
               "password_hash": hash_password(password), "created_at": self.clock.now()}
        self.accounts.insert_one(doc)
        return doc

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
               "email": email, "password_hash": hash_password(password), "created_at": self.clock.now()}
        self.accounts.insert_one(doc)
        return doc

    def authenticate(self, email: str, password: str) -> dict:
        doc = self.accounts.find_one({"email": (email or "").strip().lower()})
        matches = verify_password(password or "", doc["password_hash"] if doc else DUMMY_HASH)
        # A deactivated staff account (usecases/staff.py) answers like a wrong password.
        if doc is None or not matches or not doc.get("active", True):
            raise DomainError("unauthenticated", "invalid-credentials", "email or password is wrong")
        return doc

    def get(self, account_id: str) -> dict:
        doc = self.accounts.find_one({"_id": account_id})
        if doc is None:
            raise DomainError("not_found", "account-not-found", "no such account")
        return doc

    def find(self, account_id: str) -> dict | None:
        return self.accounts.find_one({"_id": account_id or ""})

    def holder(self, nik: str = "", email: str = "") -> str | None:
        """The account holding a NIK or an email (to tell its owner of a registration attempt)."""
        claim = (self.nik_claims.find_one({"_id": nik}) if nik else
                 self.email_claims.find_one({"_id": (email or "").strip().lower()}))
        return claim["account_id"] if claim and self.find(claim["account_id"]) else None

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
        return list(self.accounts.find(query).sort("created_at", 1))

    def _claim(self, claims, value: str, account_id: str) -> bool:
        """Claim a unique value; a claim left by a registration that died half-way is reclaimed."""
        now = self.clock.now()
        if insert_unique(claims, {"_id": value, "account_id": account_id, "at": now}):
            return True
        held = claims.find_one({"_id": value})
        if held and now - held["at"] > STALE_CLAIM and not self.accounts.find_one({"_id": held["account_id"]}, {"_id": 1}):
            claims.delete_one({"_id": value, "account_id": held["account_id"]})
            return insert_unique(claims, {"_id": value, "account_id": account_id, "at": now})
        return False

    # -- password reset by a one-time code ---------------------------------------------------
    # A request is an insert keyed `<account>:<minute>` (so at most one code per account and minute)
    # carrying its PasswordResetRequested event (outbox); only the newest request of the last
    # RESET_VALID is honoured, once (a keyed `used` insert), after at most RESET_MAX_FAILURES wrong
    # codes per account and 15-minute window. Every lookup is by `_id`.
    def request_password_reset(self, email: str) -> None:
        claim = self.email_claims.find_one({"_id": (email or "").strip().lower()})
        doc = self.accounts.find_one({"_id": claim["account_id"]}) if claim else None
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
        claim = self.email_claims.find_one({"_id": (email or "").strip().lower()})
        if not claim or not re.fullmatch(r"\d{6}", code or ""):
            raise rejected
        account_id, now = claim["account_id"], self.clock.now()
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
