"""The waiting room's admission rules (services/gateway/admission.py) and its places kept in a store
(waiting_room.Rooms on the in-memory store): order, one place per account, pace, the pass."""
from __future__ import annotations

import time

import jwt
import pytest

from servicekit.cache import Memo

from services.gateway import admission, waiting_room
from tests.unit.fakemongo import Collection

T0 = 1_800_000_000.0
SETTINGS = admission.Settings(rate=2.0, draw_seconds=30, always_on=frozenset(), release_minutes=0,
                              prequeue_minutes=15)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "unit-test-secret-of-the-waiting-room-0123456789")
    waiting_room._key.cache_clear()
    yield
    waiting_room._key.cache_clear()


def room(draw_seconds: float = 0, rate: float = 2.0, opened: float = T0) -> admission.Room:
    return admission.Room("TBK", f"TBK:s{int(opened)}", opened, opened + 3600, rate, draw_seconds, "supervisor")


# -- which room is active ---------------------------------------------------------------------
def test_no_room_unless_switched_on_or_configured():
    assert admission.active_room("TBK", T0, None, [T0 - 60], SETTINGS) is None  # releases: off by default


def test_a_supervisor_switch_opens_a_room_for_its_time_and_wins_over_the_schedule():
    on = {"active": True, "from": T0, "until": T0 + 600, "rate": 5.0, "draw_seconds": 0}
    r = admission.active_room("TBK", T0 + 10, on, [], SETTINGS)
    assert (r.room_id, r.rate, r.draw_seconds, r.source) == (f"TBK:s{int(T0)}", 5.0, 0, "supervisor")
    assert admission.active_room("TBK", T0 + 600, on, [], SETTINGS) is None
    off = {"active": False, "from": T0, "until": T0 + 600}
    always = admission.Settings(2.0, 30, frozenset({"*"}), 0, 15)
    assert admission.active_room("TBK", T0 + 10, off, [], always) is None
    assert admission.active_room("TBK", T0 + 700, off, [], always).source == "config"


def test_a_release_is_guarded_from_before_its_opening_and_drawn_until_after_it():
    settings = admission.Settings(2.0, 30, frozenset(), release_minutes=20, prequeue_minutes=15)
    opens = T0 + 3600
    assert admission.active_room("TBK", opens - 16 * 60, None, [opens], settings) is None
    r = admission.active_room("TBK", opens - 10 * 60, None, [opens], settings)
    assert r.source == "release" and r.draw_closes_at == opens + 30 and r.until == opens + 20 * 60
    assert admission.active_room("TBK", opens + 20 * 60, None, [opens], settings) is None


# -- order and pace ---------------------------------------------------------------------------
def test_asking_again_returns_the_same_place():
    rooms, r = waiting_room.Rooms(Collection()), room()
    first = rooms.place(r, "acc-1", T0 + 1, join=True)
    again = [rooms.place(r, "acc-1", T0 + 1 + i * 0.02, join=True) for i in range(50)]
    assert {p.admit_at for p in again} == {first.admit_at}


def test_numbered_places_are_admitted_in_arrival_order_at_the_rate():
    rooms, r = waiting_room.Rooms(Collection()), room(rate=2.0)
    places = [rooms.place(r, f"acc-{i}", T0 + 1 + i * 0.01, join=True) for i in range(10)]
    admits = [p.admit_at for p in places]
    assert admits == sorted(admits)
    assert admits[0] == pytest.approx(T0 + 1)  # an empty line admits at once
    assert all(b - a == pytest.approx(0.5) for a, b in zip(admits, admits[1:]))  # a burst is spread at the rate
    assert [p.position for p in places[1:]] == list(range(1, 10))
    assert places[0].status == "admitted" and places[0].admission_pass


def test_two_processes_sharing_the_store_keep_one_line():
    store = Collection()
    a, b, r = waiting_room.Rooms(store), waiting_room.Rooms(store), room(rate=4.0)
    admits = [(a if i % 2 else b).place(r, f"acc-{i}", T0 + 1 + i * 0.001, join=True).admit_at for i in range(20)]
    assert admits == sorted(admits) and len(set(admits)) == 20
    tickets = sorted(int(k.rsplit("|", 1)[1]) for k in store.docs if "|t|" in k)
    assert tickets == list(range(1, 21))  # gap-free: each place one number


