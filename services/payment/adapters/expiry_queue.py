"""Billings by the 10-second window in which they fall due, so the expiry sweeper reads only the
windows that have passed, by `_id` (servicekit/due_windows.py). Each entry names one billing code and
is written before the billing. The periodic scan of the billings (usecases/settlement.py, `sweep`)
remains the safety net."""
from __future__ import annotations

import datetime as dt

from servicekit.due_windows import WindowQueue

from services.payment.domain.expiry import WINDOW_S


class ExpiryQueue:
    def __init__(self, db):
        self.queue = WindowQueue(db["expiry_queue"], WINDOW_S)
        self.entries = self.queue.entries

    def add(self, billing_code: str, expires_at: dt.datetime) -> None:
        self.queue.add(expires_at, {"billing_code": billing_code})

    def due_in(self, window: int) -> list[str]:
        """The billing codes queued in `window` (the expiry sweeper's read)."""
        return [e["billing_code"] for e in self.queue.entries_in(window)]
