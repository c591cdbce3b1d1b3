"""The expiry sweeper worker: every tick the expiry queue's windows that passed; at start-up (so
downtime never skips an expiry) and then every `scan_every_s` a scan of the billings as a safety net."""
from __future__ import annotations

import datetime as dt
import time

from services.payment.usecases.settlement import Settlements


class ExpirySweeper:
    def __init__(self, settlements: Settlements, scan_every_s: float, lookback: dt.timedelta):
        self.settlements, self.scan_every_s, self.lookback = settlements, scan_every_s, lookback
        self.last_scan: float | None = None

    def __call__(self) -> None:
        now = time.monotonic()
        if self.last_scan is None or now - self.last_scan >= self.scan_every_s:
            self.settlements.sweep(None if self.last_scan is None else self.lookback)
            self.last_scan = now
        self.settlements.sweep_due()
