"""The Delivery of one message: its attempts and outcome, the retry policy, and the event it causes
when given up on (NotificationFailed). Pure.

Delivery records of a message `<mid>` (= `<event_id>:<channel>`), each an insert under a unique _id:
- `<mid>:attempt:<n>`  inserted BEFORE the n-th send; winning this insert is the right to send
                       (two workers never send the same attempt);
- `<mid>:failed:<n>`   the n-th send failed (error class, permanent or not, when to retry);
- `<mid>:sent`         the message was accepted by the provider;
- `<mid>:dead`         given up: dead-letter record carrying a NotificationFailed event (outbox);
- `<mid>:skipped`      not sent: a later event of the application made it stale (ordering.py).
(repositories.DeliveryRecords writes and reads them.)

An attempt with neither `failed` nor `sent` is in flight - or its worker died between sending and
recording. After `stale_attempt_s` it counts as failed with an unknown outcome and the next attempt
may send again: that is the one window where a recipient can get one duplicate.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Callable


class SendError(Exception):
    """A channel did not take the message; `permanent` ones (recipient refused, 4xx) are not retried."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


@dataclass(frozen=True)
class NotificationFailed:
    """Domain event: a message was given up on (published as passport.v1.NotificationFailed)."""
    notification_id: str
    event_id: str
    event_type: str
    account_id: str
    application_id: str
    channel: str
    attempts: int
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 300.0
    max_attempts: int = 12
    jitter: float = 0.5          # a delay is drawn from [(1 - jitter) * d, d]
    stale_attempt_s: float = 60.0  # must exceed the send timeout plus the contact lookup deadline

    def delay(self, failed_attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the n-th failed attempt (n >= 1): exponential, capped, jittered."""
        raw = min(self.max_delay_s, self.base_s * self.factor ** (max(1, failed_attempt) - 1))
        return raw * (1 - self.jitter + self.jitter * rand())


@dataclass(frozen=True)
class Plan:
    action: str          # done | wait | send | dead
    attempt: int = 0     # the attempt number to send (send) or made so far (dead)
    due_at: dt.datetime | None = None  # wait: when to look again
    reason: str = ""


def plan(records: list[dict], now: dt.datetime, policy: RetryPolicy) -> Plan:
    """What to do next for one message, given all its delivery records."""
    attempts: dict[int, dict] = {}
    failures: dict[int, dict] = {}
    for r in records:
        if r["kind"] in ("sent", "dead", "skipped"):
            return Plan("done")
        if r["kind"] == "attempt":
            attempts[r["n"]] = r
        elif r["kind"] == "failed":
            failures[r["n"]] = r
    if not attempts:
        return Plan("send", 1)
    last = max(attempts)
    failure = failures.get(last)
    if failure is None:
        stale_at = attempts[last]["at"] + dt.timedelta(seconds=policy.stale_attempt_s)
        if now < stale_at:
            return Plan("wait", last, stale_at)
        failure = {"permanent": False, "error": "unknown outcome (worker stopped mid-send)", "next_at": stale_at}
    if failure.get("permanent"):
        return Plan("dead", last, reason=f"permanent: {failure['error']}")
    if last >= policy.max_attempts:
        return Plan("dead", last, reason=f"gave up after {last} attempts: {failure['error']}")
    if now < failure["next_at"]:
        return Plan("wait", last, failure["next_at"])
    return Plan("send", last + 1)


def status_of(records: list[dict]) -> tuple[str, dt.datetime | None]:
    """The status shown to the applicant: SENT (with when), FAILED, or RECORDED (pending)."""
    for r in records:
        if r["kind"] == "sent":
            return "SENT", r["at"]
    if any(r["kind"] == "dead" for r in records):
        return "FAILED", None
    return "RECORDED", None


@dataclass(frozen=True)
class Delivery:
    """One message's delivery records (attempts, failures, outcome) and what they allow next."""
    message_id: str
    records: tuple[dict, ...] = ()

    def next_step(self, now: dt.datetime, policy: RetryPolicy) -> Plan:
        return plan(list(self.records), now, policy)

    def status(self) -> tuple[str, dt.datetime | None]:
        return status_of(list(self.records))

    @staticmethod
    def after_failure(attempt: int, failure: dict, now: dt.datetime, policy: RetryPolicy) -> Plan:
        """What follows the failure of `attempt`, by the same rules as from all records (only the last
        attempt counts there)."""
        return plan([{"kind": "attempt", "n": attempt, "at": now}, failure], now, policy)

    @staticmethod
    def given_up(message: dict, attempts: int, reason: str) -> NotificationFailed:
        return NotificationFailed(
            notification_id=message["_id"], event_id=message["event_id"], event_type=message["event_type"],
            account_id=message["account_id"], application_id=message.get("application_id", ""),
            channel=message["channel"], attempts=attempts, reason=reason[:200])
