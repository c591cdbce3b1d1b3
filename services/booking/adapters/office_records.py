"""Repositories of the office side of booking: the counter's queue calls and document-read log, the
waitlist, outreach requests, and the statistics' reads. Everything that must happen once is a keyed
insert (`insert_unique`) or a numbered log (`append_numbered`), as in repositories.py."""
from __future__ import annotations

import datetime as dt

from servicekit import events, outbox
from servicekit.clock import Clock
from servicekit.crypto import KeyRing, RotationReport, rotate
from servicekit.mongo import append_numbered, find_by_ids, insert_unique, read_numbered

from services.booking.adapters.mapping import event_to_proto
from services.booking.adapters.repositories import TOPIC


class CounterLog:
    """Queue calls `<office>:<date>:call:<number>` (once per number), the day's numbered call log
    `<office>:<date>:log:<n>`, and each application's document-read log `<application>:<n>`."""

    def __init__(self, db):
        self.calls, self.reads = db["queue_calls"], db["document_reads"]

    def call(self, office_id: str, day: str, number: str, application_id: str, by: str, at: dt.datetime) -> bool:
        return insert_unique(self.calls, {"_id": f"{office_id}:{day}:call:{number}", "office_id": office_id,
                                          "date": day, "number": number, "application_id": application_id,
                                          "by": by, "at": at})

    def was_called(self, office_id: str, day: str, number: str) -> bool:
        return self.calls.find_one({"_id": f"{office_id}:{day}:call:{number}"}) is not None

    def log(self, office_id: str, day: str, number: str, action: str, desk: str, by: str, at: dt.datetime) -> dict:
        return append_numbered(self.calls, lambda n: f"{office_id}:{day}:log:{n}", lambda n: {
            "office_id": office_id, "date": day, "number": number, "action": action, "desk": desk,
            "by": by, "at": at})

    def day_log(self, office_id: str, day: str) -> list[dict]:
        return read_numbered(self.calls, lambda n: f"{office_id}:{day}:log:{n}")

    def record_read(self, application_id: str, record: dict) -> None:
        append_numbered(self.reads, lambda n: f"{application_id}:{n}", lambda n: dict(record))

    def reads_of(self, application_id: str) -> list[dict]:
        return read_numbered(self.reads, lambda n: f"{application_id}:{n}")


class WaitlistRepository:
    """Entries `<office>|<date>|<lane>|<application>` (one per application), and the offer or skip
    decided for each entry under the same key."""

    def __init__(self, db, clock: Clock):
        self.entries, self.offers, self.clock = db["waitlist"], db["waitlist_offers"], clock

    def ensure_indexes(self) -> None:
        self.entries.create_index([("office_id", 1), ("date", 1), ("lane", 1), ("at", 1)])
        self.entries.create_index("application_id", unique=True)

    def add(self, entry: dict) -> bool:
        return insert_unique(self.entries, entry)

    def entry_of(self, application_id: str) -> dict | None:
        return self.entries.find_one({"application_id": application_id})

    def waiting(self, office_id: str, date: str, lane: str) -> list[dict]:
        """The line in order of joining, without the entries decided already."""
        entries = list(self.entries.find({"office_id": office_id, "date": date, "lane": lane}).sort("at", 1))
        done = {o["_id"] for o in find_by_ids(self.offers, [e["_id"] for e in entries], {"_id": 1})}
        return [e for e in entries if e["_id"] not in done]

    def lines(self) -> list[dict]:
        """Every (office_id, date, lane) someone waits for."""
        keys = self.entries.aggregate([{"$group": {"_id": {"office_id": "$office_id", "date": "$date", "lane": "$lane"}}}])
        return [k["_id"] for k in keys]

    def skip(self, entry_id: str, reason: str) -> None:
        insert_unique(self.offers, {"_id": entry_id, "outcome": "SKIPPED", "reason": reason, "at": self.clock.now()})

    def offered(self, entry: dict, event) -> bool:
        """The offer recorded once, with its event (outbox)."""
        record = {"_id": entry["_id"], "outcome": "OFFERED", "application_id": entry["application_id"],
                  "at": self.clock.now()}
        return outbox.insert(self.offers, record,
                             [events.new_event("booking", entry["application_id"], event_to_proto(event), self.clock)],
                             TOPIC, self.clock)


