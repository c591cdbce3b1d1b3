"""Issuing a billing, once per appointment, and reading an application's billing."""
from __future__ import annotations

from servicekit.clock import Clock, parse_rfc3339
from servicekit.errors import DomainError, invalid

from services.payment import metrics
from services.payment.adapters.repositories import Repositories
from services.payment.domain import billing_codes
from services.payment.domain.billing import Billing, FeeParameters
from services.payment.domain.fees import FeeSchedule


class Billings:
    def __init__(self, repos: Repositories, fees: FeeSchedule, clock: Clock):
        self.repo, self.fees, self.clock = repos.billings, fees, clock

    @property
    def expiry_queue(self):
        return self.repo.expiry_queue

    def ensure_indexes(self) -> None:
        self.repo.ensure_indexes()

    def issue(self, appointment_id: str, application_id: str, account_id: str, office_id: str,
              fee: FeeParameters, expires_at: str) -> Billing:
        return self.issue_fresh(appointment_id, application_id, account_id, office_id, fee, expires_at)[0]

    def issue_fresh(self, appointment_id: str, application_id: str, account_id: str, office_id: str,
                    fee: FeeParameters, expires_at: str) -> tuple[Billing, bool]:
        """The appointment's billing, and whether this call issued it (a fresh billing has no
        outcome yet, so its view needs no lookup)."""
        if not appointment_id or not application_id:
            raise invalid("appointment_id and application_id are required")
        try:
            expiry = parse_rfc3339(expires_at)
        except ValueError:
            raise invalid("expires_at must be an RFC 3339 timestamp", "expires_at") from None
        now = self.clock.now()
        items = self.fees.items_for(now.date(), fee)
        for _attempt in range(5):
            # The appointment is claimed first, under the code this call will issue, so a new billing
            # costs no lookup. A retry, or a parallel call, finds the claim and issues under the
            # claimed code; the unique index on appointment_id keeps it one billing per appointment.
            code = billing_codes.new_code()
            if not self.repo.claim(appointment_id, code):
                claim = self.repo.claim_of(appointment_id)
                if claim is None:
                    continue  # given up by a call whose code collided: claim again
                if claim.abandoned:  # the booking attempt was abandoned first: it never gets a billing
                    raise DomainError("conflict", "appointment-abandoned",
                                      "this booking attempt was given up; nothing is billed for it")
                code = claim.code
                existing = self.repo.get(code)
                if existing:
                    return existing, False
                # claimed by a call that died before its billing, or is writing it now: same code, one wins
            billing, facts = Billing.issue(code, appointment_id, application_id, account_id, office_id, fee,
                                           items, expiry, now)
            self.repo.queue_expiry(code, expiry)
            if self.repo.add(billing, facts):
                metrics.BILLINGS_ISSUED.labels(office_id, fee.passport_type or "UNKNOWN").inc()
                return billing, True
            existing = self.repo.get(code)
            if existing and existing.appointment_id == appointment_id:
                return existing, False  # a parallel call under the same claim issued it
            existing = self.repo.for_appointment(appointment_id)
            self.repo.release_claim(appointment_id, code)
            if existing:  # issued before claims came first, without its claim: point the claim at it
                self.repo.claim(appointment_id, existing.code)
                return existing, False
            # else: the random code collided with another appointment's billing; claim again
        raise DomainError("unavailable", "billing-code-exhausted", "could not draw a free billing code")

    def latest_for(self, application_id: str) -> Billing:
        billing = self.repo.latest_for(application_id)
        if billing is None:
            raise DomainError("not_found", "billing-not-found", "this application has no billing yet")
        return billing
