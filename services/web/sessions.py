"""Server-side sessions: the browser holds only a random id in an HttpOnly, SameSite=Lax cookie;
the access token, CSRF token and language stay in this process.

In memory on purpose: the web app runs as one process with threads (gunicorn --workers 1), so one
dict is the whole store; a restart logs applicants out (they log in again; nothing is lost, every
state lives behind the gateway). More replicas need sticky sessions (the chart sets ClientIP
affinity), see docs/web.md."""
from __future__ import annotations

import secrets
import threading
import time

IDLE_S = 2 * 3600
MAX_SESSIONS = 50_000


class Store:
    def __init__(self):
        self._data: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def load(self, sid: str | None) -> tuple[str, dict, bool]:
        """(id, data, new): the session under `sid` if alive, else a fresh one."""
        now = time.monotonic()
        with self._lock:
            if sid and sid in self._data and now - self._data[sid][0] < IDLE_S:
                data = self._data[sid][1]
                self._data[sid] = (now, data)
                return sid, data, False
            if len(self._data) >= MAX_SESSIONS:
                self._evict(now)
            sid = secrets.token_urlsafe(32)
            data = {"csrf": secrets.token_urlsafe(24), "lang": "id"}
            self._data[sid] = (now, data)
            return sid, data, True

    def rotate(self, sid: str) -> str:
        """A new id for the same data (at login: a session id seen before login is not reused)."""
        with self._lock:
            entry = self._data.pop(sid, None) or (time.monotonic(), {})
            new = secrets.token_urlsafe(32)
            entry[1]["csrf"] = secrets.token_urlsafe(24)
            self._data[new] = entry
            return new

    def drop(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)

    def _evict(self, now: float) -> None:
        for sid in [s for s, (seen, _) in self._data.items() if now - seen >= IDLE_S]:
            del self._data[sid]
        if len(self._data) >= MAX_SESSIONS:  # still full: drop the least recently seen tenth
            for sid, _ in sorted(self._data.items(), key=lambda kv: kv[1][0])[: MAX_SESSIONS // 10]:
                del self._data[sid]
