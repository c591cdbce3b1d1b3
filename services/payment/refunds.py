"""Refunds: money the state owes back to an applicant, and its payout.

Policy (`refund_due`, pure):
- OVERPAYMENT: a second, different payment for a billing already paid (recorded by settlements,
  `_id` = its bank_reference) is always refunded in full.
- OFFICE_CANCELLED: the office cancelled the appointment (booking's AppointmentCancelled, reason
  OFFICE) of a billing that was SETTLED: the fee is refunded in full (`_id` = `refund:<billing_code>`).
- An APPLICANT cancellation of a paid application is NOT refunded: PNBP fees are non-refundable once
  paid when the applicant chose to withdraw. BILLING_EXPIRED cancellations paid nothing (money that
  arrives after the expiry is a late payment, handled by reconciliation / booking).

Every fact is an insert under a unique key (FerretDB: no transactions, no atomic updates):
- `cancellations`   _id = appointment_id: the cancellation as received from booking.
- `refunds`         _id = refund id: the refund, status PENDING at insert, never updated.
- `refund_payouts`  _id = `<refund id>:paid_out`: the refund was paid out (who, when, bank reference):
                    the audit record and the PENDING -> PAID_OUT transition in one insert.

A cancellation and a settlement can arrive in either order: each side inserts its own record and
then looks for the other's, so whichever comes second records the refund (keyed, so both may try).

CLI: `python -m services.payment.refunds list --office TBK [--status PENDING]`
     `python -m services.payment.refunds mark-paid <billing_code> --bank-reference X [--refund-id ID]`
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys

from passport.v1 import booking_pb2, common_pb2, payment_pb2  # booking_pb2: decodes AppointmentCancelled
from servicekit import events, log, outbox
from servicekit.clock import Clock, rfc3339
from servicekit.consumer import PermanentError
from servicekit.errors import DomainError, invalid
from servicekit.mongo import insert_unique

from services.payment import billing_codes, metrics
from services.payment.billings import TOPIC

logger = logging.getLogger("payment.refunds")

# BOOKING_NOT_COMPLETED: a booking attempt abandoned before its appointment was recorded.
CANCEL_REASONS = ("BILLING_EXPIRED", "APPLICANT", "OFFICE", "BOOKING_NOT_COMPLETED")
OVERPAYMENT, OFFICE_CANCELLED, LATE_PAYMENT = "OVERPAYMENT", "OFFICE_CANCELLED", "LATE_PAYMENT"
PENDING, PAID_OUT = "PENDING", "PAID_OUT"
STATUSES = (PENDING, PAID_OUT)


def refund_due(cancel_reason: str, outcome_kind: str | None) -> str | None:
    """The refund reason owed for a cancelled appointment whose billing ended as `outcome_kind`
    (SETTLED | EXPIRED | None = undecided), or None. Raises ValueError for an unknown reason."""
    if cancel_reason not in CANCEL_REASONS:
        raise ValueError(f"unknown cancellation reason {cancel_reason!r}")
    if outcome_kind != "SETTLED":
        return None  # nothing was paid
    if cancel_reason == "OFFICE":
        return OFFICE_CANCELLED
    if cancel_reason == "BOOKING_NOT_COMPLETED":
        return "BOOKING_NOT_COMPLETED"  # paid before the void: it belongs to no appointment
    return None  # APPLICANT: PNBP is non-refundable once paid; BILLING_EXPIRED: not a paid billing


def refund_id_for(billing_code: str) -> str:
    return f"refund:{billing_code}"


def payout_id_for(refund_id: str) -> str:
    return f"{refund_id}:paid_out"


class Refunds:
    def __init__(self, db, clock: Clock):
        self.db, self.clock = db, clock
        self.billings = db["billings"]
        self.outcomes = db["outcomes"]
        self.cancellations = db["cancellations"]
        self.refunds = db["refunds"]
        self.payouts = db["refund_payouts"]

    def ensure_indexes(self) -> None:
        for coll in (self.refunds, self.payouts):
            coll.create_index("billing_code")
            coll.create_index("application_id")
            coll.create_index("office_id")
        self.cancellations.create_index("billing_code")
        outbox.ensure_indexes(self.db)

    # -- recording -----------------------------------------------------------------------------
    def on_cancelled(self, cancelled, event_id: str = "") -> dict | None:
        """Booking's AppointmentCancelled. Returns the refund that stands for it, or None."""
        if cancelled.reason not in CANCEL_REASONS:
            raise PermanentError(f"AppointmentCancelled with unknown reason {cancelled.reason!r}")
        if not cancelled.appointment_id:
            raise PermanentError("AppointmentCancelled without appointment_id")
        billing = self.billings.find_one({"appointment_id": cancelled.appointment_id}, {"_outbox": 0})
        if billing is None:
            log.event(logger, "cancelled appointment has no billing; nothing to refund",
                      application_id=cancelled.application_id, reason=cancelled.reason)
            return None
        insert_unique(self.cancellations, {
            "_id": cancelled.appointment_id, "billing_code": billing["_id"], "reason": cancelled.reason,
            "application_id": billing["application_id"], "event_id": event_id, "at": self.clock.now()})
        cancellation = self.cancellations.find_one({"_id": cancelled.appointment_id})  # the first one stands
        return self._refund_if_due(billing, cancellation)

    def on_late_refund(self, resolved) -> list[dict]:
        """Booking could not re-seat a late payer (LatePaymentResolved REFUND): each late payment
        of that billing is refunded in full, keyed by its bank reference."""
        billing = self.billings.find_one({"_id": resolved.billing_code}, {"_outbox": 0})
        if billing is None:
            raise PermanentError(f"LatePaymentResolved for unknown billing {resolved.billing_code}")
        recorded = []
        for late in self.db["late_payments"].find({"billing_code": billing["_id"]}, {"_outbox": 0}):
            rid = f"refund:late:{late['_id']}"
            event = payment_pb2.RefundRecorded(
                refund_id=rid, billing_code=billing["_id"], application_id=billing["application_id"],
                account_id=billing["account_id"], office_id=billing["office_id"],
                appointment_id=billing["appointment_id"], reason=LATE_PAYMENT,
                amount=common_pb2.Money(amount=late["amount"], currency="IDR"))
            record = {"_id": rid, "billing_code": billing["_id"], "application_id": billing["application_id"],
                      "account_id": billing["account_id"], "office_id": billing["office_id"],
                      "appointment_id": billing["appointment_id"], "amount": late["amount"],
                      "reason": LATE_PAYMENT, "status": PENDING, "cancellation": "", "at": self.clock.now()}
            if outbox.insert(self.refunds,
                    record, [events.new_event("payment", billing["application_id"], event, self.clock)], TOPIC, self.clock):
                metrics.REFUNDS.labels(LATE_PAYMENT, PENDING).inc()
            recorded.append(rid)
        return recorded

    def on_settled(self, billing: dict) -> dict | None:
        """Called after a billing is settled: a cancellation that came first may now owe a refund."""
        cancellation = self.cancellations.find_one({"_id": billing["appointment_id"]})
        return self._refund_if_due(billing, cancellation) if cancellation else None

    def _refund_if_due(self, billing: dict, cancellation: dict) -> dict | None:
        outcome = self.outcomes.find_one({"_id": billing["_id"]}, {"_outbox": 0})
        reason = refund_due(cancellation["reason"], outcome["kind"] if outcome else None)
        if reason is None:
            if outcome is not None and outcome["kind"] == "SETTLED":
                log.event(logger, "paid application cancelled without refund (PNBP is non-refundable)",
                          application_id=billing["application_id"], reason=cancellation["reason"])
            return None
        rid = refund_id_for(billing["_id"])
        amount = outcome["amount"]
        event = payment_pb2.RefundRecorded(
            refund_id=rid, billing_code=billing["_id"], application_id=billing["application_id"],
            account_id=billing["account_id"], office_id=billing["office_id"],
            appointment_id=billing["appointment_id"], reason=reason,
            amount=common_pb2.Money(amount=amount, currency="IDR"))
        envelope = events.new_event("payment", billing["application_id"], event, self.clock)
        record = {"_id": rid, "billing_code": billing["_id"], "application_id": billing["application_id"],
                  "account_id": billing["account_id"], "office_id": billing["office_id"],
                  "appointment_id": billing["appointment_id"], "amount": amount, "reason": reason,
                  "status": PENDING, "cancellation": cancellation["reason"], "at": self.clock.now()}
        if outbox.insert(self.refunds, record, [envelope], TOPIC, self.clock):
            metrics.REFUNDS.labels(reason, PENDING).inc()
            log.event(logger, "refund recorded", application_id=billing["application_id"], reason=reason)
        return self.refunds.find_one({"_id": rid}, {"_outbox": 0})

    # -- reading -------------------------------------------------------------------------------
    def _views(self, records: list[dict]) -> list[dict]:
        ids = [r["_id"] for r in records]
        paid = {p["refund_id"]: p for p in self.payouts.find(
            {"refund_id": {"$in": [i for i in ids]}}, {"_outbox": 0})} if ids else {}
        return [view(r, paid.get(r["_id"])) for r in records]

    def for_application(self, application_id: str) -> list[dict]:
        records = sorted(self.refunds.find({"application_id": application_id}, {"_outbox": 0}),
                         key=lambda r: r["at"])
        return self._views(records)

    def for_billing(self, billing_code: str) -> list[dict]:
        records = sorted(self.refunds.find({"billing_code": billing_code}, {"_outbox": 0}), key=lambda r: r["at"])
        return self._views(records)

    def list(self, office_id: str, status: str = "", limit: int = 100) -> list[dict]:
        if status and status not in STATUSES:
            raise invalid(f"status must be one of {', '.join(STATUSES)}", "status")
        if not office_id:
            raise invalid("office_id is required", "office_id")
        limit = min(max(limit or 100, 1), 500)
        records = sorted(self.refunds.find({"office_id": office_id}, {"_outbox": 0}),
                         key=lambda r: r["at"], reverse=True)
        views = [v for v in self._views(records) if not status or v["status"] == status]
        return views[:limit]

    # -- paying out ----------------------------------------------------------------------------
    def mark_paid(self, billing_code: str, bank_reference: str, refund_id: str = "", office_id: str = "",
                  actor: str = "") -> dict:
        """Record that a refund was paid out. Idempotent: the same refund and bank_reference again
        answers the payout that stands; another bank_reference for a paid-out refund is a conflict."""
        from services.payment.settlements import valid_reference
        errors = []
        if not billing_codes.is_valid(billing_code or ""):
            errors.append({"field": "billing_code", "message": "billing_code must be a valid 15-digit billing code"})
        if not valid_reference(bank_reference or ""):
            errors.append({"field": "bank_reference",
                           "message": "bank_reference must be 1-64 characters of letters, digits and ._:/-"})
        if errors:
            raise DomainError("invalid", "validation-error", "the payout is malformed", errors)
        candidates = [r for r in self.refunds.find({"billing_code": billing_code}, {"_outbox": 0})
                      if not office_id or r["office_id"] == office_id]
        if refund_id:
            candidates = [r for r in candidates if r["_id"] == refund_id]
        if not candidates:
            raise DomainError("not_found", "refund-not-found", f"billing {billing_code} has no such refund")
        views = self._views(candidates)
        if len(candidates) > 1:
            same = [v for v in views if v.get("payout_reference") == bank_reference]
            pending = [v for v in views if v["status"] == PENDING]
            if len(same) == 1:
                return same[0]  # a repeat of a payout already recorded
            if len(pending) != 1:
                raise DomainError("invalid", "refund-id-required",
                                  f"billing {billing_code} has several refunds; name one with refund_id",
                                  [{"field": "refund_id", "message": "one of " + ", ".join(v["refund_id"] for v in views)}])
            candidates = [r for r in candidates if r["_id"] == pending[0]["refund_id"]]
        refund = candidates[0]
        now = self.clock.now()
        event = payment_pb2.RefundPaidOut(
            refund_id=refund["_id"], billing_code=billing_code, application_id=refund["application_id"],
            office_id=refund["office_id"], reason=refund["reason"],
            amount=common_pb2.Money(amount=refund["amount"], currency="IDR"), paid_out_at=rfc3339(now),
            actor_account_id=actor or "", bank_reference=bank_reference)
        envelope = events.new_event("payment", refund["application_id"], event, self.clock)
        payout = {"_id": payout_id_for(refund["_id"]), "refund_id": refund["_id"], "billing_code": billing_code,
                  "application_id": refund["application_id"], "office_id": refund["office_id"],
                  "reason": refund["reason"], "amount": refund["amount"], "status": PAID_OUT,
                  "bank_reference": bank_reference, "actor": actor or "unknown", "paid_out_at": now}
        if outbox.insert(self.payouts, payout, [envelope], TOPIC, self.clock):
            metrics.REFUNDS.labels(refund["reason"], PAID_OUT).inc()
            log.event(logger, "refund paid out", application_id=refund["application_id"], reason=refund["reason"])
            return view(refund, payout)
        existing = self.payouts.find_one({"_id": payout_id_for(refund["_id"])}, {"_outbox": 0})
        if existing["bank_reference"] != bank_reference:
            raise DomainError("conflict", "refund-already-paid-out",
                              f"this refund was already paid out with bank reference {existing['bank_reference']}")
        return view(refund, existing)


