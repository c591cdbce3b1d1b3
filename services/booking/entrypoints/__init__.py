"""How the booking process is reached: gRPC servicers, Kafka event handlers, the operator CLI."""
