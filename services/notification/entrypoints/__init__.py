"""How the world calls in: the gRPC servicer, the Kafka event handlers and the background loops."""
