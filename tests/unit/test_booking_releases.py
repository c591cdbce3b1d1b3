"""Release schedule and the ballot draw: the gate's opening times, and properties of the draw."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.errors import DomainError
from services.booking.domain import calendar
from services.booking.entrypoints import verify_draw
from services.booking.usecases import releases

CAL = calendar.load()
TBK, DPS = CAL.offices["TBK"], CAL.offices["DPS"]
entry_ids = st.lists(st.text("0123456789abcdef", min_size=4, max_size=12).map(lambda s: "ent_" + s),
                     unique=True, max_size=60)
seeds = st.text("0123456789abcdef", min_size=64, max_size=64)


# every collection of a BallotRepository (adapters/office_records.py)
BALLOT_COLLECTIONS = ("ballots", "ballot_draws", "ballot_secrets", "ballot_entries", "ballot_outcomes")


class NoBallots:
    def find_one(self, *_a, **_k):
        return None


def policy(cfg: releases.ReleaseConfig) -> releases.ReleasePolicy:
    return releases.ReleasePolicy({name: NoBallots() for name in BALLOT_COLLECTIONS}, CAL, None,
                                  config={"TBK": cfg, "DPS": cfg})


def test_offices_json_configures_every_office_and_keeps_tbk_fcfs():
    cfg = releases.load_config()
    assert set(cfg) == set(CAL.offices)
    assert cfg["TBK"].mode == "FCFS" and cfg["DPS"].mode == "BALLOT"
    # dates open four weeks ahead, inside the 30 working days of slots: the rest exist, not yet released
    assert all(c.opens_days_before == 28 for c in cfg.values())


def test_last_working_day_of_previous_month_at_nine_local():
    cfg = releases.ReleaseConfig(opens="last_working_day_of_previous_month", at="09:00")
    # 2026-05-31 is a Sunday: June dates open on Friday 2026-05-29 at 09:00 WIB (02:00 UTC).
    assert releases.opens_at(CAL, TBK, cfg, dt.date(2026, 6, 15)) == dt.datetime(2026, 5, 29, 2, 0, tzinfo=dt.timezone.utc)
    # 2026-04-30 is a Thursday, a working day; DPS is WITA (UTC+8).
    assert releases.opens_at(CAL, DPS, cfg, dt.date(2026, 5, 4)) == dt.datetime(2026, 4, 30, 1, 0, tzinfo=dt.timezone.utc)


def test_the_gate_refuses_a_date_before_its_release_with_the_opening_time():
    gate = policy(releases.ReleaseConfig(opens="last_working_day_of_previous_month", at="09:00")).gate
    slot = {"date": "2026-06-15", "lane": "REGULAR"}
    with pytest.raises(DomainError) as err:
        gate(TBK, slot, dt.datetime(2026, 5, 29, 1, 59, tzinfo=dt.timezone.utc))
    assert err.value.problem == "not-yet-released" and "2026-05-29T09:00:00+07:00" in err.value.detail
    gate(TBK, slot, dt.datetime(2026, 5, 29, 2, 0, tzinfo=dt.timezone.utc))  # open at 09:00 sharp


def test_days_before_rule_opens_the_current_horizon():
    gate = policy(releases.ReleaseConfig(opens_days_before=60)).gate
    now = dt.datetime(2026, 5, 4, 3, 0, tzinfo=dt.timezone.utc)
    gate(TBK, {"date": "2026-06-30", "lane": "REGULAR"}, now)
    with pytest.raises(DomainError):
        gate(TBK, {"date": "2026-07-10", "lane": "REGULAR"}, now)


@settings(max_examples=200, deadline=None)
@given(seeds, entry_ids)
def test_same_seed_and_entries_give_the_same_order_whatever_their_input_order(seed, ids):
    assert releases.draw_order(seed, ids) == releases.draw_order(seed, list(reversed(ids)))
    assert sorted(releases.draw_order(seed, ids)) == sorted(ids)


@settings(max_examples=200, deadline=None)
@given(seeds, entry_ids, st.lists(st.integers(0, 8), max_size=6), st.sets(st.integers(0, 59)))
def test_no_entry_wins_twice_and_winners_never_exceed_seats(seed, ids, capacities, ineligible_at):
    order = releases.draw_order(seed, ids)
    ineligible = {order[i] for i in ineligible_at if i < len(order)}
    won = releases.allocate(order + order, capacities, lambda e: e not in ineligible)  # repeats ignored
    assert len(won) <= sum(capacities)
    assert not set(won) & ineligible
    for i, cap in enumerate(capacities):
        assert sum(1 for s in won.values() if s == i) <= cap
    eligible = [e for e in order if e not in ineligible]
    # winners are exactly the first eligible entries of the drawn order
    assert set(won) == set(eligible[:min(len(eligible), sum(capacities))])


def _published(seed_secret="s3cret", ids=("ent_b", "ent_a", "ent_c", "ent_d"), seats=2):
    bid = "DPS-20260610-REGULAR"
    seed = releases.seed_of(bid, seed_secret)
    order = releases.draw_order(seed, list(ids))
    outcomes = [{"entry_id": e, "position": i + 1, "outcome": "WON" if i < seats else "LOST", "slot_id": ""}
                for i, e in enumerate(order)]
    return {"ballot_id": bid, "seed": seed, "secret": seed_secret, "entry_ids": sorted(ids), "order": order,
            "outcomes": outcomes}


def test_verify_draw_accepts_a_true_result_and_catches_a_forged_one(tmp_path, capsys):
    result = _published()
    assert releases.verify_result(result)["ok"]
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    assert verify_draw.main(["verify-draw", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    forged = dict(result, order=list(reversed(result["order"])))
    assert not releases.verify_result(forged)["ok"]
    bad_seed = dict(result, secret="other")
    assert "seed != sha256(ballot_id + secret)" in releases.verify_result(bad_seed)["problems"]
    swapped = json.loads(json.dumps(result))
    swapped["outcomes"][0]["outcome"], swapped["outcomes"][-1]["outcome"] = "LOST", "WON"
    assert not releases.verify_result(swapped)["ok"]
    assert verify_draw.main(["verify-draw", json.dumps(forged)]) == 1


def test_a_secret_that_does_not_match_the_published_commitment_fails_verification():
    """Issue 16: the seed's commitment is published before the entries, the secret at the draw."""
    secret, bid = "ab" * 32, "DPS-20261210-REGULAR"
    ids = ["ent_1", "ent_2", "ent_3"]
    seed = releases.seed_of(bid, secret)
    result = {"ballot_id": bid, "commitment": releases.commitment_of(secret), "secret": secret, "seed": seed,
              "entry_ids": ids, "order": releases.draw_order(seed, ids), "outcomes": []}
    assert releases.verify_result(result)["ok"]
    other = "cd" * 32  # a secret picked after the entries were seen, with its own (consistent) seed
    forged = dict(result, secret=other, seed=releases.seed_of(bid, other),
                  order=releases.draw_order(releases.seed_of(bid, other), ids))
    report = releases.verify_result(forged)
    assert not report["ok"] and "commitment" in report["problems"][0]


