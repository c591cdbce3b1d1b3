"""Races on the real store (FerretDB) that the platform's helpers must survive."""
from __future__ import annotations

import threading
import uuid

import pymongo

from servicekit.mongo import upsert


def test_first_upserts_of_one_counter_at_once_all_count(stack):
    """Sixteen first upserts of one counter at once (as sixteen registrations from one address open a
    new attempt window): every one counts and none fails. Before the helper, the losers of the race to
    create the document got DuplicateKeyError, and the gateway answered a registration 500."""
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    try:
        counters = client["passport_store_races"]["counters"]
        for _round in range(3):
            key, start, errors = {"_id": uuid.uuid4().hex}, threading.Barrier(16), []

            def one():
                start.wait()
                try:
                    upsert(counters, key, {"$inc": {"count": 1}, "$setOnInsert": {"created": True}})
                except Exception as exc:  # noqa: BLE001 - the test reports any failure
                    errors.append(repr(exc))

            threads = [threading.Thread(target=one) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert counters.find_one(key) == dict(key, count=16, created=True)
    finally:
        client.drop_database("passport_store_races")
        client.close()
