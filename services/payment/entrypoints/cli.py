"""Command lines of the payment service (run as `python -m services.payment.reconcile` and
`python -m services.payment.refunds`, the paths the docs and operators use)."""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys

from servicekit.clock import Clock, rfc3339
from servicekit.errors import DomainError

from services.payment.adapters.repositories import Repositories
from services.payment.domain.refund import STATUSES, RefundView
from services.payment.domain.reconciliation import BUCKETS
from services.payment.domain.statement import parse_csv
from services.payment.usecases.reconciliation import reconcile, record_run
from services.payment.usecases.refunds import Refunds
from services.payment.usecases.settlement import Settlements

RECONCILE_HELP = """Reconciliation of a bank statement with our records.

    python -m services.payment.reconcile statement.csv [--office TBK] [--json]

CSV columns: bank_reference,billing_code,amount,paid_at. Reports lines that match, payments the
bank has and we missed (settled now, through the same path as a notification, each only once the
bank's status API at BANK_API_URL confirms it with a signed answer), payments we have that the
statement lacks (within the statement's period), and lines that differ from our records. Who ran it
and the file's SHA-256 go into the audit log.
"""

REFUNDS_HELP = """Refunds: money the state owes back to an applicant, and its payout.

    python -m services.payment.refunds list --office TBK [--status PENDING]
    python -m services.payment.refunds mark-paid <billing_code> --bank-reference X [--refund-id ID]
"""


def _repositories() -> tuple[Repositories, Clock]:
    from servicekit import mongo  # the store only when a command runs (and `--help` needs none)
    clock = Clock()
    return Repositories.over(mongo.database("payment"), clock), clock


def reconcile_main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=RECONCILE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("statement", help="CSV file: bank_reference,billing_code,amount,paid_at")
    parser.add_argument("--office", default="", help="only billings of this office")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    with open(args.statement, newline="", encoding="utf-8") as f:
        text = f.read()
    try:
        lines = parse_csv(text)
    except DomainError as err:
        print(f"error: {err.detail}", file=sys.stderr)
        return 2
    from services.payment.adapters.bank import BankClient
    from services.payment.config import Settings
    settings = Settings.from_env()
    repos, clock = _repositories()
    bank = BankClient(settings.bank_api_url, settings.bank_api_timeout_s, settings.bank_secret)
    report = reconcile(Settlements(repos, clock), lines, args.office, bank)
    record_run(repos.reconciliations, clock, report, text, args.office, f"cli:{getpass.getuser()}", "OPERATOR")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for kind in BUCKETS:
            print(f"{kind}: {len(report[kind])}")
            for item in report[kind]:
                ln = item["line"]
                print(f"  {ln['bank_reference']}  {ln['billing_code']}  {ln['amount']}  {ln['paid_at']}  -> {item['outcome']}")
    return 1 if any(report[k] for k in ("missing_bank", "mismatched")) else 0


def _json(v: RefundView) -> dict:
    return {**dataclasses.asdict(v), "recorded_at": rfc3339(v.recorded_at),
            "paid_out_at": rfc3339(v.paid_out_at) if v.paid_out_at else None}


def refunds_main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=REFUNDS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="refunds of an office")
    ls.add_argument("--office", required=True)
    ls.add_argument("--status", default="", choices=["", *STATUSES])
    mp = sub.add_parser("mark-paid", help="record that a refund was paid out")
    mp.add_argument("billing_code")
    mp.add_argument("--bank-reference", required=True, help="the bank's reference of the transfer back")
    mp.add_argument("--refund-id", default="", help="needed when the billing has several pending refunds")
    mp.add_argument("--office", default="", help="the refund must belong to this office")
    args = parser.parse_args(argv)
    repos, clock = _repositories()
    refunds = Refunds(repos, clock)
    try:
        if args.command == "list":
            print(json.dumps([_json(v) for v in refunds.list(args.office, args.status, 500)], indent=2))
        else:
            paid = refunds.mark_paid(args.billing_code, args.bank_reference, args.refund_id, args.office,
                                     actor=f"cli:{getpass.getuser()}")
            print(json.dumps(_json(paid), indent=2))
    except DomainError as err:
        print(f"error: {err.problem}: {err.detail}", file=sys.stderr)
        for e in err.errors or []:
            print(f"  {e.get('field')}: {e.get('message')}", file=sys.stderr)
        return 2 if err.kind == "invalid" else 1
    return 0
