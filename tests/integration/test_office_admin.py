"""Office administration through the gateway on the real stack: the hash-chained audit log (and a
tampered entry found by verification), supervisor statistics, and a ballot drawn by the workers
of both booking replicas."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import pytest

from deploy.local.stack import DEMO_STAFF, REPO
from services.booking.domain import calendar
from services.booking.usecases import releases
from tests.integration.helpers import applicant_with_application, wait_for

DPS_SUPERVISOR = {"role": "SUPERVISOR", "email": "supervisor@dps.imigrasi.example", "password": "Supervisor-Dps-2026!",
                  "full_name": "Test Supervisor DPS", "office_id": "DPS"}


@pytest.fixture(scope="module")
def tbk_supervisor(supervisor_token):
    return supervisor_token


@pytest.fixture(scope="module")
def dps_supervisor(api, stack):
    out = subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff", json.dumps([DPS_SUPERVISOR])],
                         env=stack.env(), cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return api.login(DPS_SUPERVISOR["email"], DPS_SUPERVISOR["password"])


def working_day(office_id: str, nth: int) -> dt.date:
    cal = calendar.load()
    office = cal.offices[office_id]
    today = office.today(dt.datetime.now(dt.timezone.utc))
    return cal.working_days(office, today + dt.timedelta(days=1), nth)[-1]


def get(api, path, token=None, attempts: int = 10):
    """GET, retrying the gateway's 503 load-shedding answers (the test machine is shared)."""
    reply = api.get(path, token=token)
    for _ in range(attempts):
        if reply.status != 503:
            break
        time.sleep(1)
        reply = api.get(path, token=token)
    return reply


def free_slot(api, office_id: str, lane: str, nth: int) -> dict:
    for n in range(nth, nth + 5):
        reply = get(api, f"/v1/offices/{office_id}/slots?date={working_day(office_id, n)}&lane={lane}")
        assert reply.status == 200, reply.body
        free = [s for s in reply.body["items"] if s["remaining"] > 0]
        if free:
            return free[0]
    raise AssertionError("no free slot")


def verify_cli(stack) -> tuple[int, dict]:
    out = subprocess.run([sys.executable, "-m", "services.booking.cli", "verify-audit"], env=stack.env(), cwd=REPO,
                         capture_output=True, text=True)
    return out.returncode, json.loads(out.stdout)


def test_quota_changes_are_audited_and_a_tampered_entry_breaks_the_chain(api, stack, booking_db, tbk_supervisor):
    day = working_day("TBK", 8).isoformat()
    for capacity in (7, 6):
        reply = api.put("/v1/offices/TBK/quota", {"date": day, "lane": "REGULAR", "start_time": "13:00",
                                                  "capacity": capacity, "reason": "two counters closed"},
                        token=tbk_supervisor)
        assert reply.status == 200, reply.body
    today = dt.date.today()
    listed = api.get(f"/v1/offices/TBK/audit?from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}",
                     token=tbk_supervisor)
    assert listed.status == 200, listed.body
    mine = [e for e in listed.body["items"] if e["action"] == "QUOTA_SET" and e["details"]["date"] == day
            and e["details"]["reason"] == "two counters closed"]  # other tests change quotas too
    assert [e["details"]["capacity"] for e in mine] == [7, 6]
    assert mine[0]["details"]["reason"] == "two counters closed" and mine[0]["actor_role"] == "SUPERVISOR"
    assert mine[1]["seq"] > mine[0]["seq"] and all(e["office_id"] == "TBK" for e in listed.body["items"])

    verified = api.get("/v1/audit/verify", token=tbk_supervisor)
    assert verified.status == 200 and verified.body["ok"] is True, verified.body
    assert verified.body["entries"] >= 2 and verified.body["first_broken_seq"] is None
    assert verify_cli(stack)[0] == 0

    target = mine[0]["seq"]
    key = {"_id": f"{target:012d}"}
    original = booking_db["audit_log"].find_one(key)["details"]
    booking_db["audit_log"].update_one(key, {"$set": {"details.capacity": 70}})  # someone edits history
    try:
        broken = api.get("/v1/audit/verify", token=tbk_supervisor).body
        assert broken["ok"] is False and broken["first_broken_seq"] == target, broken
        code, report = verify_cli(stack)
        assert code == 1 and report["first_broken_seq"] == target
    finally:
        booking_db["audit_log"].update_one(key, {"$set": {"details": original}})
    assert api.get("/v1/audit/verify", token=tbk_supervisor).body["ok"] is True


