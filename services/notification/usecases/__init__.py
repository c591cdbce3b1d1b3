"""What the service does, one use case per class: record the messages of an event (messages.py),
deliver them (delivery.py), remind the day before (reminders.py)."""
