"""Operator commands of the biometrics-capture service.

    python -m services.biometrics_capture.cli rotate-keys   (every image under the newest key)
"""
from __future__ import annotations

import argparse
import os

from servicekit import mongo
from servicekit.clock import Clock
from servicekit.crypto import key_ring

from services.biometrics_capture.adapters.repository import CaptureRepository


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate-keys", help="re-encrypt every image under the first key of BIOMETRICS_ENCRYPTION_KEYS; "
                   "idempotent, run again after an interruption")
    parser.parse_args(argv)
    os.environ.setdefault("MONGO_SOCKET_TIMEOUT_MS", "600000")  # it reads whole collections
    report = CaptureRepository(mongo.database("biometrics-capture"), Clock()).rotate_keys(
        key_ring("BIOMETRICS_ENCRYPTION_KEYS"))
    print(report.line())
    return 2 if report.raced else 0  # a record changed meanwhile still needs its old key


if __name__ == "__main__":
    raise SystemExit(main())
