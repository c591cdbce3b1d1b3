"""Settlement and expiry of billings, decided exactly once per billing.

Every fact is an insert under a unique key (FerretDB: no transactions, no atomic updates):

- `payments`      _id = bank_reference: a bank payment as received (dedupes notifications).
- `outcomes`      _id = billing_code, kind SETTLED | EXPIRED: THE decision about a billing. Settlement
                  and expiry race for this one key, so whichever insert wins is the outcome and the
                  other side can never also happen. Carries PaymentSettled or BillingExpired; a void
                  (EXPIRED with void_reason CANCELLED, or BOOKING_NOT_COMPLETED with BillingVoided)
                  is decided the same way.
- `refunds`       _id = bank_reference: a second payment for a paid billing (OverpaymentRecorded), or a
                  payment of the wrong amount (RefundRecorded AMOUNT_MISMATCH); both are refunded in full.
- `late_payments` _id = bank_reference: a payment for an expired billing (LatePaymentReceived).
- `mismatches`    _id = bank_reference: a payment whose amount differs from the billing.

Repeating any step (a redelivered notification, a crash between two inserts, two replicas) only
re-runs inserts that lose to the first; the decision is re-derived from the records.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from passport.v1 import common_pb2, payment_pb2
from servicekit import events, log, outbox
from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.errors import DomainError, invalid
from servicekit.mongo import insert_unique

from services.payment import billing_codes, metrics
from services.payment.billings import TOPIC
from services.payment.expiry_queue import due_in, window_of

logger = logging.getLogger("payment.settlements")

SETTLED, EXPIRED = "SETTLED", "EXPIRED"
CANCELLED, BOOKING_NOT_COMPLETED = "CANCELLED", "BOOKING_NOT_COMPLETED"  # why a billing was voided
SOURCES = ("NOTIFICATION", "RECHECK", "RECONCILIATION")
_REFERENCE = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")


def valid_reference(ref: str) -> bool:
    """A bank reference: 1-64 of letters, digits and ._:/- (never our own `refund:` key space)."""
    return bool(_REFERENCE.match(ref or "")) and not ref.startswith("refund:")


def validate(billing_code: str, amount: int, paid_at: str, bank_reference: str) -> dt.datetime:
    """Shape checks of a payment; returns paid_at parsed. Raises 422-kind errors."""
    errors = []
    if not billing_codes.is_valid(billing_code or ""):
        errors.append({"field": "billing_code", "message": "billing_code must be a valid 15-digit billing code"})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        errors.append({"field": "amount", "message": "amount must be a positive integer number of rupiah"})
    if not valid_reference(bank_reference or ""):
        errors.append({"field": "bank_reference",
                       "message": "bank_reference must be 1-64 characters of letters, digits and ._:/-"})
    moment = None
    try:
        moment = parse_rfc3339(paid_at or "")
    except ValueError:
        errors.append({"field": "paid_at", "message": "paid_at must be an RFC 3339 timestamp with offset"})
    if errors:
        raise DomainError("invalid", "validation-error", "the payment is malformed", errors)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # the store keeps milliseconds


def passport_type(billing: dict) -> str:
    """The metric label for a billing's passport type (ORDINARY | ELECTRONIC)."""
    return (billing.get("fee") or {}).get("passport_type") or "UNKNOWN"


