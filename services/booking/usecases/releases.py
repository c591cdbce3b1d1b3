"""Quota release: when a date opens for booking, and ballots.

Each office publishes its release rule in offices.json (`release`):
- mode FCFS: a date opens for first-come-first-served booking at `at` (office local time) either
  `opens_days_before` days before it, or (`"opens": "last_working_day_of_previous_month"`) on the
  last working day of the month before. Booking earlier answers 409 `not-yet-released`.
- mode BALLOT: as FCFS, and the supervisor may schedule a ballot for a date and lane. Until that
  ballot's draw is complete the date/lane is closed to FCFS booking (409 `ballot-pending`); the
  seats are drawn among the entries, and what is left afterwards opens first-come-first-served.

A ballot: when it is scheduled, a secret is drawn and only its commitment sha256(secret) is
published, so nobody, staff included, can choose the seed after seeing the entries. During its
window an applicant enters once per account (= per NIK) with a DRAFT application eligible for the
lane; the entry is keyed `<ballot_id>:<account_id>`. At draw time a worker (on every replica)
inserts the keyed draw record `<ballot_id>:draw` once: the secret revealed, seed =
sha256(ballot_id + secret), the sorted entry ids and their order after random.Random(seed).shuffle.
Seats are assigned in that order through Applications.book (first free slot of the date and lane),
one keyed outcome per entry (WON, LOST, INELIGIBLE), losers put on the waitlist of that date and lane,
and a `<ballot_id>:done` record when all are decided. Commitment, secret, seed, entries and order are
public, so anyone can re-run the draw: `python -m services.booking.releases verify-draw <result.json>`.
"""
from __future__ import annotations

import datetime as dt
import secrets

from passport.v1 import common_pb2
from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.errors import DomainError, invalid

from services.booking.adapters.office_records import BallotRepository
from services.booking.domain import rules
from services.booking.domain.ballots import (BALLOT_LANES, MODES, ReleaseConfig, allocate, ballot_id,  # noqa: F401
                                            commitment_of, draw_order, load_config, opens_at, seed_of,
                                            verify_result)
from services.booking.domain.calendar import Calendar

RECOVER_AFTER = dt.timedelta(seconds=30)  # another replica's unfinished draw is taken over after this
LOOKBACK = dt.timedelta(days=7)
# Between draws a replica reads the ballots again after this (one scheduled by another replica is
# seen within it; its own are seen at once), not every cycle of the draw worker.
RELOOK = dt.timedelta(seconds=30)


# -- the release gate and ballots ------------------------------------------------------------
class ReleasePolicy:
    def __init__(self, db, calendar: Calendar, clock: Clock, config: dict[str, ReleaseConfig] | None = None):
        self.calendar, self.clock = calendar, clock
        self.config = config if config is not None else load_config()
        self.repository = BallotRepository(db)

    def config_of(self, office_id: str) -> ReleaseConfig:
        return self.config.get(office_id, ReleaseConfig())

    def opens_at(self, office, day: dt.date) -> dt.datetime | None:
        return opens_at(self.calendar, office, self.config_of(office.office_id), day)

    def gate(self, office, slot: dict, now: dt.datetime) -> None:
        """Applications' release_gate: raise while the slot's date is not open for FCFS booking."""
        day = dt.date.fromisoformat(slot["date"])
        opening = self.opens_at(office, day)
        if opening is not None and now < opening:
            raise DomainError("conflict", "not-yet-released",
                              f"{slot['date']} opens for booking at {rfc3339(opening, office.tz)}",
                              params={"date": slot["date"], "opens_at": rfc3339(opening, office.tz)})
        if self.config_of(office.office_id).mode == "BALLOT":
            bid = ballot_id(office.office_id, day, slot["lane"])
            ballot = self.repository.get(bid, {"draw_at": 1})
            if ballot is not None and not self.repository.is_done(bid):
                raise DomainError("conflict", "ballot-pending",
                                  f"the {slot['lane']} seats of {slot['date']} are assigned by ballot {bid} "
                                  f"(draw at {rfc3339(ballot['draw_at'], office.tz)}); enter the ballot instead")


def _instant(text: str, field: str) -> dt.datetime:
    try:
        return parse_rfc3339(text)
    except (TypeError, ValueError, AttributeError):
        raise invalid(f"{field} must be an RFC 3339 time with offset, e.g. 2026-05-04T09:00:00+07:00", field) from None


