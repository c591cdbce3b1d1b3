"""Time in one place, so tests can move it (and so every timestamp is timezone-aware UTC)."""
from __future__ import annotations

import datetime as dt
import logging
import os

UTC = dt.timezone.utc


class Clock:
    """Wall-clock time, optionally shifted by CLOCK_OFFSET_SECONDS: a whole stack can rehearse a
    future day (a drill of the counter journey, the integration test of it). Production leaves it
    unset; a shifted clock is logged loudly at start-up by every service that reads it."""

    def __init__(self, offset_s: float | None = None):
        if offset_s is None:
            offset_s = float(os.environ.get("CLOCK_OFFSET_SECONDS", "0") or 0)
        self.offset = dt.timedelta(seconds=offset_s)
        if offset_s:
            logging.getLogger("servicekit.clock").warning("clock shifted by %s (CLOCK_OFFSET_SECONDS)", self.offset)

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + self.offset


class FixedClock(Clock):
    """A clock for tests of domain rules: set or advance it by hand."""

    def __init__(self, at: dt.datetime):
        super().__init__(0)
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta) -> None:
        self.at += dt.timedelta(**delta)


def rfc3339(moment: dt.datetime, tz: dt.tzinfo | None = None) -> str:
    """RFC 3339 with offset, in the given zone (e.g. the office's) or UTC."""
    return moment.astimezone(tz or UTC).isoformat(timespec="seconds")


def parse_rfc3339(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp needs an offset")
    return moment
