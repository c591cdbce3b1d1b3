"""Hooks the composition root plugs into the booking use cases (set after construction, since the
release policy, outreach and audit log are built around the same store)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Gates:
    # release_gate(office, slot, now) raises DomainError while a slot's date is not open for
    # first-come-first-served booking (release schedule, ballot); None = always open.
    release_gate: Callable | None = None
    # outreach_gate(invitation_code, slot) -> bool: the code invites to this OUTREACH slot.
    outreach_gate: Callable | None = None
    # on_staff_action(caller, action, office_id, details) appends to the audit log.
    on_staff_action: Callable | None = None

    def staff_action(self, caller, action: str, office_id: str, details: dict) -> None:
        if self.on_staff_action is not None:
            self.on_staff_action(caller, action, office_id, details)
