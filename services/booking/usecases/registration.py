"""Registering an applicant. A NIK or email that already has an account is answered 409
nik-taken / email-taken, as the public contract (API.md) says - so the answer does tell whether a
NIK or email is registered. That is bounded by the gateway's per-client registration limit (429
with Retry-After), and the owner of the existing account is told (RegistrationAttempted: email
and SMS, at most once an hour), so a probe does not go unnoticed."""
from __future__ import annotations

from servicekit.errors import DomainError

from services.booking.adapters.accounts import Accounts
from services.booking.adapters.registration_notices import RegistrationNotices

MATCHED = {"nik-taken": "NIK", "email-taken": "EMAIL"}


class Registration:
    def __init__(self, accounts: Accounts, notices: RegistrationNotices):
        self.accounts, self.notices = accounts, notices

    def register(self, nik: str, full_name: str, birth_date: str, email: str, phone: str, password: str) -> dict:
        try:
            return self.accounts.register(nik, full_name, birth_date, email, phone, password)
        except DomainError as err:
            matched = MATCHED.get(err.problem)
            holder = matched and self.accounts.holder(nik=nik if matched == "NIK" else "",
                                                      email=email if matched == "EMAIL" else "")
            if holder:
                self.notices.tell(holder, matched)
            raise
