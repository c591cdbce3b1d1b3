"""Repositories of the payment service: the only module that calls the store.

Every fact is an insert under a unique key (FerretDB: no transactions, no atomic updates), and a
record that causes events carries them in its outbox (servicekit.outbox), so a fact and its events
are written in one insert. Collections:

- `billings`        _id = billing code; unique index on appointment_id (one billing per appointment).
- `billing_claims`  _id = appointment_id: the code its billing is issued with (None: abandoned first).
- `expiry_queue`    `<window>:<n>`: billing codes by the 10-second window in which they fall due.
- `payments`        _id = bank_reference: a bank payment as received (dedupes notifications).
- `outcomes`        _id = billing code: THE decision about a billing (SETTLED | EXPIRED); the first
                    insert wins, so settlement, expiry and voids can never both happen.
- `refunds`         _id = bank_reference (money not applied) or `refund:<code>` / `refund:late:<ref>`.
- `late_payments`   _id = bank_reference: a payment of an expired billing.
- `mismatches`      _id = bank_reference: a payment whose amount differs from the billing.
- `cancellations`   _id = appointment_id: booking's cancellation as first received.
- `refund_payouts`  _id = `<refund id>:paid_out`: the PENDING -> PAID_OUT transition and its audit.
- `reconciliations` _id = a new id per run: who reconciled which statement (SHA-256), with its
                    StatementReconciled event (booking audits it).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servicekit import outbox
from servicekit.clock import Clock
from servicekit.mongo import find_by_ids, insert_unique

from services.payment.adapters import records
from services.payment.adapters.events import TOPIC, envelopes_of
from services.payment.adapters.expiry_queue import ExpiryQueue
from services.payment.domain.billing import Billing, Claim, Outcome, Payment
from services.payment.domain.events import Event, StatementReconciled
from services.payment.domain.payments import AmountMismatch, LatePayment
from services.payment.domain.refund import Cancellation, Payout, Refund, payout_id_for

NO_OUTBOX = {"_outbox": 0}


class _Repository:
    def __init__(self, db, clock: Clock):
        self.db, self.clock = db, clock

    def _insert(self, collection, doc: dict, facts: list[Event]) -> bool:
        """Insert a record with the events it causes; False when its key exists (the race was lost)."""
        return outbox.insert(collection, doc, envelopes_of(facts, self.clock), TOPIC, self.clock)


class BillingRepository(_Repository):
    def __init__(self, db, clock: Clock):
        super().__init__(db, clock)
        self.billings = db["billings"]
        self.claims = db["billing_claims"]
        self.expiry_queue = ExpiryQueue(db)

    def ensure_indexes(self) -> None:
        self.billings.create_index("appointment_id", unique=True)
        self.billings.create_index("application_id")
        self.billings.create_index("expires_at")
        outbox.ensure_indexes(self.db)

    # -- claims ----------------------------------------------------------------------------------
    def claim(self, appointment_id: str, code: str) -> bool:
        """Claim the appointment under `code`; False when it is claimed already. An insert by `_id`
        (FerretDB pushes down nothing else), so a new billing costs no lookup."""
        return insert_unique(self.claims, {"_id": appointment_id, "code": code})

    def claim_abandoned(self, appointment_id: str, at: dt.datetime) -> bool:
        """Claim the appointment for no billing at all; False when it is claimed already."""
        return insert_unique(self.claims, {"_id": appointment_id, "code": None, "abandoned_at": at})

    def claim_of(self, appointment_id: str) -> Claim | None:
        doc = self.claims.find_one({"_id": appointment_id})
        return records.claim_from_doc(doc) if doc else None

    def release_claim(self, appointment_id: str, code: str) -> None:
        self.claims.delete_one({"_id": appointment_id, "code": code})

    # -- billings --------------------------------------------------------------------------------
    def add(self, billing: Billing, facts: list[Event]) -> bool:
        return self._insert(self.billings, records.billing_to_doc(billing), facts)

    def get(self, code: str) -> Billing | None:
        doc = self.billings.find_one({"_id": code}, NO_OUTBOX)
        return records.billing_from_doc(doc) if doc else None

    def office_of(self, code: str) -> str | None:
        """The office of a billing, or None when no billing has the code (a narrow read)."""
        doc = self.billings.find_one({"_id": code}, {"office_id": 1})
        return doc["office_id"] if doc else None

    def for_appointment(self, appointment_id: str) -> Billing | None:
        doc = self.billings.find_one({"appointment_id": appointment_id}, NO_OUTBOX)  # a scan, but rare
        return records.billing_from_doc(doc) if doc else None

    def latest_for(self, application_id: str) -> Billing | None:
        doc = next(iter(self.billings.find({"application_id": application_id}, NO_OUTBOX)
                        .sort("issued_at", -1).limit(1)), None)
        return records.billing_from_doc(doc) if doc else None

    def codes_due(self, until: dt.datetime, since: dt.datetime | None) -> list[str]:
        """Codes of the billings whose deadline is in [since, until] (since None: all before)."""
        window = {"$lte": until}
        if since is not None:
            window["$gte"] = since
        return [d["_id"] for d in self.billings.find({"expires_at": window}, {"_id": 1})]

    def queue_expiry(self, code: str, expires_at: dt.datetime) -> None:
        self.expiry_queue.add(code, expires_at)

    def queued_in(self, window: int) -> list[str]:
        return self.expiry_queue.due_in(window)


class SettlementRepository(_Repository):
    """Payments as received, each billing's one outcome, and money that could not be applied."""

    def __init__(self, db, clock: Clock):
        super().__init__(db, clock)
        self.payments = db["payments"]
        self.outcomes = db["outcomes"]
        self.late = db["late_payments"]
        self.mismatches = db["mismatches"]

    def ensure_indexes(self) -> None:
        self.payments.create_index("paid_at")
        outbox.ensure_indexes(self.db)

    # -- outcomes --------------------------------------------------------------------------------
    def decide(self, outcome: Outcome, facts: list[Event]) -> bool:
        """Record the billing's one decision; False when another decision came first."""
        return self._insert(self.outcomes, records.outcome_to_doc(outcome), facts)

    def outcome_of(self, code: str) -> Outcome | None:
        doc = self.outcomes.find_one({"_id": code}, NO_OUTBOX)
        return records.outcome_from_doc(doc) if doc else None

    def decided_among(self, codes: list[str]) -> set[str]:
        return {o["_id"] for o in find_by_ids(self.outcomes, codes, {"_id": 1})}

    # -- payments --------------------------------------------------------------------------------
    def add_payment(self, payment: Payment) -> bool:
        return insert_unique(self.payments, records.payment_to_doc(payment))

    def payment(self, bank_reference: str) -> Payment | None:
        doc = self.payments.find_one({"_id": bank_reference})
        return records.payment_from_doc(doc) if doc else None

    def payments_between(self, first: dt.datetime, last: dt.datetime, office_id: str = "") -> list[Payment]:
        query = {"paid_at": {"$gte": first, "$lte": last}}
        if office_id:
            query["office_id"] = office_id
        return [records.payment_from_doc(d) for d in self.payments.find(query).sort("paid_at", 1)]

    # -- money not applied -----------------------------------------------------------------------
    def add_mismatch(self, mismatch: AmountMismatch) -> bool:
        return insert_unique(self.mismatches, records.mismatch_to_doc(mismatch))

    def is_mismatch(self, bank_reference: str) -> bool:
        return self.mismatches.find_one({"_id": bank_reference}, {"_id": 1}) is not None

    def add_late(self, late: LatePayment, facts: list[Event]) -> bool:
        return self._insert(self.late, records.late_payment_to_doc(late), facts)

    def is_late(self, bank_reference: str) -> bool:
        return self.late.find_one({"_id": bank_reference}, {"_id": 1}) is not None

    def late_payments_of(self, code: str) -> list[LatePayment]:
        return [records.late_payment_from_doc(d) for d in self.late.find({"billing_code": code}, NO_OUTBOX)]