def test_in_the_draw_the_order_is_chance_not_speed():
    """Everybody in the room before the draw closes is ordered by lot: who asked first or most often
    (a bot every 20 ms) gets no better place on average."""
    early_ranks = []
    for trial in range(60):
        rooms, r = waiting_room.Rooms(Collection()), room(draw_seconds=30)
        for i in range(10):  # acc-0 arrives first and asks 100 times; the others once, later
            for _ in range(100 if i == 0 else 1):
                assert rooms.place(r, f"acc-{i}", T0 + 1 + i, join=True).status == "drawing"
        after = T0 + 30 + waiting_room.DRAW_GRACE_S
        places = {i: rooms.place(r, f"acc-{i}", after, join=True) for i in range(10)}
        admits = sorted(p.admit_at for p in places.values())
        # the first admitted when the draw is made, the others one per second: after a draw the
        # room's clock starts at half its ceiling (2/s) and finds the pace from there
        assert places[0].admit_at == after or admits[0] == pytest.approx(after)
        assert all(b - a == pytest.approx(1.0) for a, b in zip(admits, admits[1:]))
        early_ranks.append(admits.index(places[0].admit_at) + 1)
    mean = sum(early_ranks) / len(early_ranks)
    assert 3.5 <= mean <= 7.5, mean  # uniform over 1..10: mean 5.5; first-come would give 1


def test_after_the_draw_newcomers_queue_behind_the_drawn():
    rooms, r = waiting_room.Rooms(Collection()), room(draw_seconds=10, rate=1.0)
    for i in range(5):
        rooms.place(r, f"drawn-{i}", T0 + i, join=True)
    late = T0 + 10 + waiting_room.DRAW_GRACE_S
    drawn_last = max(rooms.place(r, f"drawn-{i}", late, join=True).admit_at for i in range(5))
    newcomer = rooms.place(r, "late", late + 0.1, join=True)
    assert newcomer.admit_at == pytest.approx(drawn_last + 1.0)
    assert newcomer.status == "waiting" and newcomer.position >= 1


def test_joining_just_after_the_draw_closed_waits_for_the_draw_without_a_place():
    rooms, r = waiting_room.Rooms(Collection()), room(draw_seconds=10)
    place = rooms.place(r, "acc", T0 + 11, join=True)
    assert place.status == "drawing" and place.position is None and place.wait_s > 0


def test_a_place_taken_after_the_draw_was_made_is_numbered_after_it():
    store = Collection()
    rooms, r = waiting_room.Rooms(store), room(draw_seconds=10, rate=1.0)
    rooms.place(r, "on-time", T0 + 1, join=True)
    made = T0 + 10 + waiting_room.DRAW_GRACE_S
    drawn = rooms.place(r, "on-time", made, join=True)
    # a request that decided "in the draw" but whose insert landed after the draw was made
    store.insert_one({"_id": f"{r.room_id}|a|slow", "room": r.room_id, "account": "slow", "lot": 1,
                      "joined": T0 + 9.9, "expires": None})
    slow = rooms.place(r, "slow", made + 1, join=True)
    assert slow.admit_at == pytest.approx(drawn.admit_at + 1.0)
    assert rooms.place(r, "slow", made + 2, join=True).admit_at == slow.admit_at


def test_a_pass_expires_and_asking_again_does_not_renew_it():
    rooms, r = waiting_room.Rooms(Collection()), room()
    admitted = rooms.place(r, "acc", T0 + 1, join=True)
    assert admitted.status == "admitted"
    later = rooms.place(r, "acc", T0 + 1 + waiting_room.pass_ttl_s() - 1, join=True)
    assert later.pass_expires_at == admitted.pass_expires_at
    assert rooms.place(r, "acc", T0 + 1 + waiting_room.pass_ttl_s(), join=True).status == "expired"


def test_reading_a_place_never_takes_one():
    rooms = waiting_room.Rooms(Collection())
    assert rooms.place(room(), "acc", T0 + 1, join=False) is None


