"""Settings of the complaint service, from the environment (read once, at start)."""
from __future__ import annotations

from dataclasses import dataclass

from servicekit.config import env_float
from servicekit.crypto import KeyRing, key_ring

CONTACT_KEYS = "COMPLAINT_ENCRYPTION_KEYS"  # seals anonymous reporters' contacts


@dataclass(frozen=True)
class Settings:
    calendar_wait_s: float  # how long to wait at start for booking's office calendars
    sweep_interval_s: float  # how often the SLA escalation sweeper reads the deadline queue's passed windows
    sweep_scan_every_s: float  # how often it also scans every complaint past its first deadline (safety net)
    contact_keys: KeyRing    # required: a missing or demo key stops the service at start


def load() -> Settings:
    return Settings(calendar_wait_s=env_float("COMPLAINT_CALENDAR_WAIT_SECONDS", 30),
                    sweep_interval_s=env_float("COMPLAINT_SWEEP_INTERVAL_SECONDS", 5.0),
                    sweep_scan_every_s=env_float("COMPLAINT_SWEEP_SCAN_SECONDS", 3600),
                    contact_keys=key_ring(CONTACT_KEYS))
