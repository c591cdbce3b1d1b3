"""The notification service's rules, free of I/O: what an event tells whom (message.py, templates.py),
in which order and when a message is stale (ordering.py), retries and outcomes (delivery.py), and
when to remind (reminders.py)."""