# -- asking again and again before the time told moves a place back ---------------------------------
def test_early_asks_are_counted_against_the_advice_and_over_once_per_window():
    early = admission.EarlyAsks(limit=3, window_s=60)
    assert not early.note("p", T0, T0 + 5)  # the first ask: nothing advised yet
    assert not early.note("p", T0 + 5, T0 + 9)  # came back when told
    assert not early.note("p", T0 + 8.8, T0 + 12)  # within the tolerance
    assert [early.note("p", T0 + 9 + i * 0.02, T0 + 20) for i in range(6)] == [False] * 3 + [True, False, False]
    # the next window counts afresh (its first ask came after the time told: not early)
    assert [early.note("p", T0 + 60 + i * 0.02, T0 + 80) for i in range(5)] == [False] * 4 + [True]
    assert not early.note("p", T0 + 61, None) and not early.note("p", T0 + 61.1, None)  # admitted: nothing advised
    assert not early.note("other", T0, T0 + 5)


@pytest.fixture
def early_limit(monkeypatch):
    monkeypatch.setattr(waiting_room, "early_ask_limit", lambda: (5, 60.0))


def test_a_place_asked_for_early_again_and_again_in_the_draw_is_numbered_after_everybody_drawn(early_limit):
    store = Collection()
    rooms, r = waiting_room.Rooms(store), room(draw_seconds=10, rate=1.0)
    for i in range(6):
        assert rooms.ask(r, f"acc-{i}", T0 + 1 + i).moved_back is False
    asks = [rooms.ask(r, "acc-0", T0 + 7 + i * 0.02) for i in range(8)]  # a bot: every 20 ms, told to wait
    assert [a.moved_back for a in asks] == [False] * 5 + [True] * 3  # the 6th early ask, and on
    made = T0 + 10 + waiting_room.DRAW_GRACE_S
    places = {i: waiting_room.Rooms(store).ask(r, f"acc-{i}", made) for i in range(6)}  # another process
    honest = sorted(places[i].admit_at for i in range(1, 6))
    assert places[0].admit_at == pytest.approx(honest[-1] + 1.0)  # after all five drawn, whatever its lot
    assert places[0].moved_back and not any(places[i].moved_back for i in range(1, 6))
    assert "acc-0" not in store.docs[f"{r.room_id}|draw"]["order"]


def test_a_place_moved_back_after_its_time_was_given_goes_to_the_end_when_its_turn_comes(early_limit):
    store = Collection()
    bot, other, r = waiting_room.Rooms(store), waiting_room.Rooms(store), room(rate=1.0)
    first = other.ask(r, "bot", T0 + 1)  # an empty line: admitted at once, not moved
    assert first.status == "admitted"
    line = [other.ask(r, f"acc-{i}", T0 + 1.1 + i * 0.01) for i in range(4)]  # admitted at T0+2 .. T0+5
    late = other.ask(r, "late-bot", T0 + 1.2)  # its time is T0 + 6
    assert late.admit_at == pytest.approx(T0 + 6)
    for i in range(7):  # asks every 20 ms in another process: past the limit there
        moved = bot.ask(r, "late-bot", T0 + 1.3 + i * 0.02)
    assert moved.moved_back and moved.admit_at == pytest.approx(T0 + 6)  # still its old time until its turn
    for i in range(7):
        assert bot.ask(r, "bot", T0 + 1.5 + i * 0.02).status == "admitted"  # an admitted place is never moved
    behind = other.ask(r, "honest-late", T0 + 1.6)  # T0 + 7
    turn = other.ask(r, "late-bot", T0 + 6.1)  # its turn in the process that still has its old time
    assert turn.status == "waiting" and turn.admit_at == pytest.approx(behind.admit_at + 1.0)
    assert turn.moved_back
    # once: at its new time it is admitted (it stopped asking early), in either process
    assert bot.place(r, "late-bot", T0 + 8.2, join=True).status == "admitted"
    assert other.place(r, "late-bot", T0 + 8.3, join=True).admission_pass
    assert [p.status for p in line] == ["waiting"] * 4