class Settlements:
    def __init__(self, db, clock: Clock, expiry_grace: dt.timedelta = dt.timedelta(0), on_settled=None):
        # on_settled(billing): called whenever a payment is (again) found to settle its billing,
        # so a cancellation that arrived before the money can still owe its refund (refunds.py).
        self.db, self.clock, self.grace, self.on_settled = db, clock, expiry_grace, on_settled
        self.billings = db["billings"]
        self.payments = db["payments"]
        self.outcomes = db["outcomes"]
        self.refunds = db["refunds"]
        self.late = db["late_payments"]
        self.mismatches = db["mismatches"]
        self._next_window: int | None = None  # the first expiry window not swept yet

    def ensure_indexes(self) -> None:
        self.billings.create_index("expires_at")
        self.payments.create_index("paid_at")
        outbox.ensure_indexes(self.db)

    # -- reading -------------------------------------------------------------------------------
    def outcome_of(self, billing_code: str) -> dict | None:
        return self.outcomes.find_one({"_id": billing_code}, {"_outbox": 0})

    def status(self, billing: dict, fresh: bool = False) -> tuple[str, dt.datetime | None]:
        """UNPAID | PAID (with paid_at) | EXPIRED, derived from the records. `fresh`: the billing was
        issued by this very call, so it has no outcome to look up."""
        outcome = None if fresh else self.outcome_of(billing["_id"])
        if outcome is not None:
            return ("PAID", outcome["paid_at"]) if outcome["kind"] == SETTLED else ("EXPIRED", None)
        if self.clock.now() >= billing["expires_at"] + self.grace:
            return "EXPIRED", None  # due; the sweeper is about to record it
        return "UNPAID", None

    def payment_outcome(self, payment: dict) -> str:
        """What became of one recorded payment."""
        ref = payment["_id"]
        outcome = self.outcome_of(payment["billing_code"])
        if outcome is not None and outcome["kind"] == SETTLED and outcome["bank_reference"] == ref:
            return "SETTLED"
        for coll, name in ((self.mismatches, "AMOUNT_MISMATCH"), (self.refunds, "OVERPAYMENT"),
                           (self.late, "LATE")):  # a mismatch is also refunded: it names itself first
            if found := coll.find_one({"_id": ref}, {"_id": 1, "reason": 1}):
                return "VOID" if found.get("reason") == BOOKING_NOT_COMPLETED else name
        return "UNDECIDED"

    # -- settling ------------------------------------------------------------------------------
    def settle(self, billing_code: str, amount: int, paid_at: str, bank_reference: str,
               source: str = "NOTIFICATION") -> tuple[str, dict]:
        """Apply one bank payment. Returns (SETTLED | OVERPAYMENT, billing); raises DomainError
        amount-mismatch / billing-expired (after recording them), unknown-billing-code,
        bank-reference-reused."""
        paid = validate(billing_code, amount, paid_at, bank_reference)
        if source not in SOURCES:
            raise invalid(f"source must be one of {', '.join(SOURCES)}", "source")
        billing = self.billings.find_one({"_id": billing_code}, {"_outbox": 0})
        if billing is None:
            metrics.PAYMENTS.labels(source, "UNKNOWN_BILLING").inc()
            raise DomainError("invalid", "unknown-billing-code", f"no billing has the code {billing_code}",
                              [{"field": "billing_code", "message": "unknown billing code"}])
        payment = {"_id": bank_reference, "billing_code": billing_code, "amount": amount, "paid_at": paid,
                   "office_id": billing["office_id"], "received_at": self.clock.now(), "source": source}
        if not insert_unique(self.payments, payment):
            existing = self.payments.find_one({"_id": bank_reference})
            if (existing["billing_code"], existing["amount"], existing["paid_at"]) != (billing_code, amount, paid):
                raise DomainError("conflict", "bank-reference-reused",
                                  f"bank_reference {bank_reference} was already used for a different payment")
            payment = existing  # a repeat: re-derive (and complete, if interrupted) its decision
        return self._decide(billing, payment, source)

    def _decide(self, billing: dict, payment: dict, source: str) -> tuple[str, dict]:
        ref = payment["_id"]
        if payment["amount"] != billing["amount"]:
            insert_unique(self.mismatches, {
                "_id": ref, "billing_code": billing["_id"], "expected": billing["amount"],
                "received": payment["amount"], "paid_at": payment["paid_at"], "at": self.clock.now()})
            # Never applied (a billing is paid with its exact amount): the money received goes back in
            # full, and the billing stays payable until its deadline.
            if self._record(self.refunds, billing, payment, payment_pb2.RefundRecorded(
                    refund_id=ref, billing_code=billing["_id"], application_id=billing["application_id"],
                    account_id=billing["account_id"], office_id=billing["office_id"],
                    appointment_id=billing["appointment_id"], reason="AMOUNT_MISMATCH",
                    amount=common_pb2.Money(amount=payment["amount"], currency="IDR")),
                    {"reason": "AMOUNT_MISMATCH", "status": "PENDING", "account_id": billing["account_id"]}):
                metrics.REFUNDS.labels("AMOUNT_MISMATCH", "PENDING").inc()
            metrics.PAYMENTS.labels(source, "AMOUNT_MISMATCH").inc()
            raise DomainError("invalid", "amount-mismatch",
                              f"the billing is for {billing['amount']} IDR but {payment['amount']} IDR was paid; "
                              "the payment is recorded for reconciliation and refunded in full",
                              [{"field": "amount", "message": f"expected {billing['amount']}"}])
        outcome = self.outcome_of(billing["_id"])
        if outcome is not None and outcome.get("void_reason") == BOOKING_NOT_COMPLETED:
            self._refund_void(billing, payment, outcome, source)
        if outcome is None:
            if payment["paid_at"] > billing["expires_at"]:
                outcome = self.expire(billing)  # paid after the deadline: the billing expired first
            else:
                outcome = self._settle_once(billing, payment)
        if outcome["kind"] == SETTLED:
            if outcome["bank_reference"] == ref:
                metrics.PAYMENTS.labels(source, "SETTLED").inc()
                if self.on_settled is not None:
                    self.on_settled(billing)
                return "SETTLED", billing
            recorded = self._record(self.refunds, billing, payment, payment_pb2.OverpaymentRecorded(
                billing_code=billing["_id"], application_id=billing["application_id"],
                account_id=billing["account_id"], office_id=billing["office_id"],
                amount=common_pb2.Money(amount=payment["amount"], currency="IDR"),
                paid_at=rfc3339(payment["paid_at"]), bank_reference=ref),
                {"reason": "OVERPAYMENT", "status": "PENDING", "account_id": billing["account_id"]})
            if recorded:
                metrics.REFUNDS.labels("OVERPAYMENT", "PENDING").inc()
            metrics.PAYMENTS.labels(source, "OVERPAYMENT").inc()
            return "OVERPAYMENT", billing
        self._record(self.late, billing, payment, payment_pb2.LatePaymentReceived(
            billing_code=billing["_id"], application_id=billing["application_id"],
            account_id=billing["account_id"], office_id=billing["office_id"],
            appointment_id=billing["appointment_id"],
            amount=common_pb2.Money(amount=payment["amount"], currency="IDR"),
            paid_at=rfc3339(payment["paid_at"]), bank_reference=ref), {})
        metrics.PAYMENTS.labels(source, "LATE").inc()
        if outcome.get("void_reason") == CANCELLED:
            raise DomainError("invalid", "billing-cancelled",
                              f"billing {billing['_id']} was cancelled at {rfc3339(outcome['expired_at'])} (its "
                              "appointment was cancelled); the payment is recorded and refunded in full",
                              params={"billing_code": billing["_id"], "at": rfc3339(outcome["expired_at"])})
        raise DomainError("invalid", "billing-expired",
                          f"billing {billing['_id']} expired at {rfc3339(billing['expires_at'])} before this "
                          "payment was applied; it is recorded as a late payment for re-seating or refund",
                          params={"billing_code": billing["_id"], "at": rfc3339(billing["expires_at"])})

    def _refund_void(self, billing: dict, payment: dict, outcome: dict, source: str):
        """A payment of a billing voided because its booking never completed: it belongs to no
        appointment, so it is never applied; the money goes back in full (keyed by bank reference)."""
        if self._record(self.refunds, billing, payment, payment_pb2.RefundRecorded(
                refund_id=payment["_id"], billing_code=billing["_id"], application_id=billing["application_id"],
                account_id=billing["account_id"], office_id=billing["office_id"],
                appointment_id=billing["appointment_id"], reason=BOOKING_NOT_COMPLETED,
                amount=common_pb2.Money(amount=payment["amount"], currency="IDR")),
                {"reason": BOOKING_NOT_COMPLETED, "status": "PENDING", "account_id": billing["account_id"]}):
            metrics.REFUNDS.labels(BOOKING_NOT_COMPLETED, "PENDING").inc()
        metrics.PAYMENTS.labels(source, "VOID").inc()
        raise DomainError("invalid", "billing-void",
                          f"billing {billing['_id']} was voided at {rfc3339(outcome['expired_at'])}: its booking "
                          "did not complete, so it belongs to no appointment; the payment is recorded and "
                          "refunded in full", params={"billing_code": billing["_id"], "at": rfc3339(outcome["expired_at"])})

    def _settle_once(self, billing: dict, payment: dict) -> dict:
        event = payment_pb2.PaymentSettled(
            billing_code=billing["_id"], application_id=billing["application_id"],
            account_id=billing["account_id"], office_id=billing["office_id"],
            appointment_id=billing["appointment_id"],
            amount=common_pb2.Money(amount=payment["amount"], currency="IDR"),
            paid_at=rfc3339(payment["paid_at"]), bank_reference=payment["_id"])
        record = {"_id": billing["_id"], "kind": SETTLED, "application_id": billing["application_id"],
                  "office_id": billing["office_id"], "bank_reference": payment["_id"],
                  "amount": payment["amount"], "paid_at": payment["paid_at"], "decided_at": self.clock.now()}
        won, outcome = self._decide_once(billing, record, event)
        if won:
            metrics.BILLINGS_PAID.labels(billing["office_id"], passport_type(billing)).inc()
            metrics.SETTLEMENT_LATENCY.observe(max(0.0, (record["decided_at"] - payment["paid_at"]).total_seconds()))
            log.event(logger, "billing settled", application_id=billing["application_id"])
        return outcome

    # -- expiring ------------------------------------------------------------------------------
    def expire(self, billing: dict) -> dict:
        """Record that the billing expired unpaid, unless something was decided first; returns
        the outcome that stands."""
        now = self.clock.now()
        event = payment_pb2.BillingExpired(
            billing_code=billing["_id"], application_id=billing["application_id"],
            account_id=billing["account_id"], office_id=billing["office_id"],
            appointment_id=billing["appointment_id"], expired_at=rfc3339(billing["expires_at"]))
        record = {"_id": billing["_id"], "kind": EXPIRED, "application_id": billing["application_id"],
                  "office_id": billing["office_id"], "expired_at": billing["expires_at"], "decided_at": now}
        won, outcome = self._decide_once(billing, record, event)
        if won:
            metrics.BILLINGS_EXPIRED.labels(billing["office_id"], passport_type(billing)).inc()
            log.event(logger, "billing expired", application_id=billing["application_id"])
        return outcome

    def void(self, billing: dict) -> dict:
        """The appointment behind an unpaid billing was cancelled: it expires now, so a payment
        that still arrives is a late payment (booking then re-seats or it is refunded)."""
        now = self.clock.now()
        event = payment_pb2.BillingExpired(
            billing_code=billing["_id"], application_id=billing["application_id"],
            account_id=billing["account_id"], office_id=billing["office_id"],
            appointment_id=billing["appointment_id"], expired_at=rfc3339(now))
        record = {"_id": billing["_id"], "kind": EXPIRED, "application_id": billing["application_id"],
                  "office_id": billing["office_id"], "expired_at": now, "decided_at": now, "voided": True,
                  "void_reason": CANCELLED}
        return self._decide_once(billing, record, event)[1]

    def void_abandoned(self, abandoned) -> dict | None:
        """BookingAbandoned: a hold that was never recorded as an appointment must have no payable
        billing. Before any billing, a claim without a code keeps one from being issued (IssueBilling
        claims first); with one, the billing's one decision becomes a void (BillingVoided), unless it
        was paid first. Returns the outcome that stands, or None when nothing was billed."""
        claims, now = self.db["billing_claims"], self.clock.now()
        if insert_unique(claims, {"_id": abandoned.appointment_id, "code": None, "abandoned_at": now}):
            return None
        code = (claims.find_one({"_id": abandoned.appointment_id}) or {}).get("code")
        if not code:
            return None
        # The billing itself may not be written yet (its IssueBilling is running, or died): the outcome
        # is keyed by its code all the same, so whatever is written later is void.
        billing = self.billings.find_one({"_id": code}, {"_outbox": 0}) or {
            "_id": code, "application_id": abandoned.application_id, "account_id": abandoned.account_id,
            "office_id": abandoned.office_id, "appointment_id": abandoned.appointment_id}
        event = payment_pb2.BillingVoided(
            billing_code=code, application_id=billing["application_id"], account_id=billing["account_id"],
            office_id=billing["office_id"], appointment_id=billing["appointment_id"],
            reason=BOOKING_NOT_COMPLETED, voided_at=rfc3339(now))
        record = {"_id": code, "kind": EXPIRED, "application_id": billing["application_id"],
                  "office_id": billing["office_id"], "expired_at": now, "decided_at": now, "voided": True,
                  "void_reason": BOOKING_NOT_COMPLETED}
        won, outcome = self._decide_once(billing, record, event)
        if won:
            metrics.BILLINGS_VOIDED.labels(billing["office_id"]).inc()
            log.event(logger, "billing of an abandoned booking voided", application_id=billing["application_id"])
        return outcome

    def sweep(self, lookback: dt.timedelta | None = dt.timedelta(hours=48), chunk: int = 500) -> int:
        """Expire every unpaid billing past its deadline (plus grace) within `lookback` (None:
        all of them, e.g. at start-up after downtime). Safe to run in any number of replicas."""
        cutoff = self.clock.now() - self.grace
        window = {"$lte": cutoff}
        if lookback is not None:
            window["$gte"] = cutoff - lookback
        due = [d["_id"] for d in self.billings.find({"expires_at": window}, {"_id": 1})]
        expired = 0
        for i in range(0, len(due), chunk):
            ids = due[i:i + chunk]
            decided = {o["_id"] for o in self.outcomes.find({"_id": {"$in": ids}}, {"_id": 1})}
            expired += sum(self._expire_if_due(code) for code in ids if code not in decided)
        return expired

    def sweep_due(self) -> int:
        """Expire the billings of every expiry window that has wholly passed (deadline + grace), each
        window read once by `_id`. The first call starts at the current window: a full `sweep` at
        start-up covers what fell due before."""
        last = window_of(self.clock.now() - self.grace) - 1
        if self._next_window is None:
            self._next_window = last + 1
        expired = 0
        while self._next_window <= last:
            expired += sum(self._expire_if_due(code) for code in due_in(self.db, self._next_window)
                           if self.outcome_of(code) is None)
            self._next_window += 1
        return expired

    def _expire_if_due(self, code: str) -> bool:
        """Expire one undecided billing if it is past its deadline (+ grace). A stray expiry-queue
        entry (its billing never written, or a code drawn twice) expires nothing early."""
        billing = self.billings.find_one({"_id": code}, {"_outbox": 0})
        if billing is None or billing["expires_at"] + self.grace > self.clock.now():
            return False
        return self.expire(billing)["kind"] == EXPIRED

    # -- records -------------------------------------------------------------------------------
    def _decide_once(self, billing: dict, record: dict, event) -> tuple[bool, dict]:
        envelope = events.new_event("payment", billing["application_id"], event, self.clock)
        if outbox.insert(self.outcomes, record, [envelope], TOPIC, self.clock):
            return True, record
        return False, self.outcome_of(billing["_id"])

    def _record(self, coll, billing: dict, payment: dict, event, extra: dict) -> bool:
        envelope = events.new_event("payment", billing["application_id"], event, self.clock)
        record = {"_id": payment["_id"], "billing_code": billing["_id"],
                  "application_id": billing["application_id"], "office_id": billing["office_id"],
                  "amount": payment["amount"], "paid_at": payment["paid_at"], "at": self.clock.now(), **extra}
        return outbox.insert(coll, record, [envelope], TOPIC, self.clock)