class OutreachRepository:
    """Requests, the one decision on each (keyed by the request), and invitation codes. The
    organiser's contact phone is sealed with the booking key ring (`key_id`, `nonce`, `ciphertext`,
    the request id as associated data); a request from before keeps `contact_phone` in clear until
    `rotate-keys` seals it."""

    def __init__(self, db, keys: KeyRing):
        self.requests, self.decisions, self.codes = db["outreach_requests"], db["outreach_decisions"], db["outreach_codes"]
        self.keys = keys

    def ensure_indexes(self) -> None:
        self.requests.create_index([("office_id", 1), ("date", 1)])

    def add(self, doc: dict) -> None:
        stored = dict(doc)
        stored.update(self.keys.seal(stored.pop("contact_phone").encode(), doc["_id"]))
        self.requests.insert_one(stored)

    def _opened(self, doc: dict | None) -> dict | None:
        if doc is not None and "ciphertext" in doc:
            doc = {k: v for k, v in doc.items() if k not in ("key_id", "nonce", "ciphertext")} | {
                "contact_phone": self.keys.open(doc, doc["_id"]).decode()}
        return doc

    def get(self, request_id: str) -> dict | None:
        return self._opened(self.requests.find_one({"_id": request_id}))

    def of_office(self, office_id: str) -> list[dict]:
        return [self._opened(d) for d in self.requests.find({"office_id": office_id}).sort("date", 1)]

    def rotate_keys(self) -> RotationReport:
        """Seal every organiser's phone under the current key, old-key and clear ones alike."""
        return rotate(self.requests, self.keys, clear_fields=("contact_phone",),
                      clear_plaintext=lambda d: d["contact_phone"].encode())

    def decide(self, decision: dict) -> bool:
        return insert_unique(self.decisions, decision)

    def decision(self, request_id: str) -> dict | None:
        return self.decisions.find_one({"_id": request_id})

    def add_code(self, code: str, request_id: str, office_id: str, slot_id: str) -> None:
        insert_unique(self.codes, {"_id": code, "request_id": request_id, "office_id": office_id, "slot_id": slot_id})

    def code(self, code: str) -> dict | None:
        return self.codes.find_one({"_id": code})


class StatisticsReader:
    """The reads behind the supervisor's statistics: slot capacity per day, and the statuses the
    office's applications reached (transitions read in chunks by application id)."""

    CHUNK = 500

    def __init__(self, db):
        self.db = db

    def ensure_indexes(self) -> None:
        self.db["applications"].create_index("office_id")

    def capacity_by_day(self, office_id: str, lo: str, hi: str) -> dict[str, int]:
        return {r["_id"]: r["n"] for r in self.db["slots"].aggregate([
            {"$match": {"office_id": office_id, "date": {"$gte": lo, "$lte": hi}}},
            {"$group": {"_id": "$date", "n": {"$sum": "$capacity"}}}])}

    def application_ids(self, office_id: str, created_before: dt.datetime) -> list[str]:
        return [a["_id"] for a in self.db["applications"].find(
            {"office_id": office_id, "created_at": {"$lt": created_before}}, {"_id": 1})]

    def transitions_reaching(self, app_ids: list[str], statuses: list[str]):
        """Their transitions to `statuses`, oldest first per chunk of applications."""
        for i in range(0, len(app_ids), self.CHUNK):
            chunk = app_ids[i:i + self.CHUNK]
            yield from self.db["transitions"].find(
                {"application_id": {"$in": chunk}, "status": {"$in": statuses}},
                {"application_id": 1, "status": 1, "seq": 1, "data.appointment.date": 1}).sort("seq", 1)


