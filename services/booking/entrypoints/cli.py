"""Operator commands of the booking service.

    python -m services.booking.cli create-staff --role OFFICER --office TBK --email ... --name ...
    python -m services.booking.cli ensure-staff '<json list>'   (idempotent; used by the demo seed)
    python -m services.booking.cli verify-audit   (walks the audit hash chain, reports the first broken link)
    python -m services.booking.cli rotate-keys    (documents, account fields and outreach organisers' phones
                                                   under the newest keys)
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from servicekit import mongo
from servicekit.clock import Clock
from servicekit.crypto import key_ring, lookup_keys
from servicekit.errors import DomainError

from services.booking.adapters.accounts import Accounts
from services.booking.adapters.documents import Documents


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-staff", help="create an OFFICER or SUPERVISOR account")
    create.add_argument("--role", required=True, choices=["OFFICER", "SUPERVISOR"])
    create.add_argument("--office", required=True)
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    ensure = sub.add_parser("ensure-staff", help="create staff accounts that do not exist yet")
    ensure.add_argument("accounts_json")
    sub.add_parser("verify-audit", help="verify the hash chain of the audit log; exit 1 at a broken link")
    sub.add_parser("rotate-keys", help="encrypt documents, account fields and outreach organisers' phones under the first key of "
                   "BOOKING_ENCRYPTION_KEYS (old keys and clear records alike) and re-key the lookup hashes "
                   "under the first key of BOOKING_LOOKUP_KEYS; idempotent, run again after an interruption")
    args = parser.parse_args(argv)
    if args.command == "verify-audit":
        from services.booking.adapters.audit import AuditLog
        report = AuditLog(mongo.database("booking"), Clock()).verify()
        print(json.dumps(report))
        return 0 if report["ok"] else 1
    if args.command == "rotate-keys":  # it reads whole collections: more than a request's socket timeout
        os.environ.setdefault("MONGO_SOCKET_TIMEOUT_MS", "600000")
    db, keys = mongo.database("booking"), key_ring("BOOKING_ENCRYPTION_KEYS")
    accounts = Accounts(db, Clock(), keys, lookup_keys("BOOKING_LOOKUP_KEYS"))
    if args.command == "rotate-keys":
        from services.booking.adapters.office_records import OutreachRepository
        reports = [Documents(db, Clock(), keys).rotate_keys(), *accounts.rotate_keys(),
                   OutreachRepository(db, keys).rotate_keys()]
        for report in reports:
            print(report.line())
        # something changed meanwhile: its record is still under an old key, so the old key stays
        return 2 if any(r.raced for r in reports) else 0
    accounts.ensure_indexes()
    if args.command == "create-staff":
        password = getpass.getpass("password for the new account: ")
        try:
            doc = accounts.create_staff(args.name, args.email, password, args.role, args.office)
        except DomainError as err:
            print(f"error: {err.detail}", file=sys.stderr)
            return 1
        print(f"created {doc['role']} {doc['_id']} for office {doc['office_id']}")
        return 0
    for staff in json.loads(args.accounts_json):
        try:
            accounts.create_staff(staff["full_name"], staff["email"], staff["password"], staff["role"],
                                  staff["office_id"])
        except DomainError as err:
            if err.problem != "email-taken":
                print(f"error: {err.detail}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