class RefundRepository(_Repository):
    def __init__(self, db, clock: Clock):
        super().__init__(db, clock)
        self.refunds = db["refunds"]
        self.payouts = db["refund_payouts"]
        self.cancellations = db["cancellations"]

    def ensure_indexes(self) -> None:
        for coll in (self.refunds, self.payouts):
            coll.create_index("billing_code")
            coll.create_index("application_id")
            coll.create_index("office_id")
        self.cancellations.create_index("billing_code")
        outbox.ensure_indexes(self.db)

    # -- refunds ---------------------------------------------------------------------------------
    def add(self, refund: Refund, facts: list[Event]) -> bool:
        return self._insert(self.refunds, records.refund_to_doc(refund), facts)

    def get(self, refund_id: str) -> Refund | None:
        doc = self.refunds.find_one({"_id": refund_id}, NO_OUTBOX)
        return records.refund_from_doc(doc) if doc else None

    def reason_of(self, refund_id: str) -> str | None:
        """The reason of a refund (a narrow read), or None when there is no such refund."""
        doc = self.refunds.find_one({"_id": refund_id}, {"_id": 1, "reason": 1})
        return doc.get("reason", "") if doc else None

    def for_application(self, application_id: str) -> list[Refund]:
        return self._by_time({"application_id": application_id})

    def for_billing(self, code: str) -> list[Refund]:
        return self._by_time({"billing_code": code})

    def for_office_newest_first(self, office_id: str) -> list[Refund]:
        return self._by_time({"office_id": office_id}, newest_first=True)

    def _by_time(self, query: dict, newest_first: bool = False) -> list[Refund]:
        return sorted((records.refund_from_doc(d) for d in self.refunds.find(query, NO_OUTBOX)),
                      key=lambda r: r.recorded_at, reverse=newest_first)

    # -- payouts ---------------------------------------------------------------------------------
    def add_payout(self, payout: Payout, facts: list[Event]) -> bool:
        return self._insert(self.payouts, records.payout_to_doc(payout), facts)

    def payout_of(self, refund_id: str) -> Payout | None:
        doc = self.payouts.find_one({"_id": payout_id_for(refund_id)}, NO_OUTBOX)
        return records.payout_from_doc(doc) if doc else None

    def payouts_of(self, refund_ids: list[str]) -> dict[str, Payout]:
        if not refund_ids:
            return {}
        return {d["refund_id"]: records.payout_from_doc(d)
                for d in self.payouts.find({"refund_id": {"$in": refund_ids}}, NO_OUTBOX)}

    # -- cancellations ---------------------------------------------------------------------------
    def add_cancellation(self, cancellation: Cancellation) -> bool:
        return insert_unique(self.cancellations, records.cancellation_to_doc(cancellation))

    def cancellation_of(self, appointment_id: str) -> Cancellation | None:
        doc = self.cancellations.find_one({"_id": appointment_id})
        return records.cancellation_from_doc(doc) if doc else None


class ReconciliationRepository(_Repository):
    def __init__(self, db, clock: Clock):
        super().__init__(db, clock)
        self.runs = db["reconciliations"]

    def add(self, run: StatementReconciled) -> bool:
        doc = {"_id": run.reconciliation_id, "office_id": run.office_id, "actor_account_id": run.actor_account_id,
               "actor_role": run.actor_role, "statement_sha256": run.statement_sha256, "lines": run.lines,
               "settled": run.settled, "refused": run.refused, "reconciled_at": run.reconciled_at}
        return self._insert(self.runs, doc, [run])


@dataclass(frozen=True)
class Repositories:
    """The repositories over one database, as the use cases receive them."""
    billings: BillingRepository
    settlements: SettlementRepository
    refunds: RefundRepository
    reconciliations: ReconciliationRepository

    @classmethod
    def over(cls, db, clock: Clock) -> "Repositories":
        return cls(BillingRepository(db, clock), SettlementRepository(db, clock), RefundRepository(db, clock),
                   ReconciliationRepository(db, clock))

    def ensure_indexes(self) -> None:
        self.billings.ensure_indexes()
        self.settlements.ensure_indexes()
        self.refunds.ensure_indexes()
