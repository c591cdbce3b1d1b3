"""Attempt limits on the doors a guesser knocks on: logging in, registering, resetting a password.

Fixed windows counted in the gateway's store (shared by every worker and replica). A login is
refused before its password is hashed once the account has had LOGIN_FAILURES_PER_ACCOUNT wrong
passwords in the window, so the 6th guess costs the server nothing.

Each attempt is one document `<subject's window>|<n>` inserted at the first free number (an insert
under a unique `_id` is atomic on FerretDB too, where a counter's `$inc` is read-modify-write and
parallel guesses lost most of their increments); "limit reached" is whether entry limit-1 exists,
one read by `_id`, and a refusal writes nothing. Per-client limits are high on
purpose: on Indonesian mobile networks thousands of people share one address (carrier-grade NAT).
Subjects are stored as keyed hashes, never as the email or address itself."""
from __future__ import annotations

import datetime as dt
import functools
import ipaddress

from flask import request

from servicekit.config import env, env_int
from servicekit.mongo import Appender
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


_appenders: dict = {}  # per collection: remembers where each subject's count ended in this process


def _entries(kind: str, subject: str):
    """(collection, the key of entry n, the window's end, now) of `subject`'s attempts of `kind`."""
    now = dt.datetime.now(dt.timezone.utc)
    index, ends = _window(now)
    base = _id(kind, subject, index)
    return COUNTERS.get(now), (lambda n: f"{base}|{n}"), ends, now


def _refuse(ends: dt.datetime, now: dt.datetime) -> Problem:
    return Problem(429, "too-many-attempts", "too many attempts; wait before trying again",
                   retry_after=max(1, int((ends - now).total_seconds())))


def check(kind: str, subject: str) -> None:
    """429 with Retry-After (the end of the window) once `subject` has used up its attempts."""
    store, key, ends, now = _entries(kind, subject)
    if store.find_one({"_id": key(limits()[kind] - 1)}, {"_id": 1}) is not None:
        raise _refuse(ends, now)


def record(kind: str, subject: str) -> int:
    """Count one attempt; returns how many were counted before it (in this window)."""
    store, key, ends, _now = _entries(kind, subject)
    name = getattr(store, "full_name", None) or id(store)
    appender = _appenders.get(name) or _appenders.setdefault(name, Appender(store))
    return appender.append_at(key(0), key, lambda _n: {"expires": ends})[1]


def spend(kind: str, subject: str) -> None:
    """One attempt that counts whatever its outcome (registrations, reset requests). Attempts made
    at the same moment all count, and those beyond the limit are refused too."""
    check(kind, subject)
    if record(kind, subject) >= limits()[kind]:
        _store, _key, ends, now = _entries(kind, subject)
        raise _refuse(ends, now)
