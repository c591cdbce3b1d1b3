"""The expiry sweeper worker: every tick the expiry queue's windows that passed; at start-up (so
downtime never skips an expiry) and then every `scan_every_s` a scan of the billings as a safety net
(all billings at start-up, those due in the look-back after)."""
from __future__ import annotations

import datetime as dt

from servicekit.due_windows import DueSweeper

from services.payment.usecases.settlement import Settlements


def expiry_sweeper(settlements: Settlements, scan_every_s: float, lookback: dt.timedelta) -> DueSweeper:
    return DueSweeper(lambda first: settlements.sweep(None if first else lookback), settlements.sweep_due,
                      scan_every_s)
