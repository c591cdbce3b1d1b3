"""Billings. A billing is an immutable record keyed by its 15-digit code, one per appointment
(unique index on appointment_id, so issuing is idempotent across retries and replicas). What
happens to it later (settled, expired) is recorded as further keyed records, never as an update."""
from __future__ import annotations

from passport.v1 import common_pb2, payment_pb2
from servicekit import events, outbox
from servicekit.clock import Clock, parse_rfc3339, rfc3339
from servicekit.mongo import insert_unique
from servicekit.errors import DomainError, invalid

from services.payment import billing_codes, metrics
from services.payment.expiry_queue import ExpiryQueue
from services.payment.fees import FeeSchedule

TOPIC = events.TOPICS["payment"]


class Billings:
    def __init__(self, db, fees: FeeSchedule, clock: Clock):
        self.db, self.fees, self.clock = db, fees, clock
        self.billings = db["billings"]
        self.claims = db["billing_claims"]
        self.expiry_queue = ExpiryQueue(db)

    def ensure_indexes(self) -> None:
        self.billings.create_index("appointment_id", unique=True)
        self.billings.create_index("application_id")
        outbox.ensure_indexes(self.db)

    def issue(self, appointment_id: str, application_id: str, account_id: str, office_id: str,
              fee: payment_pb2.FeeParameters, expires_at: str) -> dict:
        return self.issue_fresh(appointment_id, application_id, account_id, office_id, fee, expires_at)[0]

    def issue_fresh(self, appointment_id: str, application_id: str, account_id: str, office_id: str,
                    fee: payment_pb2.FeeParameters, expires_at: str) -> tuple[dict, bool]:
        """The appointment's billing, and whether this call issued it (a fresh billing has no
        outcome yet, so its view needs no lookup)."""
        if not appointment_id or not application_id:
            raise invalid("appointment_id and application_id are required")
        try:
            expiry = parse_rfc3339(expires_at)
        except ValueError:
            raise invalid("expires_at must be an RFC 3339 timestamp", "expires_at") from None
        now = self.clock.now()
        items = self.fees.items(now.date(), fee.passport_type, fee.validity_years, fee.service_type, fee.express)
        amount = sum(i["amount"] for i in items)
        for _attempt in range(5):
            # The appointment is claimed first, under the code this call will issue: the claim is an
            # insert by `_id` (FerretDB pushes down nothing else), so a new billing costs no lookup.
            # A retry, or a parallel call, finds the claim and issues under the claimed code; the
            # unique index on appointment_id keeps it one billing per appointment whatever happens.
            code = billing_codes.new_code()
            if not insert_unique(self.claims, {"_id": appointment_id, "code": code}):
                claim = self.claims.find_one({"_id": appointment_id})
                if claim is None:
                    continue  # given up by a call whose code collided: claim again
                code = claim["code"]
                if code is None:  # the booking attempt was abandoned first: it never gets a billing
                    raise DomainError("conflict", "appointment-abandoned",
                                      "this booking attempt was given up; nothing is billed for it")
                existing = self.billings.find_one({"_id": code})
                if existing:
                    return existing, False
                # claimed by a call that died before its billing, or is writing it now: same code, one wins
            record = {"_id": code, "appointment_id": appointment_id, "application_id": application_id,
                      "account_id": account_id, "office_id": office_id, "items": items, "amount": amount,
                      "currency": "IDR", "issued_at": now, "expires_at": expiry,
                      "fee": {"passport_type": fee.passport_type, "validity_years": fee.validity_years,
                              "service_type": fee.service_type, "express": fee.express}}
            issued = payment_pb2.BillingIssued(
                billing_code=code, application_id=application_id, account_id=account_id, office_id=office_id,
                appointment_id=appointment_id, amount=common_pb2.Money(amount=amount, currency="IDR"),
                expires_at=rfc3339(expiry))
            envelope = events.new_event("payment", application_id, issued, self.clock)
            self.expiry_queue.add(code, expiry)
            if outbox.insert(self.billings, record, [envelope], TOPIC, self.clock):
                metrics.BILLINGS_ISSUED.labels(office_id, fee.passport_type or "UNKNOWN").inc()
                return record, True
            existing = self.billings.find_one({"_id": code})
            if existing and existing["appointment_id"] == appointment_id:
                return existing, False  # a parallel call under the same claim issued it
            existing = self.billings.find_one({"appointment_id": appointment_id})  # a scan, but rare
            self.claims.delete_one({"_id": appointment_id, "code": code})
            if existing:  # issued before claims came first, without its claim: point the claim at it
                insert_unique(self.claims, {"_id": appointment_id, "code": existing["_id"]})
                return existing, False
            # else: the random code collided with another appointment's billing; claim again
        raise DomainError("unavailable", "billing-code-exhausted", "could not draw a free billing code")

    def latest_for(self, application_id: str) -> dict:
        doc = next(iter(self.billings.find({"application_id": application_id}).sort("issued_at", -1).limit(1)), None)
        if doc is None:
            raise DomainError("not_found", "billing-not-found", "this application has no billing yet")
        return doc

    def find(self, billing_code: str) -> dict:
        doc = self.billings.find_one({"_id": billing_code}, {"_outbox": 0})
        if doc is None:
            raise DomainError("not_found", "billing-not-found", f"no billing has the code {billing_code}")
        return doc


def to_proto(billing: dict, status: str, paid_at=None) -> payment_pb2.Billing:
    return payment_pb2.Billing(
        paid_at=rfc3339(paid_at) if paid_at else "",
        billing_code=billing["_id"], application_id=billing["application_id"],
        appointment_id=billing["appointment_id"],
        amount=common_pb2.Money(amount=billing["amount"], currency=billing["currency"]), status=status,
        expires_at=rfc3339(billing["expires_at"]),
        items=[payment_pb2.BillingItem(**i) for i in billing["items"]])