def test_a_person_following_the_advice_is_never_moved_back(early_limit):
    rooms, r = waiting_room.Rooms(Collection()), room(rate=0.2, draw_seconds=20)
    for i in range(7):
        rooms.ask(r, f"acc-{i}", T0 + 1)
    now, seen = T0 + 21, []  # after the draw: numbered behind the seven drawn, so it waits and asks again
    while now < T0 + 120:
        place = rooms.ask(r, "acc-7", now)
        seen.append(place.moved_back)
        if place.status == "admitted":
            break
        now += place.poll_after_ms / 1000
    assert place.status == "admitted" and len(seen) >= 3 and not any(seen), seen


# -- the pass ---------------------------------------------------------------------------------
def key() -> bytes:
    return waiting_room._key()


def live_room() -> admission.Room:
    now = time.time()
    return admission.Room("TBK", f"TBK:s{int(now)}", now - 10, now + 600, 2.0, 0, "supervisor")


def test_a_pass_admits_its_account_to_its_room_only():
    r = live_room()
    token, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 1, 60)
    assert admission.verify_pass(key(), token, "acc-1", r)["room"] == r.room_id
    with pytest.raises(admission.PassRefused, match="another account"):
        admission.verify_pass(key(), token, "acc-2", r)
    other = admission.Room("TBK", "TBK:s1", r.opened_at, r.until, 2.0, 0, "supervisor")
    with pytest.raises(admission.PassRefused, match="another waiting room"):
        admission.verify_pass(key(), token, "acc-1", other)


def test_a_forged_or_tampered_pass_is_refused():
    r = live_room()
    claims = {"sub": "acc-1", "room": r.room_id, "office": "TBK", "aud": admission.PASS_AUDIENCE,
              "iss": admission.PASS_ISSUER, "nbf": int(time.time()) - 1, "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, b"a key the gateway does not have" * 2, algorithm="HS256")
    with pytest.raises(admission.PassRefused, match="not valid"):
        admission.verify_pass(key(), forged, "acc-1", r)
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(admission.PassRefused):
        admission.verify_pass(key(), unsigned, "acc-1", r)
    token, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 1, 60)
    head, body, sig = token.split(".")
    with pytest.raises(admission.PassRefused):
        admission.verify_pass(key(), ".".join([head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], sig]),
                              "acc-1", r)
    # an access token of the gateway is not a pass (another key, no audience)
    access = jwt.encode({"sub": "acc-1", "exp": int(time.time()) + 60}, "x" * 40, algorithm="HS256")
    with pytest.raises(admission.PassRefused):
        admission.verify_pass(key(), access, "acc-1", r)


def test_an_expired_or_early_pass_is_refused():
    r = live_room()
    expired, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 120, 60)
    with pytest.raises(admission.PassRefused, match="expired"):
        admission.verify_pass(key(), expired, "acc-1", r)
    early, _ = admission.sign_pass(key(), "acc-1", r, time.time() + 60, 60)
    with pytest.raises(admission.PassRefused, match="not valid yet"):
        admission.verify_pass(key(), early, "acc-1", r)


def test_position_and_poll_advice():
    assert admission.ahead_of(T0 + 5, T0, 2.0) == 10
    assert admission.ahead_of(T0 + 0.1, T0, 2.0) == 1
    assert admission.ahead_of(T0, T0, 2.0) == 0
    # the wait is an estimate (the pace follows booking): come back at half of it, exactly when close
    assert admission.poll_after(0.2) == 1 and admission.poll_after(1.5) == 2 and admission.poll_after(7.5) == 4
    assert admission.poll_after(600) == 30


# -- the pace follows booking (the room's clock) ---------------------------------------------------
def test_the_pace_drops_to_what_booking_completes_when_pass_holders_wait_and_grows_back():
    store = Collection()
    a, b, r = waiting_room.Rooms(store), waiting_room.Rooms(store), room(rate=10.0)
    places = [a.place(r, f"acc-{i}", T0 + 1 + i * 0.001, join=True) for i in range(100)]
    assert places[-1].position == 99 and places[-1].wait_s == pytest.approx(9.8, abs=0.05)
    for second in range(int(T0) + 1, int(T0) + 6):  # booking answered 2 a second and pass holders waited
        b.count(r, second, {"done": 2, "congested": 1})
    virtual, rate = b.clock(r, T0 + 6)
    assert rate == pytest.approx(2.0)  # measured across "replicas": a counted, b moved the clock
    later = a.place(r, "acc-99", T0 + 8.5, join=True)  # another process reads the moved clock
    assert later.status == "waiting" and later.wait_s > 10  # 44 ahead at 2-3 a second, not 4.4 s at 10
    virtual2, rate2 = a.clock(r, T0 + 9.6)  # no congestion counted since: the pace grows back
    assert 2.0 < rate2 < 10.0 and virtual2 > virtual


