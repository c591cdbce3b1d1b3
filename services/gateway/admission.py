"""The waiting room's rules, without a store or a web framework: when a room is open, in which order
people are admitted, when each one is, and the signed pass that admission gives.

A room belongs to one office and one activation (a supervisor's switch, a release's opening, or the
configured always-on day). Everyone who takes a place before the room's draw closes (the first
`draw_seconds` after it opens: the moment a release opens, when everybody arrives together) is put
in a random order drawn once for all of them; whoever comes later is numbered in arrival order after
them. So how often, or how fast, a client retries buys nothing: inside the draw the order is chance,
after it the number is taken once and kept. Admissions are paced at `rate` per second in that order,
each admission time fixed when the place is taken (`next_admit_at`), so no process has to "run"
the queue and a replica that dies takes nothing with it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import random
import threading
import time

import jwt

PASS_AUDIENCE = "booking-admission"
PASS_ISSUER = "passport-gateway"


@dataclasses.dataclass(frozen=True)
class Room:
    office_id: str
    room_id: str          # office + activation: one place per account per room
    opened_at: float      # epoch seconds
    until: float          # the room stops guarding bookings then
    rate: float           # admissions per second (what booking can take)
    draw_seconds: float   # places taken before opened_at + draw_seconds are ordered by a draw
    source: str           # "supervisor", "release" or "config"

    @property
    def draw_closes_at(self) -> float:
        return self.opened_at + self.draw_seconds

    def in_draw(self, now: float) -> bool:
        return self.draw_seconds > 0 and now < self.draw_closes_at

    def active(self, now: float) -> bool:
        return now < self.until


# -- who is active ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Settings:
    rate: float               # default admissions per second
    draw_seconds: float       # default draw window
    always_on: frozenset      # offices guarded all day ("*": all)
    release_minutes: float    # a FCFS release is guarded from its opening for this long (0: never)
    prequeue_minutes: float   # ...and places may be taken this long before it opens


def active_room(office_id: str, now: float, switch: dict | None, release_openings: list[float],
                settings: Settings) -> Room | None:
    """The room guarding `office_id` at `now`, if any. A supervisor's switch wins (on or off); then a
    release opening within its window; then the always-on configuration (one room per UTC day)."""
    if switch is not None:
        if switch.get("active") and switch["from"] <= now < switch["until"]:
            return Room(office_id, f"{office_id}:s{int(switch['from'])}", switch["from"], switch["until"],
                        switch.get("rate") or settings.rate,
                        settings.draw_seconds if switch.get("draw_seconds") is None else switch["draw_seconds"],
                        "supervisor")
        if not switch.get("active") and switch["from"] <= now < switch["until"]:
            return None  # switched off by a supervisor for this time: nothing else applies
    if settings.release_minutes > 0:
        for opens in sorted(release_openings):
            starts = opens - settings.prequeue_minutes * 60
            if starts <= now < opens + settings.release_minutes * 60:
                # The draw closes draw_seconds after the opening: everybody there before it is drawn.
                return Room(office_id, f"{office_id}:r{int(opens)}", starts, opens + settings.release_minutes * 60,
                            settings.rate, (opens - starts) + settings.draw_seconds, "release")
    if "*" in settings.always_on or office_id in settings.always_on:
        day = int(now // 86400) * 86400
        return Room(office_id, f"{office_id}:d{day}", float(day), float(day + 86400), settings.rate, 0.0, "config")
    return None


# -- order and pace -----------------------------------------------------------------------------
def draw_key() -> int:
    """A place's lot in the draw: random, and never from anything the client sends."""
    return random.SystemRandom().getrandbits(63)


def draw_order(entries: list[tuple[str, int]]) -> list[str]:
    """The draw: accounts ordered by their lots (ties, practically never, by account id)."""
    return [account for account, _key in sorted(entries, key=lambda e: (e[1], e[0]))]


def drawn_admit_at(room: Room, rank: int, rate: float | None = None) -> float:
    """When the drawn place `rank` (1-based) is admitted: from the draw's close, one per 1/rate."""
    return room.draw_closes_at + (rank - 1) / (rate or room.rate)


def next_admit_at(previous_admit_at: float, now: float, rate: float) -> float:
    """A numbered place's admission: 1/rate after the place before it, and never before it was taken
    (an empty line admits at once; a burst is spread at the rate)."""
    return max(now, previous_admit_at + 1.0 / rate)


def ahead_of(admit_at: float, now: float, rate: float) -> int:
    """People still waiting ahead of a place admitted at `admit_at`, as it is paced: at most one per
    1/rate (places given up only make the line shorter)."""
    return max(0, math.ceil((admit_at - now) * rate - 1e-9))


