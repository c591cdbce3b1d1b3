"""Prometheus metrics of the complaint service. Labels are bounded: office ids (reference data),
categories and kinds; never complaint ids, tracking codes or anything about the complainant."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

FILED = Counter("complaint_filed_total", "Complaints filed, by office and category.", ["office_id", "category"])
CLOSED = Counter("complaint_closed_total", "Complaints resolved or rejected, by office and whether on time.",
                 ["office_id", "on_time"])
ESCALATIONS = Counter("complaint_escalations_total", "SLA breaches escalated to the head of office.",
                      ["office_id", "kind"])
PIN_FAILURES = Counter("complaint_pin_failures_total", "Wrong tracking code or PIN attempts.")
ON_TIME_SHARE = Gauge("complaint_resolved_on_time_ratio",
                      "Share of this month's closed complaints that were closed within the service level.",
                      ["office_id"])
ATTACHMENT_READS = Counter("complaint_attachment_reads_total",
                           "Evidence files downloaded, by who read them (COMPLAINANT, OFFICER, SUPERVISOR).", ["role"])
