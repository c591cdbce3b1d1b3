"""The waiting room in front of booking, kept in the gateway's store so every worker and replica
shares it (the rules are in admission.py; docs/waiting-room.md tells the whole design).

Documents of the collection `waiting_room` (all keyed by `_id`, the only lookup FerretDB serves
from an index; deleted a day after their room closes):
- `<room>|a|<account>`: the account's place (one per account per room: a unique insert). During the
  draw it holds a random lot; afterwards, or for a late comer, the number of its ticket, its
  admission time and when it was given (`numbered_at`); `moved_back` when it was asked for early
  again and again (`Rooms.ask`), `passed_at` once admitted.
- `<room>|t|<n>`: the n-th numbered place after the draw, with its admission time, each 1/rate after
  the one before (a gap-free sequence: a place is an insert at the next free number).
- `<room>|draw`: the draw, made once by whichever request first finds it missing after the draw
  closed (+ DRAW_GRACE_S for clocks and slow inserts); a unique insert, so every process uses the same.
- `<room>|head`: a hint of how far the numbering got, so a new worker does not read it from 1.
- `<room>|pace`: the room's clock (see `Rooms.clock`): admissions follow what booking completes.
- `<room>|n|<second>`: that second's admitted bookings answered (`done`) and shed or kept waiting
  (`congested`), counted by every worker of every replica: what the pace is measured from.
Supervisors' switches live in `waiting_room_switches` (`_id` = office).

Nothing runs in the background and nothing lives only in one process's memory (caches aside): a
replica that dies loses the requests it was answering, never a place or an admission time.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import math
import threading
import time

from flask import Flask, g, request
from prometheus_client import Counter

from passport.v1 import office_pb2
from servicekit import mongo
from servicekit.cache import Memo, TtlCache
from servicekit.config import env, env_float, env_int
from servicekit.mongo import find_by_ids, insert_unique, upsert
from services.gateway import admission, auth, clients, loadshed
from services.gateway.expiring import ExpiringCollection
from services.gateway.problems import Problem, response

logger = logging.getLogger("gateway.waiting_room")

PASS_HEADER = "X-Admission-Pass"
DRAW_GRACE_S = 3.0  # after the draw closes: clock skew between replicas and an insert still under way
RETENTION = dt.timedelta(days=1)
PLACES = ExpiringCollection("waiting_room")
SWITCHES = "waiting_room_switches"

ROOM_EVENTS = Counter("gateway_waiting_room_total", "Waiting-room outcomes: places taken (drawn or numbered), "
                      "passes issued, bookings refused without or with a bad pass, bookings let through.",
                      ["event"])


@functools.cache
def settings() -> admission.Settings:
    return admission.Settings(
        rate=env_float("WAITING_ROOM_ADMISSIONS_PER_MINUTE", 600) / 60.0,
        draw_seconds=env_float("WAITING_ROOM_DRAW_SECONDS", 30),
        always_on=frozenset(o.strip() for o in env("WAITING_ROOM_OFFICES", "").split(",") if o.strip()),
        release_minutes=env_float("WAITING_ROOM_RELEASE_MINUTES", 0),
        prequeue_minutes=env_float("WAITING_ROOM_PREQUEUE_MINUTES", 15))


@functools.cache
def min_rate() -> float:
    """The pace's floor (admissions per second): the room never stops admitting, even when nothing
    was booked in the last seconds (admitted people who do not book would otherwise stall it)."""
    return max(0.1, env_float("WAITING_ROOM_MIN_ADMISSIONS_PER_MINUTE", 60) / 60.0)


@functools.cache
def pass_queue_s() -> float:
    """How long a pass holder's booking may wait for a place in booking's in-flight limit."""
    # 0.8 s + the booking call's 1.2 s budget (which starts after this wait): answered within ~2 s
    return env_float("WAITING_ROOM_PASS_QUEUE_MS", 800) / 1000.0


PACE_TICK_S = 1.0      # the room's clock is re-measured at most once a second (by whichever request comes)
PACE_WINDOW_S = 5      # ...from the admitted bookings answered in the last 5 seconds
PACE_GROWTH = 1.25     # without congestion the pace grows by a quarter per second, up to the ceiling
CONGESTED_WAIT_S = 0.5  # a pass holder who waited this long for booking is congestion
PACE_HISTORY = 400     # past clock segments kept (one a second at most)


@functools.cache
def pass_ttl_s() -> float:
    return env_float("WAITING_ROOM_PASS_SECONDS", 180)


@functools.cache
def early_ask_limit() -> tuple[int, float]:
    """More asks than this before the time the room gave to come back, within the window, in one
    gateway process, move a place to the back of the line (a person's page comes back when told; a bot
    ignoring Retry-After asks every 20 ms)."""
    return env_int("WAITING_ROOM_EARLY_ASK_LIMIT", 10), env_float("WAITING_ROOM_EARLY_ASK_WINDOW_SECONDS", 60)


@functools.cache
def _key() -> bytes:
    return admission.pass_key(auth._secret())


# -- which room is active -------------------------------------------------------------------------
_switch_cache = TtlCache(env_float("WAITING_ROOM_SWITCH_CACHE_SECONDS", 2), max_entries=1_000)
_release_cache = TtlCache(60, max_entries=1_000)


_last_switch: dict[str, dict | None] = {}


def switch_of(office_id: str) -> dict | None:
    """The supervisor's switch of the office (each worker reads it at most every 2 s). With the store
    unreachable, the last one read stands for the cache time: one request pays the driver's timeout
    per 2 s, not every booking queued behind the single flight."""
    def read():
        try:
            doc = mongo.database("gateway")[SWITCHES].find_one({"_id": office_id})
        except mongo.STORE_UNREACHABLE:
            logger.warning("waiting-room switch unreadable; the last one read stands", extra={"office_id": office_id})
            return (_last_switch.get(office_id),)
        _last_switch[office_id] = _switch_dict(doc) if doc else None
        return (_last_switch[office_id],)
    return _switch_cache.get(office_id, read)[0]


def _switch_dict(doc: dict) -> dict:
    return {"active": doc["active"], "from": _epoch(doc["from"]), "until": _epoch(doc["until"]),
            "rate": doc.get("rate"), "draw_seconds": doc.get("draw_seconds")}


def release_openings(office_id: str) -> list[float]:
    """When the office's FCFS releases open (from booking; each worker asks at most once a minute)."""
    if settings().release_minutes <= 0:
        return []

    def read():
        reply = clients.call(clients.office().ListReleases, office_pb2.ListReleasesRequest(office_id=office_id))
        out = []
        for r in reply.items:
            if r.mode == "FCFS" and r.opens_at:
                out.append(dt.datetime.fromisoformat(r.opens_at.replace("Z", "+00:00")).timestamp())
        return out
    try:
        return _release_cache.get(office_id, read)
    except Problem:
        return []  # booking unreachable: it answers the booking itself with 503 anyway


