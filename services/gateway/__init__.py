"""API gateway: the public HTTP API of API.md in front of the five gRPC services."""
