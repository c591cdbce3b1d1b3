"""Billings by the 10-second window in which they fall due, so the expiry sweeper reads only the
windows that have passed, by `_id`. (FerretDB serves only `_id` equality from an index: the query
"billings past their deadline" scans every billing ever issued, and the sweeper runs every second.)

An entry `<window>:<n>` (n = 0, 1, ... without gaps) names one billing code. It is written before
the billing, so a crash leaves at most an entry without its billing, which the sweeper skips; the
sweeper also checks each billing's own deadline, so a stray entry can never expire one early. The
periodic scan of the billings (usecases/settlement.py, `sweep`) remains the safety net."""
from __future__ import annotations

import datetime as dt
import threading

from servicekit.mongo import Appender, read_numbered

from services.payment.domain.expiry import window_of


class ExpiryQueue:
    def __init__(self, db):
        self.entries = db["expiry_queue"]
        self._appender = Appender(self.entries)
        self._lock = threading.Lock()

    def add(self, billing_code: str, expires_at: dt.datetime) -> None:
        window = window_of(expires_at)
        # One writer at a time per process: parallel requests would all try the same next number and
        # step on one by one (a failed insert each); other replicas still step on, as they must.
        with self._lock:
            self._appender.append(window, _entry_key(window), lambda n: {"billing_code": billing_code})

    def due_in(self, window: int) -> list[str]:
        """The billing codes queued in `window` (the expiry sweeper's read)."""
        return [e["billing_code"] for e in read_numbered(self.entries, _entry_key(window))]


def _entry_key(window: int):
    return lambda n: f"{window}:{n}"
