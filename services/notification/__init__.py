"""Notification service: tells applicants what happened, exactly once per event and channel."""