def test_the_pace_never_falls_below_the_floor(monkeypatch):
    monkeypatch.setattr(waiting_room, "min_rate", lambda: 1.0)
    store = Collection()
    rooms, r = waiting_room.Rooms(store), room(rate=10.0)
    rooms.place(r, "acc-1", T0 + 1, join=True)
    rooms.count(r, int(T0) + 3, {"congested": 5})  # nothing booked, pass holders shed
    assert rooms.clock(r, T0 + 4)[1] == pytest.approx(1.0)


def test_an_admitted_place_keeps_its_pass_expiry_while_the_pace_changes():
    store = Collection()
    rooms, r = waiting_room.Rooms(store), room(rate=2.0)
    first = rooms.place(r, "acc-1", T0 + 1, join=True)
    rooms.count(r, int(T0) + 2, {"congested": 3, "done": 1})
    again = waiting_room.Rooms(store).place(r, "acc-1", T0 + 30, join=True)  # another process, a new pace
    assert first.status == again.status == "admitted" and again.pass_expires_at == first.pass_expires_at


def test_passes_start_in_the_room_order_whenever_they_are_first_asked_for():
    store = Collection()
    rooms, r = waiting_room.Rooms(store), room(rate=4.0)
    for i in range(40):
        rooms.place(r, f"acc-{i}", T0 + 1 + i * 0.001, join=True)
    for second in range(int(T0) + 1, int(T0) + 4):
        rooms.count(r, second, {"done": 1, "congested": 1})
    for t in range(2, 12):  # the clock moves, slower then faster
        rooms.clock(r, T0 + t)
        if t == 6:
            rooms.count(r, int(T0) + 5, {"done": 3, "congested": 1})
    # asked late, in a shuffled order, by fresh processes: the starts follow the line
    starts = {i: waiting_room.Rooms(store).place(r, f"acc-{i}", T0 + 12, join=True) for i in (9, 2, 7, 0, 5, 1)}
    admitted = sorted(i for i, p in starts.items() if p.status == "admitted")
    assert len(admitted) >= 3
    assert [starts[i].admit_at for i in admitted] == sorted(starts[i].admit_at for i in admitted)


# -- in front of the load shedder (the gateway app, no store: the active room is given) -------------
@pytest.fixture
def gateway(monkeypatch, tmp_path):
    from servicekit import identity
    from services.gateway import app as gateway_app, auth
    for name, value in identity.make_local_keys(tmp_path).items():
        monkeypatch.setenv(name, value)
    auth._signer.cache_clear()
    r = live_room()
    monkeypatch.setattr(waiting_room, "room_of", lambda office_id, now=None: r if office_id == "TBK" else None)
    monkeypatch.setattr(waiting_room, "_not_before", Memo(100))  # no pacing left from another test
    monkeypatch.setattr(waiting_room, "pass_queue_s", lambda: 0.2)  # a pass holder's wait for a full shedder
    monkeypatch.setattr(waiting_room, "TALLY", waiting_room.Tally(waiting_room.Rooms(Collection())))
    app = gateway_app.create_app()
    token, _ttl = auth.issue("acc-1", "APPLICANT", "")
    yield app, r, {"Authorization": f"Bearer {token}"}
    identity.current.set(None)
    auth._signer.cache_clear()


