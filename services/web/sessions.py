"""Server-side sessions in the web service's own database (`passport_web`): the browser holds only a
random id in an HttpOnly, SameSite=Lax cookie; the store holds a keyed hash of that id and the
session's data (access token, CSRF token, language, ...) sealed with WEB_SESSION_KEYS.

Durable so that a restart logs nobody out and any replica serves any browser (no sticky sessions).
A stolen dump of the store gives no usable cookie (only HMACs of ids) and no token (AES-GCM, the
record's `_id` as associated data). No in-process cache: every request reads its session by `_id`
(the one lookup FerretDB serves from an index), so a logged-out session is gone on every replica.

Idle expiry without TTL indexes (FerretDB has none): a read past `expires_at` deletes the record
and starts a fresh session; a sweeper deletes sessions nobody comes back to, reading only the
expiry windows that have passed, by `_id` (`session_expiry`: `<window>:<n>` -> session hash), like
payment's billing expiry queue.

Collections:
- `sessions`        `_id` = `<kid>:<hmac>` of the cookie's id; key_id, nonce, ciphertext (BSON of
                    the data), expires_at, window (the expiry window it is queued in).
- `session_expiry`  `<window>:<n>` -> {session}: sessions by the 10-minute window of their expiry.
- `leases`          one sweeping replica per minute (servicekit.lease).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import threading

import bson
from cryptography.exceptions import InvalidTag

from servicekit.clock import Clock
from servicekit.crypto import KeyRing, LookupKeys
from servicekit.lease import WindowLease
from servicekit.mongo import Appender, insert_unique, read_numbered

logger = logging.getLogger("web.sessions")

IDLE_S = 2 * 3600
TOUCH_S = 60            # an unchanged session's expiry is pushed at most once a minute (one write)
WINDOW_S = 600          # expiry windows of the sweeper
LOOKBACK_WINDOWS = 48 * 3600 // WINDOW_S  # at start a replica sweeps the last 48 h of windows
SWEEP_EVERY_S = 60
SID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def lookup_keys(ring_spec: str) -> LookupKeys:
    """HMAC keys for the session-id hashes, derived from each key of the ring (one secret to
    rotate; a separate purpose, so a hash reveals nothing about the encryption key)."""
    ring = KeyRing(ring_spec, "WEB_SESSION_KEYS")  # validates the spec
    parts = []
    for part in (p.strip() for p in ring_spec.split(",") if p.strip()):
        kid, _, b64 = part.partition(":")
        derived = hmac.new(base64.b64decode(b64), b"passport-web-session-id", hashlib.sha256).digest()
        parts.append(f"{kid}:{base64.b64encode(derived).decode()}")
    return LookupKeys(",".join(parts), "WEB_SESSION_KEYS")


class Session:
    """One request's view of a session; saved by Store.save at the end of the request."""

    def __init__(self, sid: str, data: dict, new: bool, key: str = "", fingerprint: bytes = b"",
                 touch_due: bool = True, window: int | None = None):
        self.sid, self.data, self.new = sid, data, new
        self.key, self.fingerprint, self.touch_due, self.window = key, fingerprint, touch_due, window
        self.dropped = False


def _fingerprint(data: dict) -> bytes:
    return hashlib.sha256(bson.encode(data)).digest()


