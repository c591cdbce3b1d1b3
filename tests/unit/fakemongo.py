"""An in-memory stand-in for the few pymongo calls the services' domain code makes, for unit tests
of pure domain logic only (integration tests always run on real FerretDB): unique `_id` and unique
secondary keys, simple filters ($in $lt $lte $gte $ne $exists, top-level $or), sort/limit, $set, $inc,
$max and $unset updates (upsert by _id), deletes."""
from __future__ import annotations

import copy

from pymongo.errors import DuplicateKeyError

_OPS = {"$in": lambda v, a: v in a, "$lt": lambda v, a: v is not None and v < a,
        "$lte": lambda v, a: v is not None and v <= a, "$gte": lambda v, a: v is not None and v >= a,
        "$ne": lambda v, a: v != a}


def matches(doc: dict, query: dict) -> bool:
    for key, cond in query.items():
        if key == "$or":
            if not any(matches(doc, q) for q in cond):
                return False
            continue
        value = doc.get(key)
        if isinstance(cond, dict):
            if not all((key in doc) == bool(arg) if op == "$exists" else _OPS[op](value, arg)
                       for op, arg in cond.items()):
                return False
        elif value != cond:
            return False
    return True


class Cursor(list):
    def sort(self, key, direction=1):
        if isinstance(key, list):
            key, direction = key[0]
        return Cursor(sorted(self, key=lambda d: d[key], reverse=direction == -1))

    def limit(self, n):
        return Cursor(self[:n]) if n else self


class Collection:
    def __init__(self, name: str = "fake", database: "Database | None" = None):
        self.name, self.database = name, database
        self.docs: dict = {}
        self.unique: list[str] = []

    def create_index(self, key, unique=False, **_):
        if unique and isinstance(key, str):
            self.unique.append(key)

    def insert_one(self, doc):
        if doc["_id"] in self.docs or any(
                doc.get(k) is not None and any(d.get(k) == doc.get(k) for d in self.docs.values())
                for k in self.unique):
            raise DuplicateKeyError("duplicate")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    def find(self, query=None, projection=None):
        return Cursor(copy.deepcopy(d) for d in self.docs.values() if matches(d, query or {}))

    def find_one(self, query=None, projection=None):
        found = self.find(query)
        return found[0] if found else None

    def count_documents(self, query):
        return len(self.find(query))

    def update_one(self, query, update, upsert=False):
        for d in self.docs.values():
            if matches(d, query):
                d.update(copy.deepcopy(update.get("$set", {})))
                for key, step in update.get("$inc", {}).items():
                    d[key] = d.get(key, 0) + step
                for key in update.get("$unset", {}):
                    d.pop(key, None)
                for key, value in update.get("$max", {}).items():
                    d[key] = max(d.get(key, value), value)
                return UpdateResult(1)
        if upsert and "_id" in query:  # only upserts by _id are used
            self.insert_one({"_id": query["_id"], **copy.deepcopy(update.get("$setOnInsert", {})),
                             **copy.deepcopy(update.get("$set", {})), **update.get("$max", {}), **update.get("$inc", {})})
            return UpdateResult(1)
        return UpdateResult(0)

    def delete_one(self, query):
        gone = next((k for k, d in self.docs.items() if matches(d, query)), None)
        if gone is not None:
            del self.docs[gone]
        return DeleteResult(int(gone is not None))

    def delete_many(self, query):
        gone = [k for k, d in self.docs.items() if matches(d, query)]
        for k in gone:
            del self.docs[k]
        return DeleteResult(len(gone))


class UpdateResult:
    def __init__(self, modified_count: int):
        self.modified_count = self.matched_count = modified_count  # matched is modified here


class DeleteResult:
    def __init__(self, deleted_count: int):
        self.deleted_count = deleted_count


class Database(dict):
    """Collections appear on first use, as in MongoDB."""

    def __missing__(self, name):
        self[name] = Collection(name, self)
        return self[name]