def test_the_release_calendar_groups_the_horizon_by_opening_and_says_what_is_open():
    from servicekit.clock import FixedClock
    from services.booking.usecases.facade import Applications
    from tests.unit.fakemongo import Database
    db = Database()
    now = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.timezone.utc)  # 10:00 WIB, Tuesday
    apps = Applications(db, CAL, FixedClock(now), payment_stub=None, slot_horizon_days=30)
    policy = releases.ReleasePolicy(db, CAL, apps.clock, config={"TBK": releases.ReleaseConfig(opens_days_before=28)})
    items = releases.Ballots(db, apps, policy, audit=None, clock=apps.clock).releases("TBK")
    dates = [d for item in items for d in item["dates"]]
    assert len(dates) == 30 and dates == sorted(dates)
    is_open = {d: item["status"] == "OPEN" for item in items for d in item["dates"]}
    assert is_open["2026-12-29"] and not is_open["2027-01-04"]  # 28 days ahead at 09:00 WIB
    scheduled = next(i for i in items if "2027-01-04" in i["dates"])
    assert scheduled["opens_at"] == "2026-12-07T09:00:00+07:00" and scheduled["mode"] == "FCFS"


def test_an_applicant_reads_back_the_entries_of_their_own_application_with_each_outcome():
    """ListApplicationBallotEntries: entries are found by their keys (`<ballot>:<account>`), only for
    the caller's own application; another person's application is not found."""
    from types import SimpleNamespace

    from servicekit.clock import FixedClock
    from tests.unit.fakemongo import Database

    now = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.timezone.utc)
    headers = {"app-1": {"office_id": "DPS", "account_id": "acc-1"}, "app-2": {"office_id": "DPS", "account_id": "acc-1"},
               "app-9": {"office_id": "DPS", "account_id": "acc-9"}}

    class Apps:
        slot_repository = SimpleNamespace(seats_offered=lambda *a: 4)

        def office(self, office_id):
            return CAL.offices[office_id]

        def get(self, caller, application_id):
            header = headers.get(application_id)
            if header is None or header["account_id"] != caller.account_id:
                raise DomainError("not_found", "application-not-found", "no such application")
            return header

    db = Database()
    ballots = releases.Ballots(db, Apps(), policy=None, audit=None, clock=FixedClock(now))
    for day, lane in (("2026-12-10", "REGULAR"), ("2026-12-11", "REGULAR")):
        bid = releases.ballot_id("DPS", dt.date.fromisoformat(day), lane)
        ballots.repository.add({"_id": bid, "office_id": "DPS", "date": day, "lane": lane,
                                "entries_open_at": now - dt.timedelta(hours=1), "entries_close_at": now + dt.timedelta(hours=1),
                                "draw_at": now + dt.timedelta(hours=1), "commitment": "c"})
    first, second = "DPS-20261210-REGULAR", "DPS-20261211-REGULAR"
    ballots.repository.add_entry({"_id": f"{first}:acc-1", "entry_id": "ent_1", "ballot_id": first,
                                  "application_id": "app-1", "account_id": "acc-1", "at": now})
    ballots.repository.add_entry({"_id": f"{second}:acc-1", "entry_id": "ent_2", "ballot_id": second,
                                  "application_id": "app-2", "account_id": "acc-1", "at": now})
    ballots.repository.add_outcome({"_id": f"{first}:ent_1", "ballot_id": first, "entry_id": "ent_1", "position": 1,
                                    "outcome": "WON", "slot_id": "DPS-20261210-0800-REGULAR", "application_id": "app-1"})
    me = SimpleNamespace(role="APPLICANT", account_id="acc-1")
    [entry] = ballots.entries_of_application(me, "app-1")
    assert entry["entry"] == {"entry_id": "ent_1", "ballot_id": first, "application_id": "app-1",
                              "entered_at": "2026-12-01T11:00:00+08:00"}
    assert entry["ballot"]["date"] == "2026-12-10" and entry["ballot"]["status"] == "OPEN"
    assert (entry["outcome"], entry["slot_id"]) == ("WON", "DPS-20261210-0800-REGULAR")
    [other] = ballots.entries_of_application(me, "app-2")
    assert other["entry"]["ballot_id"] == second and other["outcome"] == "" and other["slot_id"] == ""
    with pytest.raises(DomainError) as err:
        ballots.entries_of_application(me, "app-9")
    assert err.value.problem == "application-not-found"


