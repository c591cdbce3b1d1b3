"""Staff management by the head of an office: create an officer, reset its password, deactivate it,
and the token state the gateway checks on every staff request. Every change goes to the office's
hash-chained audit log."""
from __future__ import annotations

from servicekit.clock import Clock

from services.booking.adapters.accounts import Accounts
from services.booking.domain.staff import (generated_password, new_officer_fields, require_head_of,
                                           require_officer_of)


class Staff:
    def __init__(self, accounts: Accounts, audit, clock: Clock, factors=None):
        self.accounts, self.audit, self.clock, self.factors = accounts, audit, clock, factors

    def _officer(self, caller, office_id: str, account_id: str) -> dict:
        require_head_of(caller, office_id)
        return require_officer_of(self.accounts.find(account_id), office_id)

    def list(self, caller, office_id: str) -> list[dict]:
        require_head_of(caller, office_id)
        return self.accounts.staff_of(office_id)

    def create_officer(self, caller, office_id: str, full_name: str, email: str) -> tuple[dict, str]:
        require_head_of(caller, office_id)
        full_name, email = new_officer_fields(full_name, email)
        password = generated_password()
        doc = self.accounts.create_staff(full_name, email, password, "OFFICER", office_id)
        self.audit.append(caller, "STAFF_CREATED", office_id, {"account_id": doc["_id"], "role": "OFFICER"})
        return doc, password

    def reset_password(self, caller, office_id: str, account_id: str) -> tuple[dict, str]:
        doc = self._officer(caller, office_id, account_id)
        password = generated_password()
        self.accounts.replace_password(doc["_id"], password)
        if self.factors is not None:  # a lost phone is the usual reason: the officer enrols again
            self.factors.remove(doc["_id"])
        self.audit.append(caller, "STAFF_PASSWORD_RESET", office_id, {"account_id": doc["_id"]})
        return self.accounts.get(doc["_id"]), password

    def reset_second_factor(self, caller, office_id: str, account_id: str) -> dict:
        """A lost phone (or used-up recovery codes): the TOTP secret and its codes go; the officer
        enrols again (STAFF_TOTP=required: at its next sign-in, before any token)."""
        doc = self._officer(caller, office_id, account_id)
        self.factors.remove(doc["_id"])
        self.audit.append(caller, "STAFF_TOTP_RESET", office_id, {"account_id": doc["_id"]})
        return self.accounts.get(doc["_id"])

    def deactivate(self, caller, office_id: str, account_id: str) -> dict:
        doc = self._officer(caller, office_id, account_id)
        if doc.get("active", True):
            self.accounts.deactivate(doc["_id"], self.clock.now())
            self.audit.append(caller, "STAFF_DEACTIVATED", office_id, {"account_id": doc["_id"]})
        return self.accounts.get(doc["_id"])

    def token_state(self, account_id: str) -> tuple[bool, int]:
        return self.accounts.token_state(account_id)