def test_a_booking_without_a_valid_pass_is_refused_before_the_load_shedder(gateway):
    app, r, headers = gateway
    shedder = app.extensions["loadshed"]
    shedder._limit = 0.0  # the shedder full: a request that reached it would be a 503
    client = app.test_client()
    body = {"slot_id": "TBK-20270104-REGULAR-0900"}
    refused = client.post("/v1/applications/app-1/appointment", json=body, headers=headers)
    assert refused.status_code == 429 and refused.json["type"].endswith("/waiting-room")
    assert refused.headers["Link"] == '</v1/offices/TBK/waiting-room>; rel="waiting-room"'
    assert refused.headers["Retry-After"] and refused.json["title"] == "Ruang tunggu aktif"
    forged, _ = admission.sign_pass(b"someone else's key" * 3, "acc-1", r, time.time() - 1, 60)
    bad = client.put("/v1/applications/app-1/appointment", json=body, headers={**headers, "X-Admission-Pass": forged})
    assert bad.status_code == 403 and bad.json["type"].endswith("/admission-pass-invalid")
    valid, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 1, 60)
    through = client.post("/v1/applications/app-1/appointment", json=body, headers={**headers, "X-Admission-Pass": valid})
    assert through.status_code == 503 and through.json["type"].endswith("/overloaded")  # reached the shedder
    other = client.post("/v1/applications/app-1/appointment", json={"slot_id": "BTM-20270104-REGULAR-0900"},
                        headers=headers)
    assert other.status_code == 503  # no room at BTM: straight to the shedder, as before


def test_the_room_has_a_capacity_of_its_own(gateway):
    app, _r, headers = gateway
    app.extensions["waiting_room"]._limit = 0.0
    app.extensions["waiting_room"].queue_timeout_s = 0
    answer = app.test_client().post("/v1/offices/TBK/waiting-room", headers=headers)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"


def test_an_admitted_booking_shed_may_not_be_retried_before_retry_after(gateway):
    app, r, headers = gateway
    app.extensions["loadshed"]._limit = 0.0  # booking sheds: 503 + Retry-After 1
    client = app.test_client()
    valid, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 1, 60)
    sent = {**headers, "X-Admission-Pass": valid}
    body = {"slot_id": "TBK-20270104-REGULAR-0900"}
    assert client.post("/v1/applications/app-1/appointment", json=body, headers=sent).status_code == 503
    again = client.post("/v1/applications/app-1/appointment", json=body, headers=sent)  # a bot, 20 ms later
    assert again.status_code == 429 and again.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert client.post("/v1/applications/app-1/appointment", json=body, headers=sent).status_code == 503


def test_a_pass_holder_waits_for_booking_while_a_retrier_without_a_pass_is_told_to_wait(gateway):
    """Admitted means served: with booking's in-flight places taken, a pass holder's booking waits
    its turn (and reaches booking as soon as a place frees up) instead of being shed, a second copy
    of it is refused at once, and a booking without a pass is answered with the room's 429."""
    import threading as th
    app, r, headers = gateway
    shedder = app.extensions["loadshed"]
    for _ in range(shedder.limit):
        assert shedder.try_acquire() is None  # booking busy
    client = app.test_client()
    body = {"slot_id": "TBK-20270104-REGULAR-0900"}
    valid, _ = admission.sign_pass(key(), "acc-1", r, time.time() - 1, 60)
    outcome = []
    holder = th.Thread(target=lambda: outcome.append(app.test_client().post(
        "/v1/applications/app-1/appointment", json=body, headers={**headers, "X-Admission-Pass": valid})))
    holder.start()
    while shedder.priority_waiting == 0:
        time.sleep(0.005)
    copy = client.post("/v1/applications/app-1/appointment", json=body, headers={**headers, "X-Admission-Pass": valid})
    assert copy.status_code == 429 and copy.json["type"].endswith("/too-many-requests")
    no_pass = client.post("/v1/applications/app-1/appointment", json=body, headers=headers)
    assert no_pass.status_code == 429 and no_pass.json["type"].endswith("/waiting-room") and no_pass.headers["Retry-After"]
    shedder.release()  # a place frees up: the pass holder goes to booking (no booking service here: 5xx)
    holder.join(5)
    assert outcome and outcome[0].status_code != 503 or outcome[0].json["type"].endswith("/service-unavailable")


def test_the_advice_to_the_millisecond_is_the_moment_of_admission_when_it_is_near():
    assert admission.poll_after_ms(0.2) == 200 and admission.poll_after_ms(1.5) == 1500  # not 1 s and 2 s
    assert admission.poll_after_ms(7.5) == 3750 and admission.poll_after_ms(600) == 30_000  # half, at most 30 s
    assert admission.poll_after_ms(-0.1) == 0
