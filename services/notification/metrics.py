"""The notification service's own Prometheus metrics (servicekit.metrics has the shared ones)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

NOT_ADDRESSED = Counter("notification_events_without_account_total",
                        "Events of a notified type that carry no account (e.g. anonymous complaints).",
                        ["event_type"])
NO_SUPERVISOR = Counter("notification_escalations_without_supervisor_total",
                        "Escalations for an office that has no SUPERVISOR account.", ["event_type"])
MESSAGES = Counter("notification_messages_total", "Delivery outcomes by channel.",
                   ["channel", "outcome"])  # outcome: sent | failed_attempt | dead_lettered | skipped
DELIVERY_LATENCY = Histogram(
    "notification_event_to_delivery_seconds", "From the event's occurred_at to the provider's acceptance.",
    ["channel"], buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
RETRIES = Counter("notification_retries_total", "Attempts after the first one, by channel.", ["channel"])
DEAD_LETTERS = Counter("notification_dead_letters_total", "Messages given up on, by channel.", ["channel"])
REQUEUED = Counter("notification_requeued_total", "Open messages the safety sweep found without a queue entry.",
                   ["channel"])
