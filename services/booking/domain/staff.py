"""The rules of staff management by the head of an office (issue 17): who may manage whom, and the
generated first passwords. A password reset or a deactivation moves the account's token version
on, which ends every open session at once (the gateway checks it on every staff request)."""
from __future__ import annotations

import secrets

from servicekit.errors import DomainError, invalid

from services.booking.domain import rules

MAX_NAME = 120


def generated_password() -> str:
    """16 characters from an unambiguous alphabet, always with a letter and a digit (the password rule)."""
    letters, digits = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"
    while True:
        word = "".join(secrets.choice(letters + digits) for _ in range(16))
        if any(c in digits for c in word) and any(c in letters for c in word) and rules.strong_password(word):
            return word


def require_head_of(caller, office_id: str) -> None:
    if caller.role != "SUPERVISOR" or not office_id or caller.office_id != office_id:
        raise DomainError("forbidden", "forbidden", "only the supervisor of this office manages its staff")


def require_officer_of(doc: dict | None, office_id: str) -> dict:
    """An OFFICER of that office; any other account reads as not found (no enumeration)."""
    if doc is None or doc.get("role") != "OFFICER" or doc.get("office_id") != office_id:
        raise DomainError("not_found", "account-not-found", "no officer with this id at your office")
    return doc


def new_officer_fields(full_name: str, email: str) -> tuple[str, str]:
    full_name = (full_name or "").strip()
    if not full_name or len(full_name) > MAX_NAME:
        raise invalid(f"full_name is required, at most {MAX_NAME} characters", "full_name")
    email = (email or "").strip()
    if not rules.EMAIL.match(email.lower()):  # the registration's own rule
        raise invalid("email is not a valid address", "email")
    return full_name, email
