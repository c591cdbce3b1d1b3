"""The web app's durable sessions (services/web/sessions.py) on the shared fake store: only a keyed
hash of the cookie's id and sealed data are stored; rotation, logout, idle expiry and the sweeper."""
from __future__ import annotations

import datetime as dt

import bson

from servicekit.clock import FixedClock
from services.web.sessions import IDLE_S, WINDOW_S, Store
from tests.unit import keys
from tests.unit.fakemongo import Database

T0 = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.timezone.utc)
TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-access-token"


def make(ring: str = keys.RING_1, db: Database | None = None, clock: FixedClock | None = None):
    db = db if db is not None else Database()
    clock = clock or FixedClock(T0)
    return Store(db, ring, clock), db, clock


def logged_in(store: Store) -> str:
    s = store.load(None)
    store.save(s)
    s = store.load(s.sid)
    store.rotate(s)
    s.data["token"] = TOKEN
    store.save(s)
    return s.sid


def test_the_store_holds_a_keyed_hash_of_the_id_and_no_token_in_clear():
    store, db, _ = make()
    sid = logged_in(store)
    [doc] = db["sessions"].docs.values()
    assert sid not in doc["_id"] and doc["_id"].startswith("k1:")
    raw = bson.encode(doc)
    assert TOKEN.encode() not in raw and b"secret-access-token" not in raw and sid.encode() not in raw
    again = store.load(sid)
    assert not again.new and again.data["token"] == TOKEN


def test_a_new_store_on_the_same_database_keeps_the_session():
    """A restart (or another replica) reads the same session."""
    store, db, clock = make()
    sid = logged_in(store)
    other, _, _ = make(db=db, clock=clock)
    assert other.load(sid).data["token"] == TOKEN


def test_rotation_at_login_retires_the_old_id():
    store, db, _ = make()
    s = store.load(None)
    store.save(s)
    before, csrf = s.sid, s.data["csrf"]
    store.rotate(s)
    s.data["token"] = TOKEN
    store.save(s)
    assert s.sid != before and s.data["csrf"] != csrf
    assert store.load(before).new  # the pre-login id opens nothing
    assert store.load(s.sid).data["token"] == TOKEN
    assert len(db["sessions"].docs) == 1


def test_logout_deletes_and_a_request_still_running_does_not_revive_it():
    store, db, _ = make()
    sid = logged_in(store)
    running = store.load(sid)  # another tab's request, loaded before the logout
    out = store.load(sid)
    store.drop(out)
    running.data["flash"] = ["late"]
    store.save(running)
    assert db["sessions"].docs == {}
    assert store.load(sid).new


def test_idle_expiry_on_read_and_touch_keeps_an_active_session():
    store, db, clock = make()
    sid = logged_in(store)
    clock.advance(seconds=IDLE_S - 10)
    s = store.load(sid)
    assert not s.new and s.touch_due
    store.save(s)  # an unchanged session is touched: its idle time starts again
    clock.advance(seconds=IDLE_S - 10)
    assert not store.load(sid).new
    clock.advance(seconds=20)
    assert store.load(sid).new  # idle too long: gone
    assert db["sessions"].docs == {}


def test_an_unchanged_session_is_not_written_within_a_minute():
    store, db, clock = make()
    sid = logged_in(store)
    before = dict(next(iter(db["sessions"].docs.values())))
    clock.advance(seconds=30)
    s = store.load(sid)
    assert not s.touch_due
    store.save(s)
    assert next(iter(db["sessions"].docs.values())) == before


def test_the_sweeper_deletes_only_sessions_idle_past_their_expiry():
    store, db, clock = make()
    idle = logged_in(store)
    active = logged_in(store)
    store.sweep()  # first round after start: nothing due
    assert len(db["sessions"].docs) == 2
    clock.advance(seconds=IDLE_S - 120)
    s = store.load(active)
    store.save(s)  # used again: queued in a later window
    clock.advance(seconds=120 + 2 * WINDOW_S)
    swept = Store(db, keys.RING_1, clock)  # another replica (or a restart) looks back over the past windows
    clock.advance(seconds=60)  # the next lease window
    assert swept.sweep() == 1
    assert store.load(idle).new and not store.load(active).new
    assert not any(e["session"] != store.hashes.digest(active) for e in db["session_expiry"].docs.values())


def test_sessions_under_an_older_key_still_open_after_a_new_key_is_put_first():
    store, db, clock = make()
    sid = logged_in(store)
    rotated, _, _ = make(ring=f"{keys.RING_2},{keys.RING_1}", db=db, clock=clock)
    s = rotated.load(sid)
    assert s.data["token"] == TOKEN
    fresh = rotated.load(None)
    fresh.data["lang"] = "en"
    rotated.save(fresh)
    assert db["sessions"].docs[fresh.key]["key_id"] == "k2" and fresh.key.startswith("k2:")


def test_a_record_that_does_not_open_is_dropped_not_served():
    store, db, _ = make()
    sid = logged_in(store)
    [doc] = db["sessions"].docs.values()
    sealed = bytes(doc["ciphertext"])
    doc["ciphertext"] = bson.Binary(sealed[:-1] + bytes([sealed[-1] ^ 1]))  # one bit off (a 0 byte could be 0 already)
    assert store.load(sid).new and db["sessions"].docs == {}


def test_a_visitor_who_only_reads_pages_costs_no_write_and_keeps_a_working_csrf_token():
    store, db, _ = make()
    first = store.load(None)
    store.save(first)
    assert db["sessions"].docs == {}  # nothing of its own yet
    again = store.load(first.sid)  # the next page (e.g. the login form posted back)
    assert again.new and again.sid == first.sid and again.data["csrf"] == first.data["csrf"]
    other = store.load(None)
    assert other.data["csrf"] != first.data["csrf"]
    again.data["lang"] = "en"  # the language switch: now it is stored
    store.save(again)
    assert store.load(first.sid).data["lang"] == "en" and len(db["sessions"].docs) == 1
    assert store.load("not-a-session-id").sid != "not-a-session-id"