def room_of(office_id: str, now: float | None = None) -> admission.Room | None:
    now = admission.now_s() if now is None else now
    return admission.active_room(office_id, now, switch_of(office_id), release_openings(office_id), settings())


def room_known(office_id: str) -> bool | None:
    """Whether the office's room is active, from what this worker has read already; None when a read
    is due. For the front door's answers outside a request thread, which must not wait on the store."""
    switch = _switch_cache.peek(office_id)
    openings = _release_cache.peek(office_id) if settings().release_minutes > 0 else []
    if switch is None or openings is None:
        return None
    return admission.active_room(office_id, admission.now_s(), switch[0], openings, settings()) is not None


def set_switch(office_id: str, active: bool, minutes: float, rate: float | None, draw_seconds: float | None,
               by: str) -> dict:
    """A supervisor turns the room on (or off) for `minutes` from now. Turning on a room already on
    keeps it (and everybody's place, and when its draw closed): only its end and pace change."""
    now = dt.datetime.now(dt.timezone.utc)
    store = mongo.database("gateway")[SWITCHES]
    current = store.find_one({"_id": office_id})
    start = now
    if current and current["active"] and active and _epoch(current["until"]) > now.timestamp():
        start, draw_seconds = _aware(current["from"]), current.get("draw_seconds")
    doc = {"_id": office_id, "active": active, "from": start, "until": now + dt.timedelta(minutes=minutes),
           "rate": rate, "draw_seconds": draw_seconds, "by": by, "at": now}
    upsert(store, {"_id": office_id}, doc)
    _switch_cache.invalidate(office_id)  # this worker at once; the others within their cache time
    logger.info("waiting room switched", extra={"office_id": office_id, "active": active, "minutes": minutes})
    return _switch_dict(doc)


def clear_switch(office_id: str) -> None:
    mongo.database("gateway")[SWITCHES].delete_one({"_id": office_id})


