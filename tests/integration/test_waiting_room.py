"""The waiting room in front of booking, through the real stack (gateway workers sharing FerretDB).

A supervisor opens JYP's room (a draw of everybody there in the first seconds, then admissions at a
pace); one slot holds SEATS seats. APPLICANTS people want one, BOTS of them "brokers' bots" that
ask every 20 ms and ignore Retry-After, the others ask when told. Checked: booking without a valid
pass is refused (429 with the way in, or 403 for a forged, expired or someone else's pass) and books
nothing; everybody is admitted in the order of the draw, however often they asked, except that bots
asking again and again before the time they were told are moved to the back (and no person is); no
seat is sold twice; and the bots get no seat once moved back.

Only 127.0.0.1 is addressed; threads are bounded (one per applicant, APPLICANTS in all)."""
from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pymongo
import pytest

from deploy.local.stack import LOCAL_SECRETS
from services.gateway import admission
from tests.integration.helpers import close_waiting_room, open_waiting_room, supervisor_of

OFFICE = "JYP"
APPLICANTS, BOTS, SEATS = 40, 10, 12
PER_MINUTE = 120          # 2 admissions a second: below what booking takes here, so seats follow admissions
DRAW_SECONDS = 12         # everybody arrives within it
BOT_INTERVAL_S = 0.02


@pytest.fixture(scope="module")
def jyp(api):
    return supervisor_of(api, OFFICE)


@pytest.fixture(scope="module")
def rush_slot(api, jyp):
    """A JYP day whose only REGULAR seats are SEATS seats at 09:00."""
    slot = api.first_working_slot(OFFICE, "REGULAR", skip_days=9)
    day = slot["date"]
    for body in ({"capacity": 0}, {"capacity": SEATS, "start_time": "09:00"}):
        reply = api.put(f"/v1/offices/{OFFICE}/quota", {"date": day, "lane": "REGULAR", "reason": "waiting-room test",
                                                        **body}, token=jyp)
        assert reply.status == 200, reply.body
    return f"{OFFICE}-{day.replace('-', '')}-REGULAR-0900"


def applicant(api) -> dict:
    person = api.register_applicant()
    created = api.create_application(person["token"], office_id=OFFICE)
    assert created.status == 201, created.body
    return {"account_id": person["account_id"], "token": person["token"],
            "application_id": created.body["application_id"]}


def book(api, who: dict, slot_id: str, admission_pass: str | None = None):
    headers = {"X-Admission-Pass": admission_pass} if admission_pass else {}
    return api.post(f"/v1/applications/{who['application_id']}/appointment", {"slot_id": slot_id},
                    token=who["token"], headers=headers, timeout=30)


def test_booking_needs_a_valid_pass_while_the_room_is_open(api, jyp, rush_slot, booking_db):
    who, other = applicant(api), applicant(api)
    assert api.get(f"/v1/offices/{OFFICE}/waiting-room").body == {"office_id": OFFICE, "active": False}
    assert api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"]).status == 409  # closed: book directly
    room = open_waiting_room(api, jyp, OFFICE, per_minute=6, draw_seconds=0)
    try:
        refused = book(api, who, rush_slot)
        assert refused.status == 429, refused.body
        assert refused.body["type"].endswith("/waiting-room") and refused.body["title"] == "Ruang tunggu aktif"
        assert refused.headers["Retry-After"] and "waiting-room" in refused.headers["Link"]
        english = api.post(f"/v1/applications/{who['application_id']}/appointment", {"slot_id": rush_slot},
                           token=who["token"], headers={"Accept-Language": "en"})
        assert "waiting room" in english.body["detail"]

        r = admission.Room(OFFICE, room["room_id"], time.time() - 60, time.time() + 600, 0.1, 0, "supervisor")
        key = admission.pass_key(LOCAL_SECRETS["JWT_SECRET"])
        forged, _ = admission.sign_pass(b"not the gateway's key, whatever it may be", who["account_id"], r,
                                        time.time() - 1, 120)
        expired, _ = admission.sign_pass(key, who["account_id"], r, time.time() - 400, 180)
        for bad in (forged, expired, "not-a-pass"):
            answer = book(api, who, rush_slot, bad)
            assert answer.status == 403 and answer.body["type"].endswith("/admission-pass-invalid"), answer.body

        first = api.post(f"/v1/offices/{OFFICE}/waiting-room", token=other["token"])  # an empty line: in at once
        assert first.status == 200 and first.body["status"] == "admitted", first.body
        assert book(api, who, rush_slot, first.body["admission_pass"]).status == 403  # someone else's pass
        place = api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"]).body
        assert place["status"] == "waiting" and place["position"] == 1 and place["estimated_wait_seconds"] > 0
        # the advice in whole seconds (Retry-After) rounds up; to the millisecond it does not
        assert 0 < place["poll_after_ms"] <= 1000 * place["poll_after_seconds"] < place["poll_after_ms"] + 1000
        assert api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"]).body["admit_at"] == place["admit_at"]

        assert booking_db.seats.count_documents({"application_id": who["application_id"]}) == 0  # nothing booked
        assert api.get(f"/v1/applications/{who['application_id']}", token=who["token"]).body["appointment"] is None
        booked = book(api, other, rush_slot, first.body["admission_pass"])
        assert booked.status == 201, booked.body
        api.delete(f"/v1/applications/{other['application_id']}/appointment", token=other["token"])
    finally:
        close_waiting_room(api, jyp, OFFICE)
    assert api.get(f"/v1/offices/{OFFICE}/waiting-room").body["active"] is False


