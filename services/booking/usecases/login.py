"""Signing in: the password, then - for staff - the TOTP second factor, and its enrolment by QR.

STAFF_TOTP=required (production, the default): a staff member without a confirmed TOTP secret is
refused with otp-enrolment-required and enrols (password + first code) before any token is issued.
STAFF_TOTP=optional (the local stack and its demo staff, set explicitly in deploy/local/stack.py):
staff without a secret sign in with the password alone; once enrolled, the code is always needed.
Enrolment also issues ten one-time recovery codes (shown once, stored as digests): any one of them
stands in for the TOTP code once, for a lost phone until the head of office resets the factor.
"""
from __future__ import annotations

import logging

from servicekit import log
from servicekit.clock import Clock
from servicekit.errors import DomainError

from services.booking.adapters.accounts import Accounts
from services.booking.adapters.second_factor import SecondFactors
from services.booking.domain import passwords
from services.booking.domain import second_factor as totp

STAFF_ROLES = ("OFFICER", "SUPERVISOR")
logger = logging.getLogger("booking.login")


def _refused(problem: str, detail: str) -> DomainError:
    return DomainError("unauthenticated", problem, detail, [{"field": "otp", "message": detail}])


class Login:
    def __init__(self, accounts: Accounts, factors: SecondFactors, clock: Clock, mode: str = "required",
                 codes_clock: Clock | None = None):
        # Codes follow the staff member's phone, i.e. real time: `codes_clock` is unshifted even when
        # a rehearsal stack moves the platform's clock (CLOCK_OFFSET_SECONDS).
        self.accounts, self.factors, self.clock, self.mode = accounts, factors, clock, totp.mode_of(mode)
        self.codes_clock = codes_clock or clock

    def _password(self, email: str, password: str) -> dict:
        doc = self.accounts.authenticate(email, password)  # invalid-credentials for a wrong one
        if passwords.needs_rehash(doc["password_hash"]):  # an older, cheaper hash: upgraded now
            self.factors.rehash(doc["_id"], doc["password_hash"], passwords.hash_password(password))
        return doc

    def authenticate(self, email: str, password: str, otp: str = "") -> dict:
        doc = self._password(email, password)
        if doc.get("role") not in STAFF_ROLES:
            return doc
        secret = self.factors.confirmed_secret(doc["_id"])
        if secret is None:
            if self.mode == "required":
                raise _refused("otp-enrolment-required", "staff must enrol an authenticator app before signing in")
            return doc
        if not (otp or "").strip():
            raise _refused("otp-required", "enter the 6-digit code of your authenticator app")
        if totp.recovery_form(otp) is not None:
            if not self.factors.use_recovery_code(doc["_id"], totp.recovery_digest(doc["_id"], otp)):
                raise _refused("otp-invalid", "the recovery code is wrong or already used")
            log.event(logger, "staff signed in with a recovery code", left=self.factors.recovery_codes_left(doc["_id"]))
            return doc
        self._accept_code(doc["_id"], secret, otp)
        return doc

    def start_enrolment(self, email: str, password: str) -> tuple[str, str]:
        """(secret, otpauth URI) for the QR code; the secret counts only once a code confirms it."""
        doc = self._staff(email, password)
        if self.factors.confirmed_secret(doc["_id"]) is not None:
            raise DomainError("exists", "otp-already-enrolled",
                              "an authenticator app is already enrolled; the head of office can reset it")
        secret = totp.new_secret()
        self.factors.start(doc["_id"], secret, self.clock.now())
        return secret, totp.provisioning_uri(secret, doc["email"])

    def confirm_enrolment(self, email: str, password: str, otp: str) -> tuple[dict, list[str]]:
        """The account and its ten new recovery codes (the only time they are seen in clear)."""
        doc = self._staff(email, password)
        if self.factors.confirmed_secret(doc["_id"]) is not None:
            raise DomainError("exists", "otp-already-enrolled", "an authenticator app is already enrolled")
        pending = self.factors.pending_secret(doc["_id"])
        if pending is None:
            raise DomainError("conflict", "otp-enrolment-not-started", "start the enrolment first (scan the QR code)")
        self._accept_code(doc["_id"], pending, otp)
        codes = totp.new_recovery_codes()
        self.factors.replace_recovery_codes(doc["_id"], [totp.recovery_digest(doc["_id"], c) for c in codes],
                                            self.clock.now())
        self.factors.confirm(doc["_id"], pending, self.clock.now())  # last: the codes exist once it counts
        return doc, codes

    def _staff(self, email: str, password: str) -> dict:
        doc = self._password(email, password)
        if doc.get("role") not in STAFF_ROLES:
            raise DomainError("forbidden", "otp-staff-only", "the second factor is for staff accounts")
        return doc

    def _accept_code(self, account_id: str, secret: str, otp: str) -> None:
        now = self.codes_clock.now()
        step = totp.matching_step(secret, otp, now)
        if step is None or not self.factors.use_step(account_id, step, now):
            raise _refused("otp-invalid", "the code is wrong, expired or already used; wait for the next one")
