"""servicekit: what every service of the passport platform needs, written once.

Configuration, JSON logging with correlation ids, Prometheus metrics, a gRPC server with
health/reflection/graceful stop, gRPC clients with deadlines, MongoDB access, the Kafka event
envelope, the outbox relay and the idempotent consumer. Service folders hold only their domain.
"""
