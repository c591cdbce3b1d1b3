"""Stored answers do not outlive their use: an idempotency record expires (workers delete expired
ones by an index on `expires`; an expired one is never replayed), so a staff view with a passport
number is not kept for ever."""
from __future__ import annotations

import datetime as dt
import uuid

import pymongo


def test_an_expired_idempotency_record_is_not_replayed_and_the_store_drops_them(api, stack):
    person = api.register_applicant()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"office_id": "TBK", "passport_type": "ELECTRONIC", "validity_years": 10, "service_type": "NEW",
            "express": False, "priority_group": None}
    first = api.post("/v1/applications", body, token=person["token"], headers=key)
    assert first.status == 201, first.body
    again = api.post("/v1/applications", body, token=person["token"], headers=key)
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"

    client = pymongo.MongoClient(stack.env()["MONGO_URI"], directConnection=True)
    try:
        records = client["passport_gateway"]["idempotency"]
        assert any(i["key"] == [("expires", 1)] for i in records.index_information().values())
        done = records.find_one({"state": "done", "response": {"$regex": first.body["application_id"]}})
        assert done and done["expires"] - done["at"] <= dt.timedelta(hours=24, seconds=5)
        records.update_one({"_id": done["_id"]}, {"$set": {"expires": dt.datetime.now(dt.timezone.utc)
                                                           - dt.timedelta(seconds=1)}})
    finally:
        client.close()
    late = api.post("/v1/applications", body, token=person["token"], headers=key)
    assert late.headers.get("Idempotent-Replayed") is None
    assert late.status == 409, late.body  # run again: the open application already exists
