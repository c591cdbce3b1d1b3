"""The booking domain: aggregates, value objects, rules and domain events. No store, RPC or wire formats."""