class Store:
    def __init__(self, db, ring_spec: str, clock: Clock | None = None, idle_s: int = IDLE_S):
        self.sessions = db["sessions"]
        self.expiry = db["session_expiry"]
        self.ring = KeyRing(ring_spec, "WEB_SESSION_KEYS")
        self.hashes = lookup_keys(ring_spec)
        self.clock = clock or Clock()
        self.idle = dt.timedelta(seconds=idle_s)
        self._appender = Appender(self.expiry)
        self._lease = WindowLease(db, "web-session-sweep", SWEEP_EVERY_S, self.clock)
        self._swept_to: int | None = None

    def ping(self) -> bool:
        """Readiness: the session store answers."""
        try:
            self.sessions.database.client.admin.command("ping")
            return True
        except Exception:  # unreachable, or not a real client (tests): not ready
            return False

    # -- a request's session ----------------------------------------------------------------
    def load(self, sid: str | None) -> Session:
        """The session under the cookie's `sid` if alive, else a fresh one (written by save())."""
        if sid and SID.fullmatch(sid):
            for key in self.hashes.digests(sid):  # the current key first; older ones until their sessions idle out
                doc = self.sessions.find_one({"_id": key})
                if doc is None:
                    continue
                now = self.clock.now()
                if doc["expires_at"] <= now:
                    self.sessions.delete_one({"_id": key})
                    break
                try:
                    data = bson.decode(self.ring.open(doc, key))
                except (InvalidTag, KeyError, bson.errors.BSONError):
                    logger.warning("a session record did not open (key missing or record altered): dropped")
                    self.sessions.delete_one({"_id": key})
                    break
                touch_due = doc["expires_at"] - now < self.idle - dt.timedelta(seconds=TOUCH_S)
                return Session(sid, data, False, key, _fingerprint(data), touch_due, doc.get("window"))
            # Not stored (never written, idled out or logged out): a fresh anonymous session under
            # the same id; whatever it held is gone, and a login gives it a new id anyway.
            return Session(sid, self._fresh(sid), True)
        sid = secrets.token_urlsafe(32)
        return Session(sid, self._fresh(sid), True)

    def _fresh(self, sid: str) -> dict:
        """A new session's data. Its CSRF token is derived from the id, so a visitor who only reads
        pages costs no write: the session is stored once it holds something of its own."""
        return {"csrf": self.hashes.digest("csrf:" + sid).partition(":")[2][:32], "lang": "id"}

    def rotate(self, session: Session) -> None:
        """A new id for the same data (at sign-in: an id seen before sign-in is not reused); the old
        record is deleted at once, the new one written by save()."""
        if not session.new:
            self.sessions.delete_one({"_id": session.key})
        session.sid, session.new, session.key, session.window = secrets.token_urlsafe(32), True, "", None
        session.data["csrf"] = secrets.token_urlsafe(24)

    def drop(self, session: Session) -> None:
        """Logout: the record is deleted; the cookie's id opens nothing any more, on any replica."""
        if not session.new:
            self.sessions.delete_one({"_id": session.key})
        session.dropped = True

    def save(self, session: Session) -> None:
        """Write what changed: a new session is inserted; an existing one is updated (never
        re-created: a request still running when its session was logged out does not revive it)."""
        if session.dropped or (session.new and session.data == self._fresh(session.sid)):
            return
        fingerprint = _fingerprint(session.data)
        if not session.new and fingerprint == session.fingerprint and not session.touch_due:
            return
        expires = self.clock.now() + self.idle
        window = int(expires.timestamp()) // WINDOW_S
        if session.new:
            session.key = self.hashes.digest(session.sid)
        fields = {"expires_at": expires, "window": window}
        if session.new or fingerprint != session.fingerprint:
            fields.update(self.ring.seal(bson.encode(session.data), session.key))
        if window != session.window:  # queued for the sweeper before it can be missed
            self._appender.append(window, _entry_key(window), lambda n: {"session": session.key})
        if session.new:
            if not insert_unique(self.sessions, {"_id": session.key, **fields}):
                # A parallel first request of the same anonymous id stored it first (a login
                # always makes a new id, so this never brings back a logged-out session).
                self.sessions.update_one({"_id": session.key}, {"$set": fields})
        else:
            self.sessions.update_one({"_id": session.key}, {"$set": fields})
        session.new, session.fingerprint, session.touch_due, session.window = False, fingerprint, False, window

    # -- the sweeper ----------------------------------------------------------------------------
    def sweep(self) -> int:
        """Delete sessions whose expiry windows have passed; one replica per minute does it."""
        if not self._lease.held():
            return 0
        now = self.clock.now()
        last = int(now.timestamp()) // WINDOW_S - 1  # windows wholly in the past
        start = self._swept_to + 1 if self._swept_to is not None else last - LOOKBACK_WINDOWS
        deleted = 0
        for window in range(start, last + 1):
            entries = read_numbered(self.expiry, _entry_key(window))
            for entry in entries:
                doc = self.sessions.find_one({"_id": entry["session"]}, {"expires_at": 1})
                # A session used since is queued in a later window: only an expired one goes.
                if doc is not None and doc["expires_at"] <= now:
                    deleted += self.sessions.delete_one({"_id": entry["session"], "expires_at": doc["expires_at"]}).deleted_count
            for entry in entries:
                self.expiry.delete_one({"_id": entry["_id"]})
        self._swept_to = last
        return deleted

    def start_sweeper(self) -> threading.Thread:
        def loop():
            stop = threading.Event()
            while not stop.wait(SWEEP_EVERY_S):
                try:
                    if n := self.sweep():
                        logger.info("expired sessions deleted: %d", n)
                except Exception:  # the store was unreachable: the next round catches up
                    logger.warning("session sweep failed; retried in %ds", SWEEP_EVERY_S, exc_info=True)

        thread = threading.Thread(target=loop, name="web-session-sweeper", daemon=True)
        thread.start()
        return thread


def _entry_key(window: int):
    return lambda n: f"{window}:{n}"