# -- places ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Place:
    room: admission.Room
    status: str                   # drawing | waiting | admitted | expired
    position: int | None          # people ahead + 1 while waiting; None until the draw is made
    admit_at: float | None
    wait_s: float
    admission_pass: str | None = None
    pass_expires_at: float | None = None
    moved_back: bool = False      # asked for early again and again, it went to the back of the line

    @property
    def poll_after(self) -> int:
        if self.status == "drawing":
            return max(1, int(min(30, self.wait_s + 1)))
        return admission.poll_after(self.wait_s) if self.status == "waiting" else 0

    @property
    def poll_after_ms(self) -> int:
        return admission.poll_after_ms(self.wait_s) if self.status == "waiting" else self.poll_after * 1000


class Rooms:
    """Places in rooms, stored; `store()` gives the collection (a test passes its own)."""

    def __init__(self, store=None):
        self._store = store
        self._draws: dict[str, dict] = {}     # room -> {"rank": {account: rank}, "count", "rate"}
        self._ends: dict[str, int] = {}       # room -> next ticket number this process expects
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        # (room, account) -> admission time: fixed once known, so asking again costs no store read here
        self._known = Memo(200_000)
        self._passed = Memo(200_000)          # (room, account) -> when the pass starts (real time)
        self._early = admission.EarlyAsks(*early_ask_limit())
        self._moved = Memo(200_000)           # (room, account) -> True: moved back (what this process saw)
        self._paces: dict[str, tuple[float, dict]] = {}   # room -> (read at, monotonic; its clock document)
        self._pace_lock = threading.Lock()

    # the room's clock ------------------------------------------------------------------------
    def clock(self, room: admission.Room, now: float) -> tuple[float, float]:
        """(the room's virtual time, the pace now in admissions per second). Admission times are laid
        out at the room's ceiling rate (`room.rate`: the configured or the supervisor's pace); the
        room's clock runs at pace/ceiling of real time, so a place is admitted when the clock reaches
        its admission time. The pace follows booking: once a second, whichever request comes first
        measures the admitted bookings answered in the last seconds across every replica (counters in
        the store); when some pass holder was shed or kept waiting, the pace drops to what booking
        completed, otherwise it grows by a quarter, between the floor and the ceiling. The clock is
        one document advanced by compare-and-set on its time, so two replicas never both move it."""
        if room.draw_seconds > 0 and now < room.draw_closes_at:
            return now, room.rate  # nobody is admitted before the draw closes
        read_at, doc = self._paces.get(room.room_id, (None, None))
        stale = doc is None or time.monotonic() - read_at > 0.5 or now - doc["at"] >= PACE_TICK_S
        # one thread per process re-reads or moves the clock; the others extrapolate the last one read
        if stale and self._pace_lock.acquire(blocking=doc is None):
            try:
                doc = self._advance(room, self._pace_doc(room, now), now)
                if len(self._paces) > 100:
                    self._paces.clear()
                self._paces[room.room_id] = (time.monotonic(), doc)
            finally:
                self._pace_lock.release()
        return doc["v"] + max(0.0, now - doc["at"]) * doc["rate"] / room.rate, doc["rate"]

    def _pace_doc(self, room, now) -> dict:
        store = self.store(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        doc = store.find_one({"_id": f"{room.room_id}|pace"})
        if doc is None:
            expires = dt.datetime.fromtimestamp(room.until, dt.timezone.utc) + RETENTION
            if room.draw_seconds > 0 and now - room.draw_closes_at < 60:
                # after a draw everybody is there at once: the clock starts when the draw is made (not
                # with DRAW_GRACE_S of admissions at once), at half the ceiling, and finds the pace
                v, at, rate = room.draw_closes_at, room.draw_closes_at + DRAW_GRACE_S, room.rate / 2
            else:  # people come one by one: at the ceiling from now
                v, at, rate = now, now, room.rate
            rate = max(min(min_rate(), room.rate), rate)
            doc = {"_id": f"{room.room_id}|pace", "v": v, "at": at, "started": at, "rate": rate, "expires": expires}
            if not insert_unique(store, doc):
                doc = store.find_one({"_id": f"{room.room_id}|pace"})
        return doc

    def _advance(self, room, doc, now) -> dict:
        if now - doc["at"] < PACE_TICK_S:
            return doc
        store = self.store(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        second = int(now)
        keys = [f"{room.room_id}|n|{t}" for t in range(second - PACE_WINDOW_S, second)]
        done = congested = 0
        cut = doc.get("cut", 0)  # congestion before the last cut has been answered already
        for c in find_by_ids(store, keys):
            done += c.get("done", 0)
            if int(c["_id"].rsplit("|", 1)[1]) >= cut:
                congested += c.get("congested", 0)
        window = max(1.0, min(PACE_WINDOW_S, now - doc.get("started", doc["at"])))
        floor = min(min_rate(), room.rate)
        if congested:
            rate, cut = done / window, second  # what booking completed: admit no faster
        else:
            rate = max(doc["rate"] * PACE_GROWTH, doc["rate"] + floor)
        rate = min(room.rate, max(floor, rate))
        v = doc["v"] + (now - doc["at"]) * doc["rate"] / room.rate
        # the past segments (when the clock passed which time, at what pace): a pass starts when the
        # clock passed its place, read from them (PACE_HISTORY seconds: longer than a pass lives)
        # (documents, not [v, at, rate] lists: FerretDB 1.x stores no nested arrays)
        hist = (doc.get("hist") or [])[-PACE_HISTORY:] + [{"v": doc["v"], "at": doc["at"], "rate": doc["rate"]}]
        moved = store.update_one({"_id": doc["_id"], "at": doc["at"]},
                                 {"$set": {"v": v, "at": now, "rate": rate, "cut": cut, "hist": hist}})
        if moved.modified_count:
            return dict(doc, v=v, at=now, rate=rate, cut=cut, hist=hist)
        return store.find_one({"_id": doc["_id"]}) or doc  # another request advanced it first

    def passed_at(self, room: admission.Room, admit_at: float, now: float) -> float:
        """The real time the room's clock reaches (or reached) `admit_at`, from the store's clock read
        afresh and its past segments: increasing with `admit_at`, so passes start in the room's order."""
        doc = self._pace_doc(room, now)
        segments = (doc.get("hist") or []) + [doc]
        for seg in reversed(segments):
            if admit_at >= seg["v"]:
                return seg["at"] + (admit_at - seg["v"]) * room.rate / seg["rate"]
        first = segments[0]  # before the history kept: long expired
        return first["at"] - (first["v"] - admit_at) * room.rate / first["rate"]

    def count(self, room: admission.Room, second: int, counts: dict[str, int]) -> None:
        """Admitted bookings' outcomes (`done`, `congested`) added to that second's counter."""
        store = self.store(dt.datetime.fromtimestamp(second, dt.timezone.utc))
        expires = dt.datetime.fromtimestamp(room.until, dt.timezone.utc) + RETENTION
        key = {"_id": f"{room.room_id}|n|{second}"}
        upsert(store, key, {"$inc": counts, "$setOnInsert": {"expires": expires}})

    def store(self, now: dt.datetime):
        return self._store if self._store is not None else PLACES.get(now)

    def ask(self, room: admission.Room, account_id: str, now: float) -> Place:
        """An applicant asks for its place (taking one first). Asking more often than the room says
        buys nothing, and asking before the time it gave, again and again (more than the early-ask limit
        within its window), moves the place to the back of the line, again each window while it goes
        on: the first time it would be admitted it is given a new admission time after everybody then
        in line (`_cross`)."""
        place = self.place(room, account_id, now, join=True)
        claim_id = f"{room.room_id}|a|{account_id}"
        waiting = place.status in ("drawing", "waiting")
        if self._early.note(claim_id, now, now + place.poll_after_ms / 1000 if waiting else None) and waiting:
            store = self.store(dt.datetime.fromtimestamp(now, dt.timezone.utc))
            moved = store.update_one({"_id": claim_id, "passed_at": {"$exists": False}}, {"$max": {"moved_back": now}})
            if moved.matched_count:
                self._moved.put(claim_id, True)
                ROOM_EVENTS.labels("place-moved-back").inc()
                logger.info("a place asked for too often was moved to the back", extra={"room": room.room_id})
        return dataclasses.replace(place, moved_back=bool(self._moved.get(claim_id)))

    def place(self, room: admission.Room, account_id: str, now: float, join: bool) -> Place | None:
        """The account's place in `room` (taken first when `join` and it has none): the same on every ask."""
        claim_id = f"{room.room_id}|a|{account_id}"
        known = self._known.get(claim_id)
        if known is not None:
            return self._answer(room, account_id, known, now, claim_id)
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        store = self.store(when)
        claim = store.find_one({"_id": claim_id})
        expires = dt.datetime.fromtimestamp(room.until, dt.timezone.utc) + RETENTION
        if claim is None:
            if not join:
                return None
            if room.in_draw(now):
                claim = {"_id": claim_id, "room": room.room_id, "account": account_id, "lot": admission.draw_key(),
                         "joined": now, "expires": expires}
                if insert_unique(store, claim):
                    ROOM_EVENTS.labels("place-drawn").inc()
                else:
                    claim = store.find_one({"_id": claim_id})
            else:
                if now < room.draw_closes_at + DRAW_GRACE_S and room.draw_seconds > 0:
                    return Place(room, "drawing", None, None, room.draw_closes_at + DRAW_GRACE_S - now)
                claim = self._numbered(store, room, account_id, now, expires, claim_id)
        if claim.get("moved_back") is not None:
            self._moved.put(claim_id, True)
        if claim.get("admit_at") is None:  # a drawn place: its rank comes from the draw
            if now < room.draw_closes_at + DRAW_GRACE_S:
                return Place(room, "drawing", None, None, room.draw_closes_at + DRAW_GRACE_S - now)
            draw = self._draw(store, room, now, expires)
            rank = draw["rank"].get(account_id)
            if rank is None:  # its insert came after the draw was made: numbered after it
                claim = self._numbered(store, room, account_id, now, expires, claim_id, replace=True)
            else:
                claim = dict(claim, admit_at=admission.drawn_admit_at(room, rank, draw["rate"]))
        self._known.put(claim_id, claim["admit_at"])
        return self._answer(room, account_id, claim["admit_at"], now, claim_id)

    def _answer(self, room, account_id, admit_at: float, now: float, claim_id: str) -> Place:
        """`admit_at` is on the room's clock; the pass's times are real ones."""
        passed = self._passed.get(claim_id)
        if passed is None:
            virtual, rate = self.clock(room, now)
            if virtual < admit_at or (room.draw_seconds > 0 and now < room.draw_closes_at):
                wait = (admit_at - virtual) * room.rate / rate
                return Place(room, "waiting", max(1, admission.ahead_of(admit_at, virtual, room.rate)), now + wait,
                             max(wait, 0.0))
            # admitted by this worker's view of the clock: confirmed on the store's (another replica
            # may have slowed it), and when it passed the place kept once, so asking again never
            # extends the pass and passes start in the room's order
            crossing = self.passed_at(room, admit_at, now)
            if crossing > now:
                return Place(room, "waiting", 1, crossing, crossing - now)
            passed = self._cross(room, account_id, claim_id, crossing, now)
            if passed is None:  # moved to the back: answered from its new admission time
                return self._answer(room, account_id, self._known.get(claim_id), now, claim_id)
            self._passed.put(claim_id, passed)
        if now >= passed + pass_ttl_s():
            return Place(room, "expired", 0, passed, 0.0)
        token, expires = admission.sign_pass(_key(), account_id, room, passed, pass_ttl_s())
        ROOM_EVENTS.labels("pass-issued").inc()
        return Place(room, "admitted", 0, passed, 0.0, token, expires)

    def _cross(self, room, account_id, claim_id, crossing: float, now: float) -> float | None:
        """The clock passed the place: when its pass starts, kept once in the store (the first to get
        here sets it) - or None if the place was moved back since its admission time was given: then
        it has a new one at the end of the line (in `_known`)."""
        store = self.store(dt.datetime.fromtimestamp(now, dt.timezone.utc))
        if store.update_one({"_id": claim_id, "passed_at": {"$exists": False}, "moved_back": {"$exists": False}},
                            {"$set": {"passed_at": crossing}}).modified_count:
            return crossing
        doc = store.find_one({"_id": claim_id}) or {}
        if "passed_at" in doc:
            return doc["passed_at"]
        if not admission.moved_back_since_given(doc.get("moved_back"), self._given_at(store, room, doc, now)):
            if store.update_one({"_id": claim_id, "passed_at": {"$exists": False}},
                                {"$set": {"passed_at": crossing}}).modified_count:
                return crossing
            return (store.find_one({"_id": claim_id}, {"passed_at": 1}) or {}).get("passed_at", crossing)
        expires = dt.datetime.fromtimestamp(room.until, dt.timezone.utc) + RETENTION
        n, admit_at = self._ticket(store, room, account_id, now, expires)
        given = {"numbered_at": doc["numbered_at"]} if "numbered_at" in doc else {"numbered_at": {"$exists": False}}
        if store.update_one({"_id": claim_id, "passed_at": {"$exists": False}, **given},
                            {"$set": {"ticket": n, "admit_at": admit_at, "numbered_at": now}}).modified_count:
            ROOM_EVENTS.labels("place-requeued").inc()
        else:  # another process moved it at the same time: its ticket stands, this one is a gap
            admit_at = (store.find_one({"_id": claim_id}) or {}).get("admit_at", admit_at)
        self._known.put(claim_id, admit_at)
        self._moved.put(claim_id, True)
        return None

    def _given_at(self, store, room, doc: dict, now: float) -> float:
        """When the place's admission time was given: its ticket's, or the draw's for a drawn place."""
        if "numbered_at" in doc:
            return doc["numbered_at"]
        if doc.get("admit_at") is None and "lot" in doc:
            expires = dt.datetime.fromtimestamp(room.until, dt.timezone.utc) + RETENTION
            return self._draw(store, room, now, expires)["made_at"]
        return doc.get("joined", 0.0)

    # numbered places ------------------------------------------------------------------------
    def _numbered(self, store, room, account_id, now, expires, claim_id, replace: bool = False) -> dict:
        """A ticket at the end of the line, then the account's claim on it. Two asks of one account
        at once may both take a ticket: the claim (a unique insert) keeps one, the other ticket is a
        gap of 1/rate in the pace, never a second place."""
        n, admit_at = self._ticket(store, room, account_id, now, expires)
        claim = {"_id": claim_id, "room": room.room_id, "account": account_id, "ticket": n, "admit_at": admit_at,
                 "joined": now, "numbered_at": now, "expires": expires}
        if replace:
            store.update_one({"_id": claim_id, "ticket": {"$exists": False}},
                             {"$set": {"ticket": n, "admit_at": admit_at, "numbered_at": now}})
            return store.find_one({"_id": claim_id})
        if insert_unique(store, claim):
            ROOM_EVENTS.labels("place-numbered").inc()
            return claim
        return store.find_one({"_id": claim_id})

    def _ticket(self, store, room, account_id, now, expires) -> tuple[int, float]:
        with self._guard:
            lock = self._locks.setdefault(room.room_id, threading.Lock())
        with lock:  # one taker per process: the processes only step on each other
            base = self._base_admit(store, room, now, expires)
            virtual, _rate = self.clock(room, now)  # an empty line admits at once: now on the room's clock
            n = self._ends.get(room.room_id) or self._first_free(store, room)
            while True:
                if n == 1:
                    previous = base
                else:
                    before = store.find_one({"_id": f"{room.room_id}|t|{n - 1}"}, {"admit_at": 1})
                    if before is None:  # only from a stale hint: step back
                        n -= 1
                        continue
                    previous = before["admit_at"]
                admit_at = admission.next_admit_at(previous, virtual, room.rate)
                if insert_unique(store, {"_id": f"{room.room_id}|t|{n}", "room": room.room_id, "account": account_id,
                                         "admit_at": admit_at, "joined": now, "expires": expires}):
                    break
                n += 1
            self._ends[room.room_id] = n + 1
            if n % 20 == 0:  # a hint for other processes' first ticket; a lost race only costs them steps
                upsert(store, {"_id": f"{room.room_id}|head"}, {"$max": {"n": n}, "$setOnInsert": {"expires": expires}})
            return n, admit_at

    def _first_free(self, store, room) -> int:
        head = store.find_one({"_id": f"{room.room_id}|head"}) or {}
        n = max(1, int(head.get("n", 1)))
        while store.find_one({"_id": f"{room.room_id}|t|{n}"}, {"_id": 1}) is not None:
            n += 1
        return n

    def _base_admit(self, store, room, now, expires) -> float:
        """The admission time before ticket 1: the last drawn place's, or just before the room's draw closed."""
        if room.draw_seconds <= 0:
            return room.draw_closes_at - 1.0 / room.rate
        draw = self._draw(store, room, now, expires)
        if draw["count"] == 0:
            return room.draw_closes_at - 1.0 / room.rate
        return admission.drawn_admit_at(room, draw["count"], draw["rate"])

    # the draw -------------------------------------------------------------------------------
    def _draw(self, store, room, now, expires) -> dict:
        cached = self._draws.get(room.room_id)
        if cached is not None:
            return cached
        doc = store.find_one({"_id": f"{room.room_id}|draw"})
        if doc is None:
            # every drawn place of the room (one scan, once per room, after the draw closed); a place
            # moved back for asking too often is not drawn: it is numbered after the draw
            entries = [(d["account"], d["lot"]) for d in store.find(
                {"room": room.room_id, "lot": {"$exists": True}}, {"account": 1, "lot": 1, "joined": 1, "moved_back": 1})
                if d.get("joined", 0) < room.draw_closes_at and d.get("moved_back") is None]
            doc = {"_id": f"{room.room_id}|draw", "order": admission.draw_order(entries), "rate": room.rate,
                   "made_at": now, "expires": expires}
            if insert_unique(store, doc):
                logger.info("waiting room drawn", extra={"room": room.room_id, "places": len(doc["order"])})
            else:
                doc = store.find_one({"_id": f"{room.room_id}|draw"})
        draw = {"rank": {a: i + 1 for i, a in enumerate(doc["order"])}, "count": len(doc["order"]),
                "rate": doc["rate"], "made_at": doc["made_at"]}
        with self._guard:
            if len(self._draws) > 100:
                self._draws.clear()
            self._draws[room.room_id] = draw
        return draw


ROOMS = Rooms()


class Tally:
    """The outcomes of admitted bookings, summed per room and second in this process and written by a
    background thread every quarter second while there are any: one store write per second per
    worker, none in a request; the thread sleeps until the next outcome when there is none."""

    def __init__(self, rooms: Rooms):
        self._rooms, self._lock, self._counts, self._thread = rooms, threading.Lock(), {}, None
        self._added = threading.Event()

    def add(self, room: admission.Room, event: str, now: float) -> None:
        with self._lock:
            key = (room, int(now))
            per = self._counts.setdefault(key, {})
            per[event] = per.get(event, 0) + 1
            self._added.set()
            if self._thread is None or not self._thread.is_alive():  # started lazily: after gunicorn's fork
                self._thread = threading.Thread(target=self._run, name="waiting-room-tally", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, {}
            self._added.clear()
        for (room, second), per in counts.items():
            try:
                self._rooms.count(room, second, per)
            except mongo.STORE_UNREACHABLE:
                logger.warning("waiting-room pace not counted: the store is unreachable")

    def _run(self) -> None:
        while True:
            self._added.wait()
            time.sleep(0.25)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a counter must never stop the thread for good
                logger.exception("waiting-room tally failed")


TALLY = Tally(ROOMS)


# -- in front of the load shedder ------------------------------------------------------------------
ROOM_ENDPOINTS = ("waiting_room.take_place", "waiting_room.room_state")
BOOKING_ENDPOINTS = ("applications.book_appointment", "appointments.reschedule_appointment")


def install(app: Flask) -> loadshed.Limiter:
    """Register before the load shedder. A booking at an office whose room is active is checked for its
    pass here, so the refusals (most of a rush's booking requests: everyone without a pass, bots
    every 20 ms) cost no place among booking's in-flight requests and no service call. The room's own
    requests, cheap (a place is read from this process's memory after the first ask), are bounded by
    a limiter of their own (WAITING_ROOM_MAX_INFLIGHT per worker) instead of booking's: beyond it,
    503 overloaded with Retry-After, as the load shedder answers."""
    limiter = loadshed.Limiter(max_inflight=env_int("WAITING_ROOM_MAX_INFLIGHT", 8), queue_timeout_s=0.1,
                               max_waiting=env_int("WAITING_ROOM_MAX_WAITING", 8))

    @app.before_request
    def in_front():
        endpoint = request.endpoint
        if endpoint in BOOKING_ENDPOINTS and request.method in ("POST", "PUT"):
            guard()
        elif endpoint in ROOM_ENDPOINTS:
            refused = limiter.try_acquire()
            if refused is not None:
                loadshed.SHED.labels(request.method, request.url_rule.rule, "waiting-room-" + refused).inc()
                return response(Problem(503, "overloaded", loadshed.BUSY,
                                        retry_after=loadshed.RETRY_AFTER_S))
            g.room_admitted = True
            g.loadshed_exempt = True  # bounded by its own limiter above
        return None

    @app.after_request
    def paced(resp):
        if not g.get("admitted_account"):
            return resp
        # An admitted booking shed with 503: its holder may try again after Retry-After, not sooner
        # (a bot retrying every 20 ms would otherwise win the seats among the admitted).
        if resp.status_code in (429, 503):
            _not_before.put(g.admitted_account, time.monotonic() + int(resp.headers.get("Retry-After", "1")))
        # what the room's pace is measured from: booking answered (a seat or a definitive no), or a
        # pass holder was shed or kept waiting (booking is behind the room's pace)
        if resp.status_code == 503 or g.get("priority_waited_s", 0.0) > CONGESTED_WAIT_S:
            TALLY.add(g.admitted_room, "congested", admission.now_s())
        if resp.status_code < 500 and resp.status_code != 429:
            TALLY.add(g.admitted_room, "done", admission.now_s())
        return resp

    @app.teardown_request
    def release(_exc):
        if g.pop("room_admitted", False):
            limiter.release()
        account = g.pop("booking_account", None)
        if account is not None:
            with _booking_guard:
                _booking_now.discard(account)

    app.extensions["waiting_room"] = limiter
    return limiter


def guard() -> None:
    """Booking and rescheduling: while the slot's office has an active room, only with a valid pass.
    Runs before the view (and its Idempotency-Key record, so a refusal is never replayed as the answer)."""
    body = request.get_json(silent=True)
    slot_id = body.get("slot_id") if isinstance(body, dict) else None
    if not isinstance(slot_id, str) or slot_id.count("-") < 3:
        return  # the view refuses it
    office_id, _day, lane, _start = slot_id.split("-", 3)
    if lane == "OUTREACH":  # outreach seats are a group's, by invitation
        return
    principal = auth.current()
    if principal is None or principal.role != "APPLICANT":
        return  # the view answers 401/403
    room = room_of(office_id)
    if room is not None:
        claims = check_pass(room, principal.account_id)
        wait = (_not_before.get(principal.account_id) or 0) - time.monotonic()
        if wait > 0:
            ROOM_EVENTS.labels("refused-too-early").inc()
            raise Problem(429, "too-many-requests", "retry this booking after Retry-After, not sooner",
                          retry_after=max(1, math.ceil(wait)))
        # one booking per account at a time in this worker: a second copy sent while the first waits
        # in line would only take someone else's place in it
        with _booking_guard:
            if principal.account_id in _booking_now:
                ROOM_EVENTS.labels("refused-too-early").inc()
                raise Problem(429, "too-many-requests", "your booking is already being processed; retry "
                              "after Retry-After if it fails", retry_after=1)
            _booking_now.add(principal.account_id)
        g.booking_account = principal.account_id
        g.admitted_account, g.admitted_room = principal.account_id, room
        # admitted means served: the load shedder lets it wait its turn among pass holders (never
        # past the pass's life) instead of refusing it in favour of whoever retries fastest
        g.priority_wait_s = max(0.0, min(pass_queue_s(), claims["exp"] - admission.now_s()))


# account -> when its admitted booking may be tried again (this worker; bounded)
_not_before = Memo(100_000)
# accounts whose admitted booking this worker is answering now
_booking_now: set[str] = set()
_booking_guard = threading.Lock()


def check_pass(room: admission.Room, account_id: str) -> dict:
    token = request.headers.get(PASS_HEADER, "")
    where = f"/v1/offices/{room.office_id}/waiting-room"
    if not token:
        ROOM_EVENTS.labels("refused-no-pass").inc()
        problem = Problem(429, "waiting-room",
                          f"booking at {room.office_id} goes through its waiting room now: take a place with POST "
                          f"{where} and send the admission pass it gives in the {PASS_HEADER} header",
                          retry_after=5, params={"office_id": room.office_id, "path": where},
                          headers={"Link": f'<{where}>; rel="waiting-room"'})
        raise problem
    try:
        claims = admission.verify_pass(_key(), token, account_id, room)
    except admission.PassRefused as refused:
        ROOM_EVENTS.labels("refused-bad-pass").inc()
        problem = Problem(403, "admission-pass-invalid", f"{refused}; take (or look up) your place with POST {where}",
                          params={"office_id": room.office_id, "path": where},
                          headers={"Link": f'<{where}>; rel="waiting-room"'})
        raise problem from None
    ROOM_EVENTS.labels("admitted-booking").inc()
    return claims


def _epoch(moment) -> float:
    return _aware(moment).timestamp() if isinstance(moment, dt.datetime) else float(moment)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