class BallotRepository:
    """Ballots `<office>-<yyyymmdd>-<lane>`, their secret (written first, never shown before the
    draw), entries `<ballot>:<account>`, the draw record `<ballot>:draw` and the `<ballot>:done`
    record, and one outcome per entry `<ballot>:<entry>`: all keyed inserts."""

    def __init__(self, db):
        self.ballots, self.draws = db["ballots"], db["ballot_draws"]
        self.secrets = db["ballot_secrets"]
        self.entries, self.outcomes = db["ballot_entries"], db["ballot_outcomes"]

    def ensure_indexes(self) -> None:
        self.ballots.create_index([("office_id", 1), ("date", 1)])
        self.ballots.create_index("draw_at")
        self.entries.create_index("ballot_id")
        self.outcomes.create_index("ballot_id")

    # -- ballots and their secrets ----------------------------------------------------------------
    def get(self, ballot_id: str, projection: dict | None = None) -> dict | None:
        return self.ballots.find_one({"_id": ballot_id}, projection)

    def add(self, doc: dict) -> bool:
        return insert_unique(self.ballots, doc)

    def of_office(self, office_id: str, limit: int = 200) -> list[dict]:
        return list(self.ballots.find({"office_id": office_id}).sort([("date", -1), ("lane", 1)]).limit(limit))

    def drawn_from(self, since: dt.datetime) -> list[dict]:
        """Ballots whose draw is at or after `since` (drawn lately, or still to draw)."""
        return list(self.ballots.find({"draw_at": {"$gte": since}}))

    def keep_secret(self, ballot_id: str, secret: str) -> str:
        """The ballot's secret: this one, or the one a parallel request stored first."""
        insert_unique(self.secrets, {"_id": ballot_id, "secret": secret})
        return self.secrets.find_one({"_id": ballot_id})["secret"]

    def secret_of(self, ballot_id: str) -> str | None:
        committed = self.secrets.find_one({"_id": ballot_id})
        return committed["secret"] if committed else None

    # -- draws --------------------------------------------------------------------------------------
    def draw(self, ballot_id: str, projection: dict | None = None) -> dict | None:
        return self.draws.find_one({"_id": ballot_id + ":draw"}, projection)

    def add_draw(self, record: dict) -> bool:
        return insert_unique(self.draws, record)

    def done(self, ballot_id: str) -> dict | None:
        return self.draws.find_one({"_id": ballot_id + ":done"})

    def is_done(self, ballot_id: str) -> bool:
        return self.draws.find_one({"_id": ballot_id + ":done"}, {"_id": 1}) is not None

    def done_of(self, ballot_ids: list[str]) -> set[str]:
        """The `<ballot>:done` ids among `ballot_ids` that exist."""
        return {d["_id"] for d in find_by_ids(self.draws, [b + ":done" for b in ballot_ids], {"_id": 1})}

    def mark_done(self, record: dict) -> None:
        insert_unique(self.draws, record)

    # -- entries and outcomes -----------------------------------------------------------------------
    def add_entry(self, entry: dict) -> dict:
        """The entry, or the one this account entered already."""
        if not insert_unique(self.entries, entry):
            entry = self.entries.find_one({"_id": entry["_id"]})
        return entry

    def count_entries(self, ballot_id: str) -> int:
        return self.entries.count_documents({"ballot_id": ballot_id})

    def entry_ids_before(self, ballot_id: str, closes: dt.datetime) -> list[str]:
        return sorted(e["entry_id"] for e in self.entries.find(
            {"ballot_id": ballot_id, "at": {"$lt": closes}}, {"entry_id": 1}))

    def entries_of(self, ballot_id: str) -> dict[str, dict]:
        return {e["entry_id"]: e for e in self.entries.find({"ballot_id": ballot_id})}

    def entry(self, ballot_id: str, account_id: str) -> dict | None:
        return self.entries.find_one({"_id": f"{ballot_id}:{account_id}"})

    def outcome(self, ballot_id: str, entry_id: str) -> dict | None:
        return self.outcomes.find_one({"_id": f"{ballot_id}:{entry_id}"})

    def outcomes_of(self, ballot_id: str) -> list[dict]:
        return list(self.outcomes.find({"ballot_id": ballot_id}).sort("position", 1))

    def add_outcome(self, doc: dict) -> None:
        insert_unique(self.outcomes, doc)
