"""The gateway's vocabulary and field rules, in one place.

Route modules validate with these values and openapi.py publishes them, so the document cannot
drift from what the gateway checks. The values are those of the services behind the proto fields
(which are plain strings on the wire); docs/openapi.md explains the choice.
"""
from __future__ import annotations

# -- enums ------------------------------------------------------------------------------------
PASSPORT_TYPES = ("ORDINARY", "ELECTRONIC")
VALIDITY_YEARS = (5, 10)
SERVICE_TYPES = ("NEW", "RENEWAL", "REPLACEMENT_LOST", "REPLACEMENT_DAMAGED")
PRIORITY_GROUPS = ("ELDERLY", "CHILD_UNDER_5", "DISABLED", "PREGNANT")
LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH")
BALLOT_LANES = tuple(lane for lane in LANES if lane != "OUTREACH")  # outreach seats are never balloted
DOCUMENT_KINDS = ("KTP", "KK", "BIRTH_CERTIFICATE", "MARRIAGE_BOOK", "DIPLOMA", "OLD_PASSPORT", "POLICE_LOSS_REPORT",
                  "DISABILITY_CARD", "PREGNANCY_LETTER")
PRIORITY_DECISIONS = ("CONFIRMED", "REFUSED")
DELIVERIES = ("PICKUP", "POS")
INTERVIEW_OUTCOMES = ("APPROVED", "REJECTED")
LANGUAGES = ("id", "en")
CHANNELS = ("EMAIL", "SMS")
STAFF_ROLES = ("OFFICER", "SUPERVISOR")
COMPLAINT_CATEGORIES = ("SERVICE", "BROKER_OR_EXTORTION", "LOST_PASSPORT", "DAMAGED_PASSPORT", "PAYMENT",
                        "APP_ERROR", "OTHER")
COMPLAINT_RESPONSE_STATUSES = ("IN_PROGRESS", "RESOLVED", "REJECTED")
COMPLAINT_STATUSES = ("OPEN",) + COMPLAINT_RESPONSE_STATUSES
ATTACHMENT_KINDS = ("EVIDENCE", "POLICE_LOSS_REPORT")
OUTREACH_STATUSES = ("REQUESTED", "APPROVED", "REJECTED")
REFUND_STATUSES = ("PENDING", "PAID_OUT")
REFUND_REASONS = ("OVERPAYMENT", "AMOUNT_MISMATCH", "OFFICE_CANCELLED", "LATE_PAYMENT")
STATISTICS_GROUPS = ("day", "month", "year")
MISSING_FINGER_REASONS = ("AMPUTATED", "INJURED", "BANDAGED", "UNUSABLE")
# Values only the services decide, which the gateway passes on (published for clients).
SLA_STATES = ("on_time", "due_soon", "breached")
QUEUE_ACTIONS = ("CALLED", "RECALLED", "SKIPPED")
BALLOT_STATUSES = ("SCHEDULED", "OPEN", "CLOSED", "DRAWN")
BALLOT_OUTCOMES = ("WON", "LOST", "INELIGIBLE")
RELEASE_MODES = ("FCFS", "BALLOT")
RELEASE_STATUSES = ("OPEN", "SCHEDULED")
SETTLEMENT_OUTCOMES = ("SETTLED", "OVERPAYMENT")
BILLING_STATUSES = ("UNPAID", "PAID", "EXPIRED")

# -- limits the gateway itself enforces --------------------------------------------------------
# What a proto int32/int64 field can carry: a bigger number is bad input (422), not a 500 from protobuf.
INT32 = range(-2 ** 31, 2 ** 31)
INT64 = range(-2 ** 63, 2 ** 63)
IDEMPOTENCY_KEY_MAX = 200
REFUNDS_LIMIT_MAX = 500
