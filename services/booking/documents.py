"""Documents of an application: stored in the booking database as binary with their sha256.
Each upload is a new record (a re-upload of a kind adds a version; the newest counts)."""
from __future__ import annotations

import hashlib
import uuid

from bson.binary import Binary

from servicekit.clock import Clock, rfc3339
from servicekit.errors import invalid

from services.booking import rules


class Documents:
    def __init__(self, db, clock: Clock):
        self.documents, self.clock = db["documents"], clock

    def ensure_indexes(self) -> None:
        self.documents.create_index("application_id")

    def upload(self, application_id: str, kind: str, content: bytes) -> dict:
        if kind not in rules.DOCUMENT_KINDS:
            raise invalid("kind must be one of " + ", ".join(rules.DOCUMENT_KINDS), "kind")
        content_type = rules.document_type(content)
        doc = {"_id": "doc_" + uuid.uuid4().hex, "application_id": application_id, "kind": kind,
               "content_type": content_type, "size": len(content),
               "sha256": hashlib.sha256(content).hexdigest(), "data": Binary(content),
               "uploaded_at": self.clock.now()}
        self.documents.insert_one(doc)
        return doc

    def list(self, application_id: str) -> list[dict]:
        return list(self.documents.find({"application_id": application_id}, {"data": 0}).sort("uploaded_at", 1))

    def kinds(self, application_id: str) -> set[str]:
        return {d["kind"] for d in self.documents.find({"application_id": application_id}, {"kind": 1})}


def view(doc: dict) -> dict:
    return {"document_id": doc["_id"], "kind": doc["kind"], "sha256": doc["sha256"],
            "content_type": doc["content_type"], "size": doc["size"], "uploaded_at": rfc3339(doc["uploaded_at"])}
