"""The store reads one row for a write keyed by `_id`, also when the write has a condition.

The platform's conditional writes name the document by `_id` and add what must still hold: free a
seat only if it is still this hold's, delete an idempotency record only while it is pending, move
the waiting room's clock only if nobody moved it since. On FerretDB 1.24 (SQLite) only a filter of
`_id` alone used the index; with a condition it read and decoded the whole collection inside the
write (deploy/local/ferretdb/sqlite-id-filter.patch). Lists of keys (`_id: {$in: [...]}`: the
waiting room's counters of the last seconds, batched deletes, a booking's documents) read the whole
collection too (deploy/local/ferretdb/sqlite-id-in.patch). Checked on the real store: the query plan,
and that the filter still decides."""
from __future__ import annotations

import pymongo
import pytest


@pytest.fixture
def seats(stack):
    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    db = client["passport_store_lookups"]
    db.seats.insert_many([{"_id": f"TBK-20270104-REGULAR-0900|{n}", "hold_id": f"h{n}"} for n in range(300)])
    yield db
    client.drop_database("passport_store_lookups")
    client.close()


def plan(db, flt: dict) -> str:
    return " ".join(db.command("explain", {"find": "seats", "filter": flt})["queryPlanner"]["Plan"])


def test_a_conditional_write_by_id_searches_the_index_and_its_condition_still_decides(seats):
    seat = "TBK-20270104-REGULAR-0900|7"
    assert "USING INDEX" in plan(seats, {"_id": seat, "hold_id": "h7"})
    assert "USING INDEX" in plan(seats, {"_id": seat})
    assert "SCAN" in plan(seats, {"hold_id": "h7"})  # no _id: the whole collection, as before
    assert seats.seats.delete_one({"_id": seat, "hold_id": "someone else's"}).deleted_count == 0
    assert seats.seats.update_one({"_id": seat, "moved": {"$exists": True}}, {"$set": {"x": 1}}).matched_count == 0
    assert seats.seats.find_one({"_id": seat, "hold_id": {"$ne": "h7"}}) is None
    assert seats.seats.update_one({"_id": seat, "hold_id": "h7"}, {"$set": {"moved": True}}).modified_count == 1
    assert seats.seats.delete_one({"_id": seat, "hold_id": "h7"}).deleted_count == 1
    assert seats.seats.count_documents({}) == 299


def test_a_list_of_keys_searches_the_index_and_the_rest_of_the_filter_still_decides(seats):
    keys = [f"TBK-20270104-REGULAR-0900|{n}" for n in (3, 5, 8, 299)] + ["TBK-20270104-REGULAR-0900|missing"]
    assert "USING INDEX" in plan(seats, {"_id": {"$in": keys}})
    assert "USING INDEX" in plan(seats, {"_id": {"$in": keys}, "hold_id": "h5"})
    # anything but strings and ObjectIDs, an empty list, or $in beside another operator: as before
    assert "SCAN" in plan(seats, {"_id": {"$in": keys + [7]}})
    assert "SCAN" in plan(seats, {"_id": {"$in": []}})
    assert "SCAN" in plan(seats, {"_id": {"$in": keys, "$ne": keys[0]}})
    found = sorted(d["_id"] for d in seats.seats.find({"_id": {"$in": keys}}))
    assert found == sorted(keys[:4])
    assert [d["_id"] for d in seats.seats.find({"_id": {"$in": keys}, "hold_id": "h5"})] == [keys[1]]
    assert sorted(d["_id"] for d in seats.seats.find({"_id": {"$in": keys, "$ne": keys[0]}})) == sorted(keys[1:4])
    assert list(seats.seats.find({"_id": {"$in": []}})) == []
    assert seats.seats.count_documents({"_id": {"$in": keys[:2] + [7]}}) == 2
    assert seats.seats.delete_many({"_id": {"$in": keys}, "hold_id": {"$ne": "h8"}}).deleted_count == 3
    assert seats.seats.count_documents({}) == 297
    assert seats.seats.find_one({"_id": keys[2]})["hold_id"] == "h8"
