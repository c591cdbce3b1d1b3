"""Settings of the service: check thresholds, the required fingers, retention, encryption keys.

Thresholds come from thresholds.json beside this file (or BIOMETRICS_THRESHOLDS_FILE), and single
values can be overridden by environment: BIOMETRICS_PHOTO_SHARPNESS_MIN=30,
BIOMETRICS_REQUIRED_FINGERS=1,2,6,7, BIOMETRICS_RETENTION_DAYS=3650.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from servicekit.config import ConfigError, secret

DEFAULT_FILE = Path(__file__).with_name("thresholds.json")


@dataclass(frozen=True)
class Settings:
    photo: dict
    fingerprint: dict
    required_fingers: tuple[int, ...]
    retention_days: int


def load(environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = Path(environ.get("BIOMETRICS_THRESHOLDS_FILE") or DEFAULT_FILE)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read thresholds from {path}: {exc}") from None
    sections = {}
    for section in ("photo", "fingerprint"):
        values = dict(raw[section])
        for key, default in values.items():
            name = f"BIOMETRICS_{section.upper()}_{key.upper()}"
            if environ.get(name):
                try:
                    values[key] = type(default)(float(environ[name])) if isinstance(default, int) \
                        else float(environ[name])
                except ValueError:
                    raise ConfigError(f"{name} must be a number, got {environ[name]!r}") from None
        sections[section] = values
    fingers = raw.get("required_fingers", list(range(1, 11)))
    if environ.get("BIOMETRICS_REQUIRED_FINGERS"):
        try:
            fingers = [int(f) for f in environ["BIOMETRICS_REQUIRED_FINGERS"].split(",") if f.strip()]
        except ValueError:
            raise ConfigError("BIOMETRICS_REQUIRED_FINGERS must be finger positions like 1,2,6,7") from None
    if any(not 1 <= f <= 10 for f in fingers):
        raise ConfigError("required fingers must be ISO positions 1-10")
    retention = int(environ.get("BIOMETRICS_RETENTION_DAYS") or raw.get("retention_days", 3650))
    return Settings(sections["photo"], sections["fingerprint"], tuple(sorted(set(fingers))), retention)


def encryption_keys() -> str:
    return secret("BIOMETRICS_ENCRYPTION_KEYS")