def test_audit_and_statistics_are_for_the_supervisor_of_that_office(api, tbk_supervisor):
    person = api.register_applicant()
    officer = next(s for s in DEMO_STAFF if s["role"] == "OFFICER")
    officer_token = api.login(officer["email"], officer["password"])
    assert api.get("/v1/offices/TBK/audit", token=person["token"]).status == 403
    assert api.get("/v1/offices/TBK/audit", token=officer_token).status == 403
    assert api.get("/v1/offices/BTM/audit", token=tbk_supervisor).status == 403
    assert api.get("/v1/offices/BTM/statistics?from=2026-01-01&to=2026-01-31", token=tbk_supervisor).status == 403
    assert api.get("/v1/audit/verify").status == 401


def test_statistics_count_bookings_on_the_appointment_day(api, tbk_supervisor):
    person, app_id = applicant_with_application(api)
    slot = free_slot(api, "TBK", "REGULAR", 5)
    day = slot["date"]

    def stats(**q):
        query = "&".join(f"{k}={v}" for k, v in {"from": day, "to": day, **q}.items())
        return get(api, f"/v1/offices/TBK/statistics?{query}", token=tbk_supervisor)

    before = stats()
    assert before.status == 200, before.body
    offered = sum(s["capacity"] for lane in ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH")
                  for s in get(api, f"/v1/offices/TBK/slots?date={day}&lane={lane}").body["items"])
    assert before.body["rows"][0]["period"] == day and before.body["rows"][0]["offered"] == offered
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    after = stats().body
    assert after["rows"][0]["booked"] == before.body["rows"][0]["booked"] + 1
    assert after["total"]["booked"] == after["rows"][0]["booked"]
    month = stats(**{"from": day[:8] + "01", "group": "month"}).body
    assert [r["period"] for r in month["rows"]] == [day[:7]] and month["rows"][0]["booked"] >= 1

    for query, field in [({"from": "2026-05-10", "to": "2026-05-01"}, "from"),
                         ({"from": "2025-01-01", "to": "2026-06-30"}, "to"),
                         ({"from": "yesterday", "to": "2026-05-01"}, "from"),
                         ({"group": "week"}, "group")]:
        reply = stats(**query)
        assert reply.status == 422 and reply.body["errors"][0]["field"] == field, reply.body
    missing = api.get("/v1/offices/TBK/statistics?to=2026-05-01", token=tbk_supervisor)
    assert missing.status == 422 and missing.body["errors"][0]["field"] == "from"


