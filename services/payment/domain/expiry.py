"""Billings fall due in 10-second windows: the expiry sweeper reads the windows that have wholly
passed (adapters/expiry_queue.py stores them)."""
from __future__ import annotations

import datetime as dt

WINDOW_S = 10


def window_of(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // WINDOW_S
