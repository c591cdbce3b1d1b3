"""Time in one place, so tests can move it (and so every timestamp is timezone-aware UTC)."""
from __future__ import annotations

import datetime as dt

UTC = dt.timezone.utc


class Clock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class FixedClock(Clock):
    """A clock for tests of domain rules: set or advance it by hand."""

    def __init__(self, at: dt.datetime):
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