def test_a_ballot_is_entered_once_per_nik_drawn_with_a_published_seed_and_seated(
        api, stack, booking_db, tbk_supervisor, dps_supervisor):
    day = working_day("DPS", 5).isoformat()
    lane = "REPLACEMENT"
    # Two seats in all for the ballot: every start time 0, then 08:00 two.
    for start, capacity in (("", 0), ("08:00", 2)):
        body = {"date": day, "lane": lane, "capacity": capacity, "reason": "ballot test"}
        if start:
            body["start_time"] = start
        assert api.put("/v1/offices/DPS/quota", body, token=dps_supervisor).status == 200
    people = []
    for _ in range(3):
        person = api.register_applicant()
        app = api.create_application(person["token"], office_id="DPS", service_type="REPLACEMENT_DAMAGED")
        assert app.status == 201, app.body
        people.append((person, app.body["application_id"]))
    regular_person = api.register_applicant()
    regular_app = api.create_application(regular_person["token"], office_id="DPS").body["application_id"]

    now = dt.datetime.now(dt.timezone.utc)
    window = {"date": day, "lane": lane, "entries_open_at": (now - dt.timedelta(seconds=1)).isoformat(),
              "entries_close_at": (now + dt.timedelta(seconds=8)).isoformat()}
    assert api.post("/v1/offices/TBK/ballots", dict(window, date=working_day("TBK", 5).isoformat()),
                    token=tbk_supervisor).body["type"].endswith("office-not-in-ballot-mode")
    bad = api.post("/v1/offices/DPS/ballots", dict(window, entries_close_at="soon"), token=dps_supervisor)
    assert bad.status == 422 and bad.body["errors"][0]["field"] == "entries_close_at"
    assert api.post("/v1/offices/DPS/ballots", window, token=people[0][0]["token"]).status == 403
    created = api.post("/v1/offices/DPS/ballots", window, token=dps_supervisor)
    assert created.status == 201, created.body
    ballot = created.body
    bid = ballot["ballot_id"]
    assert ballot["status"] == "OPEN" and ballot["seats"] == 2 and ballot["seed"] is None
    assert len(ballot["commitment"]) == 64, "the seed's commitment is public before any entry"
    release = next(r for r in api.get("/v1/offices/DPS/releases").body["items"] if day in r["dates"])
    assert release["mode"] == "BALLOT" and release["status"] == "OPEN"
    assert [b["ballot_id"] for b in release["ballots"]] == [bid]
    assert api.post("/v1/offices/DPS/ballots", window, token=dps_supervisor).status == 409

    # Until the draw the date/lane is closed to first-come-first-served booking.
    slot_id = f"DPS-{day.replace('-', '')}-{lane}-0800"
    early = api.post(f"/v1/applications/{people[0][1]}/appointment", {"slot_id": slot_id}, token=people[0][0]["token"])
    assert early.status == 409 and early.body["type"].endswith("ballot-pending"), early.body

    entries = []
    for person, app_id in people:
        reply = api.post(f"/v1/offices/DPS/ballots/{bid}/entries", {"application_id": app_id}, token=person["token"])
        assert reply.status == 201, reply.body
        entries.append(reply.body["entry_id"])
    again = api.post(f"/v1/offices/DPS/ballots/{bid}/entries", {"application_id": people[0][1]},
                     token=people[0][0]["token"])
    assert again.status == 201 and again.body["entry_id"] == entries[0]  # a retry, not a second entry
    wrong_lane = api.post(f"/v1/offices/DPS/ballots/{bid}/entries", {"application_id": regular_app},
                          token=regular_person["token"])
    assert wrong_lane.status == 409 and wrong_lane.body["type"].endswith("lane-not-allowed")
    assert api.get(f"/v1/offices/DPS/ballots/{bid}/result").body["type"].endswith("not-drawn-yet")

    def drawn():
        reply = api.get(f"/v1/offices/DPS/ballots/{bid}/result")
        return reply.body if reply.status == 200 and reply.body["complete"] else None

    result = wait_for(drawn, timeout_s=60)
    assert result, "the draw worker did not draw the ballot"
    assert sorted(result["entry_ids"]) == sorted(entries) == result["entry_ids"]
    assert result["seed"] == releases.seed_of(bid, result["secret"])
    assert result["commitment"] == ballot["commitment"] == releases.commitment_of(result["secret"])
    assert result["order"] == releases.draw_order(result["seed"], entries)
    outcomes = [o["outcome"] for o in result["outcomes"]]
    assert outcomes == ["WON", "WON", "LOST"]
    assert [o["entry_id"] for o in result["outcomes"]] == result["order"]
    check = subprocess.run([sys.executable, "-m", "services.booking.releases", "verify-draw", json.dumps(result)],
                           env=stack.env(), cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"] is True, check.stdout + check.stderr

    by_entry = dict(zip(entries, people))
    for o in result["outcomes"]:
        person, app_id = by_entry[o["entry_id"]]
        view = api.get(f"/v1/applications/{app_id}", token=person["token"]).body
        if o["outcome"] == "WON":
            assert view["status"] == "AWAITING_PAYMENT" and view["appointment"]["slot_id"] == o["slot_id"] == slot_id
        else:
            assert view["status"] == "DRAFT"
            waiting = booking_db["waitlist"].find_one({"application_id": app_id})
            assert waiting and (waiting["date"], waiting["lane"]) == (day, lane), "a loser waits for a freed seat"
    assert booking_db["seats"].count_documents({"slot_id": slot_id}) == 2
    assert booking_db["ballot_draws"].count_documents({"ballot_id": bid}) == 2  # one draw, one done: both replicas
    listed = next(b for b in api.get("/v1/offices/DPS/ballots").body["items"] if b["ballot_id"] == bid)
    assert listed["status"] == "DRAWN" and listed["seed"] == result["seed"]
    assert listed["entries"] == 3 and listed["winners"] == 2
    audit = api.get("/v1/offices/DPS/audit", token=dps_supervisor).body["items"]
    assert any(e["action"] == "BALLOT_CREATED" and e["details"]["ballot_id"] == bid for e in audit)
    late = api.post(f"/v1/offices/DPS/ballots/{bid}/entries", {"application_id": regular_app},
                    token=regular_person["token"])
    assert late.status == 409 and late.body["type"].endswith("ballot-not-open")


def test_an_outreach_session_is_requested_approved_and_booked_with_its_invitation_code(api, tbk_supervisor,
                                                                                       officer_token):
    """Issue 16: Eazy Passport, a collective session for 50+ people at their location."""
    organiser = api.register_applicant()
    day = working_day("TBK", 7).isoformat()
    body = {"office_id": "TBK", "organisation": "Desa Pongkar", "location": "Balai Desa Pongkar, Tebing, Karimun",
            "date": day, "people": 49, "contact_phone": "081234567890"}
    too_few = api.post("/v1/outreach-requests", body, token=organiser["token"])
    assert too_few.status == 422 and too_few.body["errors"][0]["field"] == "people"
    asked = api.post("/v1/outreach-requests", dict(body, people=64), token=organiser["token"])
    assert asked.status == 201 and asked.body["status"] == "REQUESTED", asked.body
    rid = asked.body["request_id"]
    listed = api.get("/v1/offices/TBK/outreach-requests?status=REQUESTED", token=officer_token).body["items"]
    assert any(r["request_id"] == rid and r["contact_phone"] == "081234567890" for r in listed)
    assert api.post(f"/v1/offices/TBK/outreach-requests/{rid}/decision", {"approve": True, "seats": 2, "reason": "x"},
                    token=officer_token).status == 403
    approved = api.post(f"/v1/offices/TBK/outreach-requests/{rid}/decision",
                        {"approve": True, "seats": 2, "start_time": "10:00", "reason": "village programme"},
                        token=tbk_supervisor)
    assert approved.status == 200 and approved.body["status"] == "APPROVED", approved.body
    code = approved.body["invitation_code"]
    assert api.get(f"/v1/outreach-requests/{rid}", token=organiser["token"]).body["invitation_code"] == code
    stranger = api.register_applicant()
    assert api.get(f"/v1/outreach-requests/{rid}", token=stranger["token"]).status == 404

    member, app_id = applicant_with_application(api)
    slot_id = approved.body["slot_id"]
    uninvited = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot_id}, token=member["token"])
    assert uninvited.status == 409 and uninvited.body["type"].endswith("/invitation-required"), uninvited.body
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot_id, "invitation_code": code},
                      token=member["token"])
    assert booked.status == 201 and booked.body["appointment"]["lane"] == "OUTREACH", booked.body
    audit = api.get("/v1/offices/TBK/audit", token=tbk_supervisor).body["items"]
    assert any(e["action"] == "QUOTA_SET" and rid in e["details"]["reason"] for e in audit)
