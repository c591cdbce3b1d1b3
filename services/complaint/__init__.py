"""Complaint service: reports of poor service, brokers and lost passports, with SLA clocks."""
