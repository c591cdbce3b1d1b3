"""Payment service: fees, billing codes, bank settlement, expiry and reconciliation."""
