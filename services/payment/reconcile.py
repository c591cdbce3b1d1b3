"""Reconciliation of a bank statement with our records.

    python -m services.payment.reconcile statement.csv [--office TBK] [--json]

CSV columns: bank_reference,billing_code,amount,paid_at. Reports lines that match, payments the
bank has and we missed (settled now, through the same path as a notification), payments we have
that the statement lacks (within the statement's period), and lines that differ from our records.
"""
from __future__ import annotations

import argparse
import json
import sys

from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.errors import DomainError

from services.payment import metrics
from services.payment.settlements import Settlements
from services.payment.statement import COLUMNS, parse_csv

def reconcile(settlements: Settlements, lines: list[dict], office_id: str = "") -> dict:
    report = {"matched": [], "missing_ours": [], "missing_bank": [], "mismatched": []}
    seen, moments = set(), []
    for line in lines:
        item = {k: line.get(k) for k in COLUMNS}
        if line.get("error"):
            report["mismatched"].append({"line": item, "outcome": f"unreadable line: {line['error']}"})
            continue
        billing = settlements.billings.find_one({"_id": line["billing_code"]}, {"office_id": 1})
        if office_id and billing is not None and billing["office_id"] != office_id:
            continue  # another office's payment: not this supervisor's to see
        seen.add(line["bank_reference"])
        try:
            moments.append(parse_rfc3339(line["paid_at"]))
        except ValueError:
            pass
        if office_id and billing is None:
            # Money paid against no billing of ours stays in the office's report: the supervisor
            # sent that line, and it must not vanish (nothing else of ours is looked up for it).
            report["mismatched"].append({"line": item, "outcome": "unknown-billing-code"})
            continue
        ours = settlements.payments.find_one({"_id": line["bank_reference"]})
        if ours is None:
            try:
                outcome, _ = settlements.settle(line["billing_code"], line["amount"], line["paid_at"],
                                                line["bank_reference"], "RECONCILIATION")
                report["missing_ours"].append({"line": item, "outcome": outcome})
            except DomainError as err:
                bucket = "mismatched" if err.problem in ("validation-error", "unknown-billing-code",
                                                         "bank-reference-reused", "billing-void") else "missing_ours"
                report[bucket].append({"line": item, "outcome": err.problem})
            continue
        if ours["billing_code"] != line["billing_code"] or ours["amount"] != line["amount"]:
            hidden = office_id and ours["office_id"] != office_id  # never show another office's billing
            report["mismatched"].append({"line": item, "outcome": (
                "this bank_reference is recorded for another billing" if hidden else
                f"we recorded {ours['amount']} IDR for billing {ours['billing_code']}")})
            continue
        outcome = settlements.payment_outcome(ours)
        # money we could not apply (refunded in full) is listed for the supervisor to follow up
        report["mismatched" if outcome in ("AMOUNT_MISMATCH", "VOID") else "matched"].append({"line": item, "outcome": outcome})
    if moments:
        query = {"paid_at": {"$gte": min(moments), "$lte": max(moments)}}
        if office_id:
            query["office_id"] = office_id
        for ours in settlements.payments.find(query).sort("paid_at", 1):
            if ours["_id"] not in seen:
                report["missing_bank"].append({"line": {
                    "bank_reference": ours["_id"], "billing_code": ours["billing_code"],
                    "amount": ours["amount"], "paid_at": rfc3339(ours["paid_at"])},
                    "outcome": settlements.payment_outcome(ours)})
    for kind in ("missing_ours", "missing_bank", "mismatched"):
        if report[kind]:
            metrics.RECONCILIATION_MISMATCHES.labels(kind).inc(len(report[kind]))
    return report


def main(argv=None) -> int:
    from servicekit import mongo
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    settlements = Settlements(mongo.database("payment"), Clock())
    report = reconcile(settlements, lines, args.office)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for kind in ("matched", "missing_ours", "missing_bank", "mismatched"):
            print(f"{kind}: {len(report[kind])}")
            for item in report[kind]:
                ln = item["line"]
                print(f"  {ln['bank_reference']}  {ln['billing_code']}  {ln['amount']}  {ln['paid_at']}  -> {item['outcome']}")
    return 1 if any(report[k] for k in ("missing_bank", "mismatched")) else 0


if __name__ == "__main__":
    sys.exit(main())
