"""Billing codes and the fee schedule of PP 45/2024."""
from __future__ import annotations

import datetime as dt

import pytest

from services.payment.domain import billing_codes
from services.payment.domain.fees import FeeSchedule

IN_FORCE = dt.date(2026, 11, 27)


def test_codes_are_fifteen_digits_with_a_check_digit_and_do_not_repeat():
    codes = {billing_codes.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 15 and c.isdigit() and billing_codes.is_valid(c) for c in codes)
    code = next(iter(codes))
    mistyped = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    assert not billing_codes.is_valid(mistyped)


@pytest.mark.parametrize("ptype, years, service, express, total", [
    ("ORDINARY", 5, "NEW", False, 350_000), ("ORDINARY", 10, "RENEWAL", False, 650_000),
    ("ELECTRONIC", 5, "NEW", False, 650_000), ("ELECTRONIC", 10, "NEW", False, 950_000),
    ("ELECTRONIC", 10, "NEW", True, 1_950_000), ("ORDINARY", 5, "REPLACEMENT_LOST", False, 1_350_000),
    ("ORDINARY", 10, "REPLACEMENT_DAMAGED", False, 1_150_000),
])
def test_fees_of_pp_45_2024(ptype, years, service, express, total):
    items = FeeSchedule.load().items(IN_FORCE, ptype, years, service, express)
    assert sum(i.amount for i in items) == total


def test_a_new_regulation_is_a_data_change():
    schedule = FeeSchedule.load().schedules + [{
        "regulation": "future", "effective_from": "2027-01-01",
        "passport": {"ORDINARY": {"5": 400000, "10": 700000}, "ELECTRONIC": {"5": 700000, "10": 1000000}},
        "express": 1000000, "fines": {}}]
    fees = FeeSchedule(schedule)
    assert fees.items(dt.date(2026, 12, 31), "ORDINARY", 5, "NEW", False)[0].amount == 350000
    assert fees.items(dt.date(2027, 1, 1), "ORDINARY", 5, "NEW", False)[0].amount == 400000
