"""Settings of the service, from the environment (defaults in brackets):
NOTIFY_ORDER_HOLD_S [2] how long an application's message waits before it is due (ordering);
NOTIFY_RETRY_BASE_S [1], NOTIFY_RETRY_MAX_DELAY_S [300], NOTIFY_MAX_ATTEMPTS [12],
NOTIFY_STALE_ATTEMPT_S [60] the retry policy; NOTIFY_BATCH [100], NOTIFY_SEND_CONCURRENCY [8],
NOTIFY_CAUSE_WAIT_S [1800], NOTIFY_SWEEP_INTERVAL_S [1800] delivery; NOTIFY_REMINDER_HOUR [9],
NOTIFY_REMINDER_POLL_S [30] reminders; CONTACT_DEADLINE_S [3] contact lookups; WEB_BASE_URL
[http://127.0.0.1:8081] the applicant web app the messages link to (the booking proof page). Channel settings
(SMTP_*, SMS_*) are read by adapters/channels.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from servicekit.config import ConfigError, env, env_float, env_int

from services.notification.domain.delivery import RetryPolicy
from services.notification.domain.templates import DEFAULT_WEB_BASE_URL


@dataclass(frozen=True)
class Settings:
    order_hold_s: float
    retry: RetryPolicy
    batch: int
    send_concurrency: int
    cause_wait_s: float
    sweep_interval_s: float
    reminder_hour: int
    reminder_poll_s: float
    contact_deadline_s: float
    web_base_url: str = DEFAULT_WEB_BASE_URL


def retry_policy() -> RetryPolicy:
    return RetryPolicy(base_s=env_float("NOTIFY_RETRY_BASE_S", 1.0),
                       max_delay_s=env_float("NOTIFY_RETRY_MAX_DELAY_S", 300.0),
                       max_attempts=env_int("NOTIFY_MAX_ATTEMPTS", 12),
                       stale_attempt_s=env_float("NOTIFY_STALE_ATTEMPT_S", 60.0))


def load() -> Settings:
    return Settings(order_hold_s=env_float("NOTIFY_ORDER_HOLD_S", 2.0), retry=retry_policy(),
                    batch=env_int("NOTIFY_BATCH", 100), send_concurrency=env_int("NOTIFY_SEND_CONCURRENCY", 8),
                    cause_wait_s=env_float("NOTIFY_CAUSE_WAIT_S", 1800.0),
                    sweep_interval_s=env_float("NOTIFY_SWEEP_INTERVAL_S", 1800.0),
                    reminder_hour=env_int("NOTIFY_REMINDER_HOUR", 9),
                    reminder_poll_s=env_float("NOTIFY_REMINDER_POLL_S", 30.0),
                    contact_deadline_s=env_float("CONTACT_DEADLINE_S", 3.0),
                    web_base_url=web_base_url())


def web_base_url() -> str:
    """WEB_BASE_URL, an absolute http(s) URL: a link in a message must open from a phone."""
    url = env("WEB_BASE_URL", DEFAULT_WEB_BASE_URL).strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"WEB_BASE_URL must be an absolute http(s) URL, got {url!r}")
    return url