class Ballots:
    def __init__(self, db, applications, policy: ReleasePolicy, audit, clock: Clock, waitlist=None):
        self.apps, self.policy, self.audit, self.clock = applications, policy, audit, clock
        self.waitlist = waitlist  # losers are put on it
        self.repository = BallotRepository(db)
        self._mine: set[str] = set()  # draws this process inserted: it executes them at once
        self._look_at: dt.datetime | None = None  # when the draw worker reads the ballots again

    def ensure_indexes(self) -> None:
        self.repository.ensure_indexes()

    # -- supervisor ------------------------------------------------------------------------
    def create(self, caller, office_id: str, date: str, lane: str, open_text: str, close_text: str,
               draw_text: str = "") -> dict:
        if caller.role != "SUPERVISOR" or caller.office_id != office_id:
            raise DomainError("forbidden", "forbidden", "only the supervisor of this office schedules its ballots")
        office = self.apps.office(office_id)
        if self.policy.config_of(office_id).mode != "BALLOT":
            raise DomainError("conflict", "office-not-in-ballot-mode",
                              f"{office_id} releases its dates first-come-first-served, not by ballot")
        day = rules.parse_date(date, "date")
        if lane not in BALLOT_LANES:
            raise invalid("lane must be one of " + ", ".join(BALLOT_LANES), "lane")
        opens, closes = _instant(open_text, "entries_open_at"), _instant(close_text, "entries_close_at")
        draw_at = _instant(draw_text, "draw_at") if draw_text else closes
        now = self.clock.now()
        if not self.apps.calendar.is_working_day(office, day):
            raise invalid(f"{date} is not a working day of {office_id}", "date")
        if opens >= closes:
            raise invalid("entries_open_at must be before entries_close_at", "entries_close_at")
        if closes <= now:
            raise invalid("entries_close_at must be in the future", "entries_close_at")
        if draw_at < closes:
            raise invalid("draw_at must not be before entries_close_at", "draw_at")
        if draw_at >= dt.datetime.combine(day, dt.time(), office.tz):
            raise invalid("the draw must happen before the day of the appointments", "draw_at")
        seats = self.apps.slot_repository.seats_offered(office_id, date, lane)
        if seats == 0:
            raise DomainError("conflict", "no-seats", f"{office_id} has no {lane} seats on {date} (yet)")
        bid = ballot_id(office_id, day, lane)
        secret = self.repository.keep_secret(bid, secrets.token_hex(32))  # first: a ballot never lacks its secret
        doc = {"_id": bid, "office_id": office_id, "date": date, "lane": lane, "entries_open_at": opens,
               "entries_close_at": closes, "draw_at": draw_at, "created_by": caller.account_id, "created_at": now,
               "commitment": commitment_of(secret)}
        if not self.repository.add(doc):
            raise DomainError("exists", "ballot-exists", f"a ballot for {lane} seats on {date} exists: {bid}")
        self._look_at = None  # its draw time is read at the next cycle
        self.audit.append(caller, "BALLOT_CREATED", office_id, {
            "ballot_id": bid, "date": date, "lane": lane, "entries_open_at": rfc3339(opens, office.tz),
            "entries_close_at": rfc3339(closes, office.tz), "draw_at": rfc3339(draw_at, office.tz),
            "commitment": doc["commitment"]})
        return self.view(doc)

    # -- public ----------------------------------------------------------------------------
    def list(self, office_id: str) -> list[dict]:
        self.apps.office(office_id)
        docs = self.repository.of_office(office_id)
        return [self.view(d) for d in docs]

    def view(self, doc: dict) -> dict:
        office = self.apps.office(doc["office_id"])
        bid, now = doc["_id"], self.clock.now()
        draw = self.repository.draw(bid, {"seed": 1})
        done = self.repository.done(bid)
        if done is not None:
            status = "DRAWN"
        elif now < doc["entries_open_at"]:
            status = "SCHEDULED"
        elif now < doc["entries_close_at"]:
            status = "OPEN"
        else:
            status = "CLOSED"
        seats = self.apps.slot_repository.seats_offered(doc["office_id"], doc["date"], doc["lane"])
        return {"ballot_id": bid, "office_id": doc["office_id"], "date": doc["date"], "lane": doc["lane"],
                "entries_open_at": rfc3339(doc["entries_open_at"], office.tz),
                "entries_close_at": rfc3339(doc["entries_close_at"], office.tz),
                "draw_at": rfc3339(doc["draw_at"], office.tz), "status": status,
                "commitment": doc.get("commitment", ""),
                "seed": draw["seed"] if draw and done else "",
                "entries": self.repository.count_entries(bid),
                "winners": done["winners"] if done else 0, "seats": seats}

    def _ballot(self, office_id: str, bid: str) -> dict:
        doc = self.repository.get(bid)
        if doc is None or doc["office_id"] != office_id:
            raise DomainError("not_found", "ballot-not-found", f"no ballot {bid!r} at office {office_id}")
        return doc

    def result(self, office_id: str, bid: str) -> dict:
        doc = self._ballot(office_id, bid)
        office = self.apps.office(office_id)
        draw = self.repository.draw(bid)
        if draw is None:
            raise DomainError("conflict", "not-drawn-yet",
                              f"ballot {bid} is drawn at {rfc3339(doc['draw_at'], office.tz)}")
        done = self.repository.is_done(bid)
        outcomes = [{"entry_id": o["entry_id"], "position": o["position"], "outcome": o["outcome"],
                     "slot_id": o.get("slot_id", "")}
                    for o in self.repository.outcomes_of(bid)]
        return {"ballot_id": bid, "commitment": doc.get("commitment", ""), "seed": draw["seed"],
                "secret": draw["secret"], "entry_ids": draw["entry_ids"],
                "order": draw["order"], "outcomes": outcomes, "drawn_at": rfc3339(draw["drawn_at"], office.tz),
                "complete": done}

    def releases(self, office_id: str) -> list[dict]:
        """The published release calendar of the slot horizon: dates grouped by when they open."""
        office = self.apps.office(office_id)
        now = self.clock.now()
        cfg = self.policy.config_of(office_id)
        days = self.apps.calendar.working_days(office, office.today(now), self.apps.horizon)
        ballots: dict[str, list[dict]] = {}
        if cfg.mode == "BALLOT":
            for b in self.list(office_id):
                ballots.setdefault(b["date"], []).append(b)
        groups: dict[dt.datetime | None, list[str]] = {}
        for day in days:
            groups.setdefault(self.policy.opens_at(office, day), []).append(day.isoformat())
        return [{"opens_at": rfc3339(opening, office.tz) if opening else "", "mode": cfg.mode, "dates": dates,
                 "status": "OPEN" if opening is None or opening <= now else "SCHEDULED",
                 "ballots": [b for d in dates for b in ballots.get(d, [])]}
                for opening, dates in groups.items()]

    # -- applicant -------------------------------------------------------------------------
    def enter(self, caller, office_id: str, bid: str, application_id: str) -> dict:
        if caller.role != "APPLICANT":
            raise DomainError("forbidden", "forbidden", "only applicants enter ballots")
        doc = self._ballot(office_id, bid)
        office = self.apps.office(office_id)
        now = self.clock.now()
        if not doc["entries_open_at"] <= now < doc["entries_close_at"]:
            raise DomainError("conflict", "ballot-not-open",
                              f"entries are accepted from {rfc3339(doc['entries_open_at'], office.tz)} "
                              f"until {rfc3339(doc['entries_close_at'], office.tz)}")
        if not application_id:
            raise invalid("application_id is required", "application_id")
        header = self.apps.get(caller, application_id)
        if header["office_id"] != office_id:
            raise DomainError("conflict", "application-of-another-office",
                              f"the application is for office {header['office_id']}, the ballot for {office_id}")
        history = self.apps.history(application_id)
        status = history[-1]["status"] if history else "DRAFT"
        if status != "DRAFT":
            raise DomainError("conflict", "application-not-draft",
                              f"the application is {status}; only a DRAFT application enters a ballot")
        lanes = rules.allowed_lanes(header["service_type"], header["express"], header["priority_group"])
        if doc["lane"] not in lanes:
            raise DomainError("conflict", "lane-not-allowed",
                              f"this application may book {', '.join(sorted(lanes))} seats, not {doc['lane']}")
        entry = {"_id": f"{bid}:{caller.account_id}", "entry_id": "ent_" + secrets.token_hex(8), "ballot_id": bid,
                 "application_id": application_id, "account_id": caller.account_id, "at": now}
        entry = self.repository.add_entry(entry)
        if entry["application_id"] != application_id:
            raise DomainError("exists", "already-entered", "this NIK has entered this ballot already")
        return {"entry_id": entry["entry_id"], "ballot_id": bid, "application_id": application_id,
                "entered_at": rfc3339(entry["at"], office.tz)}

    def entries_of_application(self, caller, application_id: str) -> list[dict]:
        """The entries made with the caller's application: per ballot of its office, the entry keyed
        `<ballot>:<account>` and its outcome `<ballot>:<entry>` are read by `_id` (no scan of entries)."""
        if caller.role != "APPLICANT":
            raise DomainError("forbidden", "forbidden", "only applicants have ballot entries")
        header = self.apps.get(caller, application_id)  # not found unless it is the caller's own
        office = self.apps.office(header["office_id"])
        out = []
        for doc in self.repository.of_office(header["office_id"]):
            entry = self.repository.entry(doc["_id"], caller.account_id)
            if entry is None or entry["application_id"] != application_id:
                continue
            decided = self.repository.outcome(doc["_id"], entry["entry_id"]) or {}
            out.append({"entry": {"entry_id": entry["entry_id"], "ballot_id": doc["_id"],
                                  "application_id": application_id, "entered_at": rfc3339(entry["at"], office.tz)},
                        "ballot": self.view(doc), "outcome": decided.get("outcome", ""),
                        "slot_id": decided.get("slot_id") or ""})
        return sorted(out, key=lambda e: e["entry"]["entered_at"])

    # -- the draw worker -------------------------------------------------------------------
    def run_due(self) -> int:
        """One cycle of the draw worker (every replica runs it): draw and seat due ballots. The
        ballots are read when one is due to be drawn, or RELOOK after the last read; an unfinished
        draw is looked at again the next cycle."""
        now = self.clock.now()
        if self._look_at is not None and now < self._look_at:
            return 0
        ballots = self.repository.drawn_from(now - LOOKBACK)
        due = [b for b in ballots if b["draw_at"] <= now]
        look_at = min([b["draw_at"] for b in ballots if b["draw_at"] > now] + [now + RELOOK])
        done = self.repository.done_of([b["_id"] for b in due]) if due else set()
        undone = [b for b in due if b["_id"] + ":done" not in done]
        finished = sum(self.draw(ballot) for ballot in undone)
        self._look_at = look_at if finished == len(undone) else None
        return finished

    def draw(self, ballot: dict) -> bool:
        bid, now = ballot["_id"], self.clock.now()
        record = self.repository.draw(bid)
        if record is None:
            entry_ids = self.repository.entry_ids_before(bid, ballot["entries_close_at"])
            secret = self.repository.secret_of(bid) or secrets.token_hex(32)  # ballots before commitments
            seed = seed_of(bid, secret)
            record = {"_id": bid + ":draw", "ballot_id": bid, "secret": secret, "seed": seed,
                      "entry_ids": entry_ids, "order": draw_order(seed, entry_ids), "drawn_at": now}
            if self.repository.add_draw(record):
                self._mine.add(bid)
            else:
                record = self.repository.draw(bid)
        if bid not in self._mine and now - record["drawn_at"] < RECOVER_AFTER:
            return False  # the replica that drew it is seating the winners
        return self._execute(ballot, record)

    def _execute(self, ballot: dict, record: dict) -> bool:
        bid = ballot["_id"]
        entries = self.repository.entries_of(bid)
        decided = {o["entry_id"]: o for o in self.repository.outcomes_of(bid)}
        full_slots: set[str] = set()
        for position, entry_id in enumerate(record["order"], 1):
            if entry_id in decided:
                continue
            outcome, slot = self._seat(ballot, entries[entry_id], full_slots)
            if outcome is None:
                return False  # a transient failure (payment unavailable): the next cycle goes on
            if outcome == "LOST" and self.waitlist is not None:  # before the outcome: redone after a crash
                try:
                    self.waitlist.enqueue(entries[entry_id]["application_id"], entries[entry_id]["account_id"],
                                          ballot["office_id"], ballot["date"], ballot["lane"])
                except DomainError:
                    pass  # already waiting for another date: that line stands
            self.repository.add_outcome({"_id": f"{bid}:{entry_id}", "ballot_id": bid, "entry_id": entry_id,
                                         "position": position, "outcome": outcome, "slot_id": slot,
                                         "application_id": entries[entry_id]["application_id"],
                                         "at": self.clock.now()})
        counts = {"WON": 0, "LOST": 0, "INELIGIBLE": 0}
        for o in self.repository.outcomes_of(bid):
            counts[o["outcome"]] += 1
        self.repository.mark_done({"_id": bid + ":done", "ballot_id": bid, "winners": counts["WON"],
                                   "losers": counts["LOST"], "ineligible": counts["INELIGIBLE"],
                                   "at": self.clock.now()})
        self._mine.discard(bid)
        return True

    def _seat(self, ballot: dict, entry: dict, full_slots: set[str]) -> tuple[str | None, str]:
        caller = common_pb2.Caller(account_id=entry["account_id"], role="APPLICANT")
        try:
            view = self.apps.view(self.apps.get(caller, entry["application_id"]))
        except DomainError:
            return "INELIGIBLE", ""
        appointment = view.get("appointment") or {}
        if (view["status"] == "AWAITING_PAYMENT" and appointment.get("date") == ballot["date"]
                and appointment.get("lane") == ballot["lane"]):
            return "WON", appointment["slot_id"]  # seated before a crash, outcome not yet recorded
        if view["status"] != "DRAFT":
            return "INELIGIBLE", ""
        for slot in self.apps.list_slots(ballot["office_id"], ballot["date"], ballot["lane"]):
            if slot["_id"] in full_slots or slot["remaining"] <= 0:
                full_slots.add(slot["_id"])
                continue
            try:
                self.apps.book(caller, entry["application_id"], slot["_id"], via_ballot=True)
                return "WON", slot["_id"]
            except DomainError as err:
                if err.problem == "slot-full":
                    full_slots.add(slot["_id"])
                    continue
                if err.kind in ("unavailable", "busy"):
                    return None, ""
                return "INELIGIBLE", ""
        return "LOST", ""
