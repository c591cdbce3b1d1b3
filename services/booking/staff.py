"""Staff management by the head of an office (issue 17): create an officer, reset its password,
deactivate it, and the token state the gateway checks on every staff request.

A staff account carries `token_version` (absent = 0) and `active` (absent = true). The gateway puts
the version into each staff token it issues and compares it with GetTokenState on every request, so
a password reset or a deactivation (both bump the version) ends every open session at once, without
a token blacklist. Accounts are updated in place like a password change; every change is appended
to the office's hash-chained audit log."""
from __future__ import annotations

import secrets

from passport.v1 import staff_pb2, staff_pb2_grpc
from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError, invalid

from services.booking import rules
from services.booking.accounts import Accounts
from services.booking.passwords import hash_password

MAX_NAME = 120


def generated_password() -> str:
    """16 characters from an unambiguous alphabet, always with a letter and a digit (the password rule)."""
    letters, digits = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"
    while True:
        word = "".join(secrets.choice(letters + digits) for _ in range(16))
        if any(c in digits for c in word) and any(c in letters for c in word) and rules._strong(word):
            return word


class Staff:
    def __init__(self, accounts: Accounts, audit, clock: Clock):
        self.accounts, self.audit, self.clock = accounts, audit, clock

    def _supervisor_of(self, caller, office_id: str) -> None:
        if caller.role != "SUPERVISOR" or not office_id or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office manages its staff")

    def _officer(self, caller, office_id: str, account_id: str) -> dict:
        """An OFFICER of the caller's office; any other account reads as not found (no enumeration)."""
        self._supervisor_of(caller, office_id)
        doc = self.accounts.accounts.find_one({"_id": account_id or ""})
        if doc is None or doc.get("role") != "OFFICER" or doc.get("office_id") != office_id:
            raise DomainError("not_found", "account-not-found", "no officer with this id at your office")
        return doc

    def list(self, caller, office_id: str) -> list[dict]:
        self._supervisor_of(caller, office_id)
        return self.accounts.staff_of(office_id)

    def create_officer(self, caller, office_id: str, full_name: str, email: str) -> tuple[dict, str]:
        self._supervisor_of(caller, office_id)
        full_name = (full_name or "").strip()
        if not full_name or len(full_name) > MAX_NAME:
            raise invalid(f"full_name is required, at most {MAX_NAME} characters", "full_name")
        if not rules._EMAIL.match((email or "").strip().lower()):  # the registration's own rule
            raise invalid("email is not a valid address", "email")
        password = generated_password()
        doc = self.accounts.create_staff(full_name, email, password, "OFFICER", office_id)
        self.audit.append(caller, "STAFF_CREATED", office_id, {"account_id": doc["_id"], "role": "OFFICER"})
        return doc, password

    def reset_password(self, caller, office_id: str, account_id: str) -> tuple[dict, str]:
        doc = self._officer(caller, office_id, account_id)
        password = generated_password()
        self.accounts.accounts.update_one({"_id": doc["_id"]}, {"$set": {"password_hash": hash_password(password)},
                                                                "$inc": {"token_version": 1}})
        self.audit.append(caller, "STAFF_PASSWORD_RESET", office_id, {"account_id": doc["_id"]})
        return self.accounts.get(doc["_id"]), password

    def deactivate(self, caller, office_id: str, account_id: str) -> dict:
        doc = self._officer(caller, office_id, account_id)
        if doc.get("active", True):
            self.accounts.accounts.update_one({"_id": doc["_id"]}, {
                "$set": {"active": False, "deactivated_at": self.clock.now()}, "$inc": {"token_version": 1}})
            self.audit.append(caller, "STAFF_DEACTIVATED", office_id, {"account_id": doc["_id"]})
        return self.accounts.get(doc["_id"])

    def token_state(self, account_id: str) -> tuple[bool, int]:
        doc = self.accounts.accounts.find_one({"_id": account_id or ""}, {"active": 1, "token_version": 1})
        if doc is None:
            return False, 0
        return bool(doc.get("active", True)), int(doc.get("token_version", 0))


def account_pb(doc: dict, temporary_password: str = "") -> staff_pb2.StaffAccount:
    deactivated = doc.get("deactivated_at")
    return staff_pb2.StaffAccount(
        account_id=doc["_id"], full_name=doc.get("full_name", ""), email=doc.get("email", ""), role=doc["role"],
        office_id=doc.get("office_id", ""), active=bool(doc.get("active", True)),
        token_version=int(doc.get("token_version", 0)),
        created_at=rfc3339(doc["created_at"]) if doc.get("created_at") else "",
        deactivated_at=rfc3339(deactivated) if deactivated else "", temporary_password=temporary_password)


class StaffServicer(staff_pb2_grpc.StaffServiceServicer):
    def __init__(self, staff: Staff):
        self.staff = staff

    def ListOfficeStaff(self, request, context):
        return staff_pb2.ListOfficeStaffResponse(items=[account_pb(d) for d in self.staff.list(request.caller,
                                                                                               request.office_id)])

    def CreateOfficer(self, request, context):
        doc, password = self.staff.create_officer(request.caller, request.office_id, request.full_name, request.email)
        return account_pb(doc, password)

    def ResetPassword(self, request, context):
        doc, password = self.staff.reset_password(request.caller, request.office_id, request.account_id)
        return account_pb(doc, password)

    def Deactivate(self, request, context):
        return account_pb(self.staff.deactivate(request.caller, request.office_id, request.account_id))

    def GetTokenState(self, request, context):
        active, version = self.staff.token_state(request.account_id)
        return staff_pb2.TokenState(active=active, token_version=version)
