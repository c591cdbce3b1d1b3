"""Reconciliation of a bank statement with our records.

Reports lines that match, payments the bank has and we missed (settled now, through the same path
as a notification, once the bank's status API confirms each one), payments we have that the
statement lacks (within the statement's period), and lines that differ from our records. Statement
lines are dicts as domain/statement.py reads them; the report is a dict of buckets of
{"line", "outcome"}. A line the bank does not confirm is never settled on the file's word: it is
reported (bank-unknown-reference / bank-amount-mismatch / bank-not-paid / bank-unavailable) and
changes nothing, so uploading the file again later retries it."""
from __future__ import annotations

import hashlib
import uuid

from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.errors import DomainError

from services.payment import metrics
from services.payment.adapters.bank import BankClient
from services.payment.adapters.repositories import ReconciliationRepository
from services.payment.domain import bank_confirmation
from services.payment.domain.events import StatementReconciled
from services.payment.domain.reconciliation import DIFFERENCES, bucket_of_outcome, bucket_of_refusal, empty_report
from services.payment.domain.statement import COLUMNS
from services.payment.usecases.settlement import Settlements


def reconcile(settlements: Settlements, lines: list[dict], office_id: str = "", bank: BankClient | None = None) -> dict:
    """`bank`: asked for every line we have not recorded before it is settled (None: none is settled)."""
    report = empty_report()
    seen, moments = set(), []
    bank_down = bank is None  # once the bank fails to answer, the rest of the file waits for a retry
    for line in lines:
        item = {k: line.get(k) for k in COLUMNS}
        if line.get("error"):
            report["mismatched"].append({"line": item, "outcome": f"unreadable line: {line['error']}"})
            continue
        billing_office = settlements.office_of_billing(line["billing_code"])
        if office_id and billing_office is not None and billing_office != office_id:
            continue  # another office's payment: not this supervisor's to see
        seen.add(line["bank_reference"])
        try:
            moments.append(parse_rfc3339(line["paid_at"]))
        except ValueError:
            pass
        if office_id and billing_office is None:
            # Money paid against no billing of ours stays in the office's report: the supervisor
            # sent that line, and it must not vanish (nothing else of ours is looked up for it).
            report["mismatched"].append({"line": item, "outcome": "unknown-billing-code"})
            continue
        ours = settlements.recorded_payment(line["bank_reference"])
        if ours is None:
            refused = bank_confirmation.UNAVAILABLE
            if not bank_down:
                try:
                    confirmation = bank.confirm(line["bank_reference"])
                    refused = bank_confirmation.refusal(line, confirmation)
                except DomainError:
                    bank_down = True
            if refused is not None:
                report["mismatched"].append({"line": item, "outcome": refused})
                continue
            try:  # the bank's paid_at is the one that counts (the file's could be edited)
                outcome, _ = settlements.settle(line["billing_code"], line["amount"], confirmation.paid_at,
                                                line["bank_reference"], "RECONCILIATION")
                report["missing_ours"].append({"line": item, "outcome": outcome})
            except DomainError as err:
                report[bucket_of_refusal(err.problem)].append({"line": item, "outcome": err.problem})
            continue
        if ours.billing_code != line["billing_code"] or ours.amount != line["amount"]:
            hidden = office_id and ours.office_id != office_id  # never show another office's billing
            report["mismatched"].append({"line": item, "outcome": (
                "this bank_reference is recorded for another billing" if hidden else
                f"we recorded {ours.amount} IDR for billing {ours.billing_code}")})
            continue
        outcome = settlements.payment_outcome(ours)
        # money we could not apply (refunded in full) is listed for the supervisor to follow up
        report[bucket_of_outcome(outcome)].append({"line": item, "outcome": outcome})
    if moments:
        for ours in settlements.payments_between(min(moments), max(moments), office_id):
            if ours.bank_reference not in seen:
                report["missing_bank"].append({"line": {
                    "bank_reference": ours.bank_reference, "billing_code": ours.billing_code,
                    "amount": ours.amount, "paid_at": rfc3339(ours.paid_at)},
                    "outcome": settlements.payment_outcome(ours)})
    for kind in DIFFERENCES:
        if report[kind]:
            metrics.RECONCILIATION_MISMATCHES.labels(kind).inc(len(report[kind]))
    return report


def record_run(runs: ReconciliationRepository, clock: Clock, report: dict, statement: str, office_id: str,
               actor_account_id: str, actor_role: str) -> StatementReconciled:
    """Who reconciled which statement (its SHA-256) and what it did, with the event booking audits."""
    run = StatementReconciled(
        reconciliation_id=uuid.uuid4().hex, office_id=office_id, actor_account_id=actor_account_id,
        actor_role=actor_role, statement_sha256=hashlib.sha256(statement.encode("utf-8")).hexdigest(),
        lines=sum(len(report[k]) for k in ("matched", "missing_ours", "mismatched")),
        settled=sum(1 for i in report["missing_ours"] if i["outcome"] == "SETTLED"),
        refused=sum(1 for i in report["mismatched"] if i["outcome"] in bank_confirmation.REFUSALS),
        reconciled_at=clock.now())
    runs.add(run)
    return run
