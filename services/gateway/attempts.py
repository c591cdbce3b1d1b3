"""Attempt limits on the doors a guesser knocks on: logging in, registering, resetting a password.

Fixed windows counted in the gateway's store (shared by every worker and replica). A login is
refused before its password is hashed once the account has had LOGIN_FAILURES_PER_ACCOUNT wrong
passwords in the window, so the 6th guess costs the server nothing. Per-client limits are high on
purpose: on Indonesian mobile networks thousands of people share one address (carrier-grade NAT).
Subjects are stored as keyed hashes, never as the email or address itself."""
from __future__ import annotations

import datetime as dt
import functools
import ipaddress

from flask import request

from servicekit.config import env, env_int
from servicekit.mongo import upsert
from services.gateway import auth
from services.gateway.expiring import ExpiringCollection
from services.gateway.problems import Problem

WINDOW = dt.timedelta(minutes=15)
COUNTERS = ExpiringCollection("attempts")


@functools.cache
def limits() -> dict[str, int]:
    return {"login-account": env_int("LOGIN_FAILURES_PER_ACCOUNT", 5),
            "login-client": env_int("LOGIN_ATTEMPTS_PER_CLIENT", 300),
            "register-client": env_int("REGISTRATIONS_PER_CLIENT", 100),
            "reset-client": env_int("PASSWORD_RESETS_PER_CLIENT", 100)}


@functools.cache
def _trusted_proxies() -> tuple:
    raw = env("GATEWAY_TRUSTED_PROXIES", "")
    return tuple(ipaddress.ip_network(p.strip()) for p in raw.split(",") if p.strip())


def client() -> str:
    """The person's address: the connection's, or - when that is a trusted proxy (the web app, an
    ingress: GATEWAY_TRUSTED_PROXIES) - the nearest untrusted address it forwarded."""
    hops = [request.remote_addr or "unknown"]
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()] + hops if forwarded else hops
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return hops[0]


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _trusted_proxies())


def _window(now: dt.datetime) -> tuple[int, dt.datetime]:
    index = int(now.timestamp() // WINDOW.total_seconds())
    return index, dt.datetime.fromtimestamp((index + 1) * WINDOW.total_seconds(), dt.timezone.utc)


def _id(kind: str, subject: str, index: int) -> str:
    return auth.keyed_hash(f"{kind}|{index}|{subject.strip().lower()}")


def check(kind: str, subject: str) -> None:
    """429 with Retry-After (the end of the window) once `subject` has used up its attempts."""
    now = dt.datetime.now(dt.timezone.utc)
    index, ends = _window(now)
    seen = COUNTERS.get(now).find_one({"_id": _id(kind, subject, index)}, {"count": 1})
    if seen and seen.get("count", 0) >= limits()[kind]:
        raise Problem(429, "too-many-attempts", "too many attempts; wait before trying again",
                      retry_after=max(1, int((ends - now).total_seconds())))


def record(kind: str, subject: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    index, ends = _window(now)
    upsert(COUNTERS.get(now), {"_id": _id(kind, subject, index)},
           {"$inc": {"count": 1}, "$setOnInsert": {"expires": ends}})


def spend(kind: str, subject: str) -> None:
    """One attempt that counts whatever its outcome (registrations, reset requests)."""
    check(kind, subject)
    record(kind, subject)
