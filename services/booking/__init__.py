"""Booking service: applicants (accounts), offices, quota and slots, applications, appointments."""
