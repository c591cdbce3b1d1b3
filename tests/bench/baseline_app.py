"""The bare baseline of the release-rush benchmark: a minimal Flask endpoint doing one
unique-index insert per request with pymongo, nothing else. Served by the same gunicorn worker
class and count as the gateway, against the same store, driven by the same client.

    gunicorn --workers 4 --worker-class services.gateway.worker.ArrivalStampedWorker --threads 32 \
        tests.bench.baseline_app:app
"""
from __future__ import annotations

import os
import uuid

import pymongo
from flask import Flask, jsonify
from pymongo.errors import DuplicateKeyError

app = Flask(__name__)
_client = None


def _items():
    global _client
    if _client is None:  # one client per worker process, created after the fork
        _client = pymongo.MongoClient(os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/"),
                                      serverSelectionTimeoutMS=5000, maxPoolSize=50)
    return _client["bench_baseline"]["items"]


@app.get("/healthz")
def healthz():
    _items().create_index("key", unique=True)
    return jsonify({"status": "ok"})


@app.post("/insert")
def insert():
    key = uuid.uuid4().hex
    try:
        _items().insert_one({"key": key})
    except DuplicateKeyError:
        return jsonify({"key": key, "inserted": False}), 409
    return jsonify({"key": key, "inserted": True}), 201
