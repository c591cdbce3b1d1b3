"""Races on the real store (FerretDB) that the platform's helpers must survive."""
from __future__ import annotations

import threading
import uuid

import pymongo
import pytest

from servicekit.mongo import count_numbered, upsert


def all_at_once(n: int, one) -> list[str]:
    """Run one() in n threads released together; the errors they raised."""
    start, errors = threading.Barrier(n), []

    def run():
        start.wait()
        try:
            one()
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.fixture
def scratch(stack):
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    yield client["passport_store_races"]
    client.drop_database("passport_store_races")
    client.close()


def test_first_upserts_of_one_document_at_once_all_succeed(scratch):
    """Sixteen first upserts of one document at once: none fails (the losers of the race to create it
    got DuplicateKeyError, and the gateway answered a registration 500). FerretDB's `$inc` is
    read-modify-write, so parallel increments may be lost: counts that must be exact are numbered
    inserts (next test), never a counter."""
    for _round in range(3):
        key = {"_id": uuid.uuid4().hex}
        assert all_at_once(16, lambda: upsert(scratch["counters"], key, {"$inc": {"count": 1},
                                                                       "$setOnInsert": {"created": True}})) == []
        doc = scratch["counters"].find_one(key)
        assert doc["created"] is True and 1 <= doc["count"] <= 16


def test_sixteen_guesses_at_once_are_sixteen_attempts(stack, monkeypatch):
    """The attempt limits count parallel attempts exactly (a numbered insert each), so a burst of
    guesses at one account is refused after the limit however it is timed."""
    from services.gateway import attempts
    from services.gateway.problems import Problem
    env = stack.env()
    monkeypatch.setenv("MONGO_URI", env["MONGO_URI"])
    for name in ("JWT_SECRET", "PASSPORT_LOCAL_MODE"):  # the stack's own (demo) secret
        monkeypatch.setenv(name, env[name])
    monkeypatch.setattr(attempts, "_appenders", {})
    subject = f"guessed-{uuid.uuid4().hex}@example.id"
    assert all_at_once(16, lambda: attempts.record("login-account", subject)) == []
    store, key, _ends, _now = attempts._entries("login-account", subject)
    assert count_numbered(store, key) == 16
    with pytest.raises(Problem) as refused:
        attempts.check("login-account", subject)
    assert refused.value.status == 429