def poll_after(wait_s: float) -> int:
    """When a waiting client should ask again. The wait is an estimate (the room's pace follows what
    booking completes, and may grow): within 2 s come back just when admitted, otherwise at half the
    wait (at most 30 s), so a client that follows the advice is late by at most a second or so."""
    wait_s = wait_s - 1e-9
    return int(min(30, max(1, math.ceil(wait_s if wait_s <= 2 else wait_s / 2))))


def poll_after_ms(wait_s: float) -> int:
    """`poll_after` to the millisecond: within 2 s, the estimated moment of admission itself. In whole
    seconds a client that follows the advice comes back up to a second after it was admitted, while
    a bot asking every 20 ms books at once: near the end of the seats that second decided who got one."""
    wait_ms = max(0.0, wait_s) * 1000
    return int(math.ceil(min(30_000, wait_ms if wait_s <= 2 else wait_ms / 2)))


class EarlyAsks:
    """Asks that came before the time the room gave the client to come back, counted per place in
    fixed windows (in one process: each remembers the advice it gave). A person's page comes back when
    told, so it makes none, or a few with several tabs; a bot ignoring Retry-After makes one on nearly
    every ask. `note` is true once per window, at the early ask past the limit, so the caller acts
    (moves the place back) once per window at most."""

    TOLERANCE_S = 0.25  # clocks and timers that fire a little early are not early

    def __init__(self, limit: int, window_s: float, max_entries: int = 200_000):
        self.limit, self.window_s, self.max_entries = limit, window_s, max_entries
        self._advised: dict[str, float] = {}             # key -> when this process said to come back
        self._windows: dict[str, tuple[int, int]] = {}   # key -> (window number, early asks in it)
        self._lock = threading.Lock()

    def note(self, key: str, now: float, come_back_at: float | None) -> bool:
        """An ask at `now`, answered with `come_back_at` (None: admitted, nothing more to advise).
        True when this early ask is the one past the limit in its window."""
        with self._lock:
            if len(self._advised) >= self.max_entries:
                self._advised.clear()  # bounded: forgetting only forgives
                self._windows.clear()
            advised = self._advised.pop(key, None)
            if come_back_at is not None:
                self._advised[key] = come_back_at
            if advised is None or now >= advised - self.TOLERANCE_S:
                return False
            window = int(now // self.window_s)
            seen, early = self._windows.get(key, (window, 0))
            early = early + 1 if seen == window else 1
            self._windows[key] = (window, early)
        return early == self.limit + 1


def moved_back_since_given(moved_back_at: float | None, given_at: float) -> bool:
    """A place moved back after its admission time was given gets a new one at the end of the line
    (once per move: the new one is given after the move)."""
    return moved_back_at is not None and moved_back_at > given_at


# -- the pass ----------------------------------------------------------------------------------
def pass_key(secret: str) -> bytes:
    """A key of its own for passes, derived from the gateway's secret: a pass is never an access token."""
    return hmac.new(secret.encode(), b"waiting-room-admission-pass", hashlib.sha256).digest()


def sign_pass(key: bytes, account_id: str, room: Room, admit_at: float, ttl_s: float) -> tuple[str, float]:
    """The admission pass: valid from `admit_at` for `ttl_s` (asking again does not extend it)."""
    expires = admit_at + ttl_s
    claims = {"sub": account_id, "room": room.room_id, "office": room.office_id, "aud": PASS_AUDIENCE,
              "iss": PASS_ISSUER, "nbf": int(admit_at), "exp": int(math.ceil(expires))}
    return jwt.encode(claims, key, algorithm="HS256"), expires


class PassRefused(Exception):
    """Why a pass does not admit this booking (English; the gateway translates by slug)."""


def verify_pass(key: bytes, token: str, account_id: str, room: Room, now: float | None = None) -> dict:
    """The pass's claims if it admits `account_id` to `room` now; PassRefused otherwise."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], audience=PASS_AUDIENCE, issuer=PASS_ISSUER,
                            options={"require": ["exp", "nbf", "sub", "room"]})
    except jwt.ExpiredSignatureError:
        raise PassRefused("the admission pass has expired") from None
    except jwt.ImmatureSignatureError:
        raise PassRefused("the admission pass is not valid yet") from None
    except jwt.InvalidTokenError:
        raise PassRefused("the admission pass is not valid") from None
    if now is not None and not claims["nbf"] <= now < claims["exp"]:
        raise PassRefused("the admission pass is not valid at this time")
    if claims["sub"] != account_id:
        raise PassRefused("the admission pass belongs to another account")
    if claims["room"] != room.room_id:
        raise PassRefused("the admission pass is for another waiting room")
    return claims


def now_s() -> float:
    return time.time()
