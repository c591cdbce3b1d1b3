"""Domain events of booking: past-tense facts an application's transitions cause.

Each is a plain dataclass named like its integration event in protos/passport/v1/booking.proto;
adapters/mapping.py turns it into that message when the transition is stored with its outbox."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str


@dataclass(frozen=True)
class ApplicationCreated:
    application_id: str
    account_id: str
    office_id: str
    service_type: str


@dataclass(frozen=True)
class AppointmentBooked:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    slot_id: str
    date: str
    start_time: str
    lane: str
    pay_before: str
    billing_code: str
    amount: Money


@dataclass(frozen=True)
class AppointmentConfirmed:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    date: str
    start_time: str
    lane: str
    paid_at: str


@dataclass(frozen=True)
class AppointmentCancelled:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    slot_id: str
    reason: str  # BILLING_EXPIRED | APPLICANT | OFFICE
    billing_code: str


@dataclass(frozen=True)
class AppointmentRescheduled:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    date: str
    start_time: str
    lane: str
    previous_date: str
    previous_start_time: str
    by_office: bool
    reason: str


@dataclass(frozen=True)
class AppointmentNoShow:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str
    date: str


@dataclass(frozen=True)
class BookingAbandoned:
    application_id: str
    account_id: str
    office_id: str
    appointment_id: str  # the attempt's hold id: the appointment id its billing was issued for


@dataclass(frozen=True)
class CheckedIn:
    application_id: str
    account_id: str
    office_id: str
    queue_number: str
    date: str


@dataclass(frozen=True)
class PassportIssued:
    application_id: str
    account_id: str
    office_id: str
    passport_number_masked: str
    delivery: str


@dataclass(frozen=True)
class PassportShipped:
    application_id: str
    account_id: str
    office_id: str
    tracking_number: str


@dataclass(frozen=True)
class PassportCollected:
    application_id: str
    account_id: str
    office_id: str


@dataclass(frozen=True)
class LatePaymentResolved:
    application_id: str
    account_id: str
    office_id: str
    billing_code: str
    outcome: str  # RESEATED | REFUND


@dataclass(frozen=True)
class WaitlistOffered:
    application_id: str
    account_id: str
    office_id: str
    date: str
    lane: str
    start_time: str
    pay_before: str
