"""Everything that touches the outside: repositories over the store, the payment client, proto mapping."""
