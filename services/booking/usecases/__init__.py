"""The service layer of booking: one module per group of use cases, over repositories and the domain."""
