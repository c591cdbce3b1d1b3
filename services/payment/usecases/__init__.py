"""Use cases of the payment service: issuing billings, settling and expiring them, refunds and
reconciliation. They load aggregates from the repositories, let them decide, and store the
records with the events they cause; no gRPC, Kafka or store calls here."""