def test_bots_that_ask_every_20_ms_do_not_win_more_than_their_share(api, stack, jyp, rush_slot, booking_db):
    with ThreadPoolExecutor(6) as pool:
        people = list(pool.map(lambda _i: applicant(api), range(APPLICANTS)))
    bots = {p["account_id"] for p in people[:BOTS]}
    outcome: dict[str, str] = {}
    admitted_at: dict[str, float] = {}
    counts = collections.Counter()
    start = threading.Barrier(APPLICANTS)
    deadline = time.monotonic() + 240

    def run(who: dict) -> None:
        bot = who["account_id"] in bots
        start.wait()
        admission_pass = None
        while time.monotonic() < deadline:
            if admission_pass is None:
                if bot:  # a bot also tries the booking itself every time, pass or not
                    tried = book(api, who, rush_slot)
                    counts["bot-tries-without-pass"] += 1
                    assert tried.status in (429, 503), tried.body  # never a seat without a pass
                place = api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"], timeout=30)
                counts["polls-bot" if bot else "polls-person"] += 1
                if place.status == 200 and place.body["status"] == "admitted":
                    admission_pass = place.body["admission_pass"]
                    admitted_at[who["account_id"]] = dt.datetime.fromisoformat(place.body["admit_at"]).timestamp()
                    continue
                assert place.status in (200, 503), place.body
                if place.status == 200 and place.body["status"] == "expired":
                    outcome[who["account_id"]] = "expired"
                    return
                wait = float(place.headers.get("Retry-After", "1"))
            else:
                answer = book(api, who, rush_slot, admission_pass)
                if answer.status == 201:
                    outcome[who["account_id"]] = "booked"
                    return
                if answer.status == 409:  # slot-full: a definitive answer
                    outcome[who["account_id"]] = answer.body["type"].rsplit("/", 1)[1]
                    return
                assert answer.status in (429, 503), answer.body  # shed, or retried before Retry-After
                wait = float(answer.headers.get("Retry-After", "1"))
            time.sleep(BOT_INTERVAL_S if bot else wait)

    room_id = open_waiting_room(api, jyp, OFFICE, per_minute=PER_MINUTE, draw_seconds=DRAW_SECONDS)["room_id"]
    try:
        with ThreadPoolExecutor(APPLICANTS) as pool:
            list(pool.map(run, people))
    finally:
        close_waiting_room(api, jyp, OFFICE)

    assert len(outcome) == APPLICANTS, f"not finished: {APPLICANTS - len(outcome)}"
    booked = [a for a, o in outcome.items() if o == "booked"]
    seats = booking_db.seats.count_documents({"slot_id": rush_slot})
    assert len(booked) == seats == SEATS, (len(booked), seats, collections.Counter(outcome.values()))  # no overbooking

    # Nobody was admitted out of the room's order, however often they asked; asking early again and
    # again (the bots) moved a place to the back: out of the draw, or to the end when its turn came.
    gateway = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)["passport_gateway"]
    draw = gateway.waiting_room.find_one({"_id": f"{room_id}|draw"})
    persons = {p["account_id"] for p in people} - bots
    places = {d["account"]: d for d in gateway.waiting_room.find({"room": room_id, "account": {"$exists": True},
                                                                  "lot": {"$exists": True}})}
    moved = {a for a, d in places.items() if "moved_back" in d}
    numbered = {a for a, d in places.items() if "ticket" in d}
    assert moved <= bots, "a person who asked when told was moved back"
    assert moved, "bots asking every 20 ms while told to wait seconds were never moved back"
    assert draw is not None and persons <= set(draw["order"]) <= persons | bots, "everybody arrived within the draw"
    assert numbered <= moved
    by_admission = sorted(admitted_at, key=admitted_at.get)
    in_draw_order = [a for a in by_admission if a not in numbered]
    assert in_draw_order == [a for a in draw["order"] if a in set(in_draw_order)]
    assert all(admitted_at[a] >= max(admitted_at[b] for b in in_draw_order) for a in numbered)  # after all drawn

    bot_seats = sum(1 for a in booked if a in bots)
    ratio = (bot_seats / SEATS) / (BOTS / APPLICANTS)
    print(f"bots {BOTS}/{APPLICANTS} took {bot_seats}/{SEATS} seats: share ratio {ratio:.2f}; {len(moved)} moved "
          f"back ({len(bots - set(draw['order']))} before the draw); polls {dict(counts)}")
    assert not moved & set(booked)  # a place moved back came after everybody drawn: the seats were gone
    # Bots not caught were drawn like everybody: their seats are at most hypergeometric (40 people, 10
    # bots, 12 seats: mean 3, P(>= 8) = 2.3e-4). First come, first served, the bots took 10 of 12.
    assert bot_seats <= 7, ratio
    assert counts["polls-bot"] > 5 * counts["polls-person"]  # they did hammer


