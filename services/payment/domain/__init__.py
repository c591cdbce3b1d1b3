"""The payment domain: billings, their one decision (settled, expired, voided), payments and
refunds, as dataclasses whose methods enforce the rules and return the events they cause.
No store, no protobuf, no gRPC, no Kafka here (adapters/ maps them)."""
