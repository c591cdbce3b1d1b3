"""Operator commands of the complaint service.

    python -m services.complaint.cli rotate-keys   (anonymous reporters' contacts under the newest key)
"""
from __future__ import annotations

import argparse
import os

from servicekit import mongo
from servicekit.clock import Clock
from servicekit.crypto import key_ring

from services.complaint.adapters.repository import ComplaintRepository
from services.complaint.config import CONTACT_KEYS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate-keys", help=f"encrypt reporters' contacts under the first key of {CONTACT_KEYS} "
                   "(old keys and clear records alike); idempotent, run again after an interruption")
    parser.parse_args(argv)
    os.environ.setdefault("MONGO_SOCKET_TIMEOUT_MS", "600000")  # it reads whole collections
    report = ComplaintRepository(mongo.database("complaint"), Clock(), key_ring(CONTACT_KEYS)).rotate_keys()
    print(report.line())
    return 2 if report.raced else 0  # a record changed meanwhile still needs its old key


if __name__ == "__main__":
    raise SystemExit(main())
