"""Settings of the complaint service, from the environment (read once, at start)."""
from __future__ import annotations

from dataclasses import dataclass

from servicekit.config import env_float


@dataclass(frozen=True)
class Settings:
    calendar_wait_s: float  # how long to wait at start for booking's office calendars
    sweep_interval_s: float  # how often the SLA escalation sweeper runs


def load() -> Settings:
    return Settings(calendar_wait_s=env_float("COMPLAINT_CALENDAR_WAIT_SECONDS", 30),
                    sweep_interval_s=env_float("COMPLAINT_SWEEP_INTERVAL_SECONDS", 5.0))
