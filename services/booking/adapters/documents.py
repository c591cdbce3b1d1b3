"""Documents of an application: stored in the booking database, encrypted (AES-GCM, the record id
as associated data, servicekit/crypto.py: `key_id`, `nonce`, `ciphertext`) with the sha256 of the
plaintext. Each upload is a new record `<application>:<kind>:<n>` (a re-upload adds a version);
reading is by `_id` point lookups, the only queries FerretDB pushes down to SQLite. Records from
before encryption (`data` in clear) are still read until `cli rotate-keys` has sealed them."""
from __future__ import annotations

import hashlib
import uuid

from servicekit.clock import Clock, rfc3339
from servicekit.config import ConfigError
from servicekit.crypto import KeyRing, RotationReport, rotate
from servicekit.errors import invalid
from servicekit.mongo import append_numbered, find_by_ids, read_numbered

from services.booking.domain import rules


SECRET_FIELDS = {"data": 0, "nonce": 0, "ciphertext": 0}  # left out of every listing


class Documents:
    def __init__(self, db, clock: Clock, keys: KeyRing | None = None):
        self.documents, self.clock, self.keys = db["documents"], clock, keys

    def ensure_indexes(self) -> None:
        self.documents.create_index("application_id")

    def upload(self, application_id: str, kind: str, content: bytes) -> dict:
        if kind not in rules.DOCUMENT_KINDS:
            raise invalid("kind must be one of " + ", ".join(rules.DOCUMENT_KINDS), "kind")
        if self.keys is None:  # never stored in clear for want of a key
            raise ConfigError("documents need an encryption key ring (BOOKING_ENCRYPTION_KEYS)")
        content_type = rules.document_type(content)
        digest = hashlib.sha256(content).hexdigest()
        key = _version_key(application_id, kind)
        return append_numbered(self.documents, key, lambda n: {
            "document_id": "doc_" + uuid.uuid4().hex, "application_id": application_id, "kind": kind,
            "content_type": content_type, "size": len(content), "sha256": digest,
            **self.keys.seal(content, key(n)), "uploaded_at": self.clock.now()})

    def _versions(self, application_id: str, kind: str) -> list[dict]:
        return read_numbered(self.documents, _version_key(application_id, kind), projection=SECRET_FIELDS)

    def list(self, application_id: str) -> list[dict]:
        docs = [d for kind in rules.DOCUMENT_KINDS for d in self._versions(application_id, kind)]
        return sorted(docs, key=lambda d: d["uploaded_at"])

    def missing(self, application_id: str, required: list[tuple[str, ...]]) -> list[str]:
        """The groups of `required` ('one of these') with nothing uploaded: one read of every kind's
        first version, by a list of keys (one round trip on the booking path, not one per group)."""
        first = {_version_key(application_id, kind)(0): kind for group in required for kind in group}
        uploaded = {first[d["_id"]] for d in find_by_ids(self.documents, list(first), {"_id": 1})}
        return [" or ".join(group) for group in required if not uploaded.intersection(group)]

    def content(self, record_id: str) -> bytes:
        doc = self.documents.find_one({"_id": record_id}, {"data": 1, "key_id": 1, "nonce": 1, "ciphertext": 1})
        if "ciphertext" not in doc:
            return bytes(doc["data"])  # from before encryption, until rotate-keys seals it
        return self.keys.open(doc, record_id)

    def rotate_keys(self) -> RotationReport:
        """Seal every document under the current key, old-key and clear ones alike (crypto.rotate)."""
        return rotate(self.documents, self.keys, clear_fields=("data",), clear_plaintext=lambda d: bytes(d["data"]),
                      batch=20)  # documents are up to a few MB each


def _version_key(application_id: str, kind: str):
    return lambda n: f"{application_id}:{kind}:{n}"


def view(doc: dict) -> dict:
    return {"document_id": doc.get("document_id", doc["_id"]), "kind": doc["kind"], "sha256": doc["sha256"],
            "content_type": doc["content_type"], "size": doc["size"], "uploaded_at": rfc3339(doc["uploaded_at"])}