def test_pass_holders_are_served_while_retriers_without_a_pass_are_told_to_wait(api, jyp, booking_db):
    """Admitted means served: pass holders booking all at once are answered by booking (201), never
    shed, while applicants without a pass retrying every 20 ms only ever get the room's 429."""
    holders_n, retriers_n = 16, 6
    slot = api.first_working_slot(OFFICE, "REGULAR", skip_days=16)  # not the rush_slot's day
    for body in ({"capacity": 0}, {"capacity": holders_n, "start_time": "10:00"}):
        reply = api.put(f"/v1/offices/{OFFICE}/quota", {"date": slot["date"], "lane": "REGULAR",
                                                         "reason": "waiting-room test", **body}, token=jyp)
        assert reply.status == 200, reply.body
    slot_id = f"{OFFICE}-{slot['date'].replace('-', '')}-REGULAR-1000"
    with ThreadPoolExecutor(6) as pool:
        holders = list(pool.map(lambda _i: applicant(api), range(holders_n)))
        retriers = list(pool.map(lambda _i: applicant(api), range(retriers_n)))
    open_waiting_room(api, jyp, OFFICE, per_minute=60_000, draw_seconds=0)  # an empty line: in at once
    try:
        state = api.get(f"/v1/offices/{OFFICE}/waiting-room").body
        assert state["active"] and 1 <= state["pace_per_minute"] <= 60_000, state
        passes = {}
        for who in holders:
            place = api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"]).body
            assert place["status"] in ("admitted", "waiting"), place
            while place["status"] == "waiting":
                time.sleep(place["poll_after_seconds"])
                place = api.post(f"/v1/offices/{OFFICE}/waiting-room", token=who["token"]).body
            passes[who["account_id"]] = place["admission_pass"]
        stop = threading.Event()
        refusals = collections.Counter()

        def retry(who):
            while not stop.is_set():
                answer = book(api, who, slot_id)
                refusals[(answer.status, (answer.body or {}).get("type", "").rsplit("/", 1)[-1])] += 1
                time.sleep(BOT_INTERVAL_S)

        start = threading.Barrier(holders_n)

        def holder(who):
            start.wait()
            answers = []
            for _ in range(10):
                answer = book(api, who, slot_id, passes[who["account_id"]])
                answers.append(answer.status)
                if answer.status != 429 and answer.status != 503:
                    break
                time.sleep(float(answer.headers.get("Retry-After", "1")))
            return answers

        with ThreadPoolExecutor(retriers_n) as bots:
            for who in retriers:
                bots.submit(retry, who)
            with ThreadPoolExecutor(holders_n) as pool:
                answers = list(pool.map(holder, holders))
            stop.set()
    finally:
        close_waiting_room(api, jyp, OFFICE)
    print(f"pass holders' answers {answers}; retriers without a pass {dict(refusals)}")
    assert all(a[-1] == 201 for a in answers), answers
    assert not any(503 in a for a in answers), answers  # admitted means served: none shed
    assert set(refusals) == {(429, "waiting-room")}, refusals
    assert booking_db.seats.count_documents({"slot_id": slot_id}) == holders_n


def test_a_burst_of_sign_ins_waits_in_line_instead_of_being_refused(api):
    """16 applicants sign in at once (one scrypt each): every one is answered 200, none 503."""
    with ThreadPoolExecutor(4) as pool:
        people = list(pool.map(lambda _i: api.register_applicant(), range(16)))
    go = threading.Barrier(len(people))

    def sign_in(person):
        go.wait()
        return api.post("/v1/auth/token", {"email": person["email"], "password": person["password"]}, timeout=60)

    with ThreadPoolExecutor(len(people)) as pool:
        replies = list(pool.map(sign_in, people))
    assert [r.status for r in replies] == [200] * len(people), [(r.status, r.body) for r in replies if r.status != 200]
