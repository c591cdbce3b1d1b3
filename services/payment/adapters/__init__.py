"""Adapters of the payment service: repositories over the store (the only store calls), the bank
client, and the proto <-> domain mapping (one mapping per record)."""
