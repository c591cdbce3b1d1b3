"""Release and ballot rules, pure: when a date opens for booking (each office's rule in offices.json),
and the ballot draw anyone can re-run (commitment, seed, order, allocation, verification).
The long story is in usecases/releases.py's docstring."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from servicekit.config import env

from services.booking.domain.calendar import DATA, Calendar

MODES = ("FCFS", "BALLOT")
BALLOT_LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT")


@dataclass(frozen=True)
class ReleaseConfig:
    mode: str = "FCFS"
    opens_days_before: int | None = None
    opens: str = ""
    at: str = "09:00"


def load_config(path: Path = DATA) -> dict[str, ReleaseConfig]:
    """Each office's rule; RELEASE_OPENS_DAYS_BEFORE overrides `opens_days_before` of every office
    (a rehearsal or benchmark that books dates further ahead than the published calendar)."""
    out = {}
    override = env("RELEASE_OPENS_DAYS_BEFORE", "")
    for o in json.loads(Path(path).read_text())["offices"]:
        r = o.get("release") or {}
        days = int(override) if override else r.get("opens_days_before")
        cfg = ReleaseConfig(mode=r.get("mode", "FCFS"), opens_days_before=days,
                            opens=r.get("opens", ""), at=r.get("at", "09:00"))
        if cfg.mode not in MODES:
            raise ValueError(f"office {o['office_id']}: release mode must be FCFS or BALLOT")
        out[o["office_id"]] = cfg
    return out


# -- pure rules -----------------------------------------------------------------------------
def opens_at(calendar: Calendar, office, cfg: ReleaseConfig, day: dt.date) -> dt.datetime | None:
    """When `day` opens for booking (office local time), or None when it is always open."""
    at = dt.time.fromisoformat(cfg.at)
    if cfg.opens_days_before is not None:
        return dt.datetime.combine(day - dt.timedelta(days=cfg.opens_days_before), at, office.tz)
    if cfg.opens == "last_working_day_of_previous_month":
        release = day.replace(day=1) - dt.timedelta(days=1)
        while not calendar.is_working_day(office, release):
            release -= dt.timedelta(days=1)
        return dt.datetime.combine(release, at, office.tz)
    return None


def seed_of(ballot_id: str, secret: str) -> str:
    return hashlib.sha256((ballot_id + secret).encode()).hexdigest()


def draw_order(seed: str, entry_ids: list[str]) -> list[str]:
    """The published draw: the entry ids sorted, then shuffled by random.Random(seed)."""
    order = sorted(entry_ids)
    random.Random(seed).shuffle(order)
    return order


def allocate(order: list[str], capacities: list[int], eligible=lambda entry_id: True) -> dict[str, int]:
    """Entries in order take the first slot with room; entry id -> slot index. Pure model of the
    assignment the draw worker performs through Applications.book."""
    left, out = list(capacities), {}
    for entry_id in order:
        if entry_id in out or not eligible(entry_id):
            continue
        for i, room in enumerate(left):
            if room > 0:
                left[i] -= 1
                out[entry_id] = i
                break
    return out


def commitment_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def verify_result(result: dict) -> dict:
    """Re-run a published draw: the secret against the commitment published before the entries,
    the seed from the secret, the order from seed and entries, and that no entry won twice and no
    loser was drawn before a winner."""
    problems = []
    if result.get("commitment") and commitment_of(result.get("secret") or "") != result["commitment"]:
        problems.append("sha256(secret) != the commitment published when the ballot was scheduled")
    if result.get("secret") and seed_of(result["ballot_id"], result["secret"]) != result.get("seed"):
        problems.append("seed != sha256(ballot_id + secret)")
    order = draw_order(result["seed"], list(result["entry_ids"]))
    if order != list(result["order"]):
        problems.append("the published order is not random.Random(seed).shuffle(sorted(entry_ids))")
    outcomes = result.get("outcomes") or []
    won = [o["entry_id"] for o in outcomes if o["outcome"] == "WON"]
    if len(won) != len(set(won)):
        problems.append("an entry won twice")
    position = {e: i + 1 for i, e in enumerate(order)}
    for o in outcomes:
        if position.get(o["entry_id"]) != o.get("position"):
            problems.append(f"entry {o['entry_id']} is not at position {o.get('position')} of the order")
            break
    first_lost = min((o["position"] for o in outcomes if o["outcome"] == "LOST"), default=None)
    if first_lost is not None and any(o["position"] > first_lost for o in outcomes if o["outcome"] == "WON"):
        problems.append("an entry won after an earlier entry lost")
    return {"ok": not problems, "problems": problems, "entries": len(order), "winners": len(won),
            "order": order}


def ballot_id(office_id: str, day: dt.date, lane: str) -> str:
    return f"{office_id}-{day:%Y%m%d}-{lane}"