def test_the_draw_worker_reads_the_ballots_at_the_next_draw_or_every_half_minute_not_every_cycle():
    """The worker runs every 2 s in every replica; idle, each cycle read the ballots."""
    from servicekit.clock import FixedClock
    from tests.unit.fakemongo import Database
    t0 = dt.datetime(2026, 12, 1, 3, tzinfo=dt.timezone.utc)
    clock = FixedClock(t0)
    ballots = releases.Ballots(Database(), None, None, None, clock)
    reads, drawn = [], []
    find = ballots.repository.ballots.find
    ballots.repository.ballots.find = lambda *a, **k: reads.append(clock.now()) or find(*a, **k)
    ballots.draw = lambda ballot: drawn.append(ballot["_id"]) or True
    # scheduled by another replica: this one learns of it by reading
    ballots.repository.add({"_id": "DPS-20261210-REGULAR", "office_id": "DPS", "date": "2026-12-10", "lane": "REGULAR",
                            "entries_open_at": t0, "entries_close_at": t0 + dt.timedelta(seconds=45),
                            "draw_at": t0 + dt.timedelta(seconds=45), "commitment": "c"})

    def cycle_at(seconds):
        clock.at = t0 + dt.timedelta(seconds=seconds)
        return ballots.run_due()

    assert [cycle_at(s) for s in (0, 10, 28)] == [0, 0, 0] and len(reads) == 1  # then RELOOK
    assert cycle_at(30) == 0 and len(reads) == 2
    assert cycle_at(44) == 0 and len(reads) == 2
    assert cycle_at(45) == 1 and drawn == ["DPS-20261210-REGULAR"] and len(reads) == 3  # at its draw time
    assert cycle_at(47) == 0 and len(reads) == 3
