"""MongoDB access. Each service owns one database; MONGO_URI points at real MongoDB in a cluster
and at FerretDB locally.

FerretDB has no transactions and its conditional updates are not atomic (it reads, applies the
update in Go, and writes back), so correctness never rests on a conditional update: decisions are
inserts under a unique key (`insert_unique`), which are atomic on both servers.
"""
from __future__ import annotations

import pymongo
from pymongo.errors import DuplicateKeyError

from servicekit.config import env

_clients: dict[str, pymongo.MongoClient] = {}


def database(service: str) -> pymongo.database.Database:
    uri = env("MONGO_URI", "mongodb://127.0.0.1:27017/")
    if uri not in _clients:
        _clients[uri] = pymongo.MongoClient(
            uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000, socketTimeoutMS=10000,
            tz_aware=True, maxPoolSize=50, appname=service)
    name = env("MONGO_DATABASE", "passport_" + service.replace("-", "_"))
    return _clients[uri][name]


def insert_unique(collection, document: dict) -> bool:
    """Insert; False when a document with the same unique key exists (the race was lost)."""
    try:
        collection.insert_one(document)
        return True
    except DuplicateKeyError:
        return False


def ping(db) -> bool:
    try:
        db.client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
