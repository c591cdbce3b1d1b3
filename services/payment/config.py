"""Settings of the payment service, read once from the environment at start-up."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servicekit.config import GRPC_PORTS, METRICS_PORTS, env, env_float, env_int, secret

NAME = "payment"


@dataclass(frozen=True)
class Settings:
    grpc_port: int
    metrics_port: int
    expiry_grace: dt.timedelta        # a billing expires this long after its deadline
    paid_at_skew: dt.timedelta        # how far ahead of our clock a bank's paid_at may be
    bank_api_url: str                 # the bank's status API (RecheckBilling); empty: not configured
    bank_api_timeout_s: float
    bank_secret: str                  # verifies the bank's signed status answers (reconciliation)
    sweep_interval_s: float           # how often the expiry queue's passed windows are read
    sweep_scan_every_s: float         # how often the safety-net scan of all billings runs
    sweep_lookback: dt.timedelta      # how far back that scan looks (the start-up scan: all)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            grpc_port=env_int("GRPC_PORT", GRPC_PORTS[NAME]),
            metrics_port=env_int("METRICS_PORT", METRICS_PORTS[NAME]),
            expiry_grace=dt.timedelta(seconds=env_float("PAYMENT_EXPIRY_GRACE_SECONDS", 0)),
            paid_at_skew=dt.timedelta(seconds=env_float("PAID_AT_MAX_SKEW_SECONDS", 300)),
            bank_api_url=env("BANK_API_URL", ""),
            bank_api_timeout_s=env_float("BANK_API_TIMEOUT_SECONDS", 3.0),
            bank_secret=secret("BANK_CALLBACK_SECRET"),  # required: checked at start
            sweep_interval_s=env_float("PAYMENT_SWEEP_INTERVAL_SECONDS", 1.0),
            sweep_scan_every_s=env_float("PAYMENT_SWEEP_SCAN_SECONDS", 3600),
            sweep_lookback=dt.timedelta(hours=env_float("PAYMENT_SWEEP_LOOKBACK_HOURS", 48)),
        )
