"""Entrypoints of the payment service: the gRPC servicer, the booking.events handlers, the CLIs."""
