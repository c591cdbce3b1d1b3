"""The fee schedule as data, versioned by effective date: a new regulation is a data change."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from servicekit.errors import invalid

from services.payment.domain.billing import BillingItem, FeeParameters

DATA = Path(__file__).with_name("fees.json")
LABELS = {"ORDINARY": "Paspor biasa / ordinary passport", "ELECTRONIC": "Paspor elektronik / e-passport"}


class FeeSchedule:
    def __init__(self, schedules: list[dict]):
        self.schedules = sorted(schedules, key=lambda s: s["effective_from"])

    @classmethod
    def load(cls, path: Path = DATA) -> "FeeSchedule":
        return cls(json.loads(path.read_text())["schedules"])

    def in_force(self, on: dt.date) -> dict:
        current = [s for s in self.schedules if dt.date.fromisoformat(s["effective_from"]) <= on]
        if not current:
            raise invalid(f"no fee schedule is in force on {on}")
        return current[-1]

    def items_for(self, on: dt.date, fee: FeeParameters) -> list[BillingItem]:
        return self.items(on, fee.passport_type, fee.validity_years, fee.service_type, fee.express)

    def items(self, on: dt.date, passport_type: str, validity_years: int, service_type: str,
              express: bool) -> list[BillingItem]:
        """The billing lines for one application; their sum is the amount due."""
        schedule = self.in_force(on)
        try:
            base = schedule["passport"][passport_type][str(validity_years)]
        except KeyError:
            raise invalid(f"no fee for a {validity_years}-year {passport_type} passport") from None
        items = [BillingItem(code=f"PASPOR_{passport_type}_{validity_years}Y",
                             label=f"{LABELS.get(passport_type, passport_type)}, {validity_years} years", amount=base)]
        if express:
            items.append(BillingItem(code="LAYANAN_PERCEPATAN", label="Express service (same day)",
                                     amount=schedule["express"]))
        fine = schedule["fines"].get(service_type)
        if fine:
            items.append(BillingItem(code=f"DENDA_{service_type}",
                                     label=f"Fine: {service_type.lower().replace('_', ' ')}", amount=fine))
        return items