def view(refund: dict, payout: dict | None) -> dict:
    out = {"refund_id": refund["_id"], "billing_code": refund["billing_code"],
           "application_id": refund["application_id"], "office_id": refund["office_id"],
           "reason": refund["reason"], "amount": refund["amount"], "status": PENDING,
           "recorded_at": refund["at"], "paid_out_at": None, "payout_reference": ""}
    if payout is not None:
        out.update(status=PAID_OUT, paid_out_at=payout["paid_out_at"], payout_reference=payout["bank_reference"])
    return out


def to_proto(v: dict) -> payment_pb2.Refund:
    return payment_pb2.Refund(
        refund_id=v["refund_id"], billing_code=v["billing_code"], application_id=v["application_id"],
        office_id=v["office_id"], reason=v["reason"], amount=common_pb2.Money(amount=v["amount"], currency="IDR"),
        status=v["status"], recorded_at=rfc3339(v["recorded_at"]),
        paid_out_at=rfc3339(v["paid_out_at"]) if v["paid_out_at"] else "", payout_reference=v["payout_reference"])


def handlers(refunds: Refunds, settlements) -> dict:
    """booking.events handlers of the payment consumer (group "payment")."""
    assert booking_pb2.AppointmentCancelled  # the import registers the type with the event decoder

    def cancelled(envelope, payload) -> None:
        billing = refunds.billings.find_one({"appointment_id": payload.appointment_id}, {"_outbox": 0})
        if billing is not None and refunds.outcomes.find_one({"_id": billing["_id"]}, {"_id": 1}) is None:
            settlements.void(billing)  # unpaid: money that still comes is a late payment
        refunds.on_cancelled(payload, envelope.event_id)

    def late_resolved(envelope, payload) -> None:
        if payload.outcome == "REFUND":
            refunds.on_late_refund(payload)

    def abandoned(envelope, payload) -> None:
        outcome = settlements.void_abandoned(payload)
        if outcome is not None and outcome["kind"] == "SETTLED":  # paid in the seconds before the void
            refunds.on_cancelled(booking_pb2.AppointmentCancelled(
                application_id=payload.application_id, account_id=payload.account_id,
                office_id=payload.office_id, appointment_id=payload.appointment_id,
                reason="BOOKING_NOT_COMPLETED"), envelope.event_id)

    return {"AppointmentCancelled": cancelled, "LatePaymentResolved": late_resolved,
            "BookingAbandoned": abandoned}


def _json(v: dict) -> dict:
    return {**v, "recorded_at": rfc3339(v["recorded_at"]),
            "paid_out_at": rfc3339(v["paid_out_at"]) if v["paid_out_at"] else None}


def main(argv=None) -> int:
    from servicekit import mongo
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    refunds = Refunds(mongo.database("payment"), Clock())
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


if __name__ == "__main__":
    sys.exit(main())
