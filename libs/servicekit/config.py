"""Configuration from the environment, failing fast and clearly when something is missing."""
from __future__ import annotations

import os


class ConfigError(RuntimeError):
    pass


_MISSING = object()


def env(name: str, default=_MISSING) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ConfigError(f"environment variable {name} is required but not set")
        return default
    return value


# The demo secrets of the local stack (deploy/local/stack.py). They are public, in this repository:
# a process refuses them unless the local mode is explicit (PASSPORT_LOCAL_MODE=1).
DEMO_SECRETS = {
    "JWT_SECRET": "local-dev-jwt-secret-change-me-in-production-0123456789",
    "BANK_CALLBACK_SECRET": "local-dev-bank-secret",
    "BIOMETRICS_ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "BOOKING_ENCRYPTION_KEYS": "k1:bVQejvd6C8lC/Aof+mC6AYVMNUtx/5nVwk5UZkVHJXk=",
    "BOOKING_LOOKUP_KEYS": "h1:ohN90gwO2e1LcI8ImTftUaO9umi/DQauvOR4+BajZWg=",
    "SMS_GATEWAY_TOKEN": "local-sms-token",
    "TOTP_ENCRYPTION_KEYS": "t1:bG9jYWwtZGV2LXRvdHAta2V5LTAxMjM0NTY3ODlhYmM=",
    "COMPLAINT_ENCRYPTION_KEYS": "c1:bG9jYWwtZGV2LWNvbXBsYWludC1jb250YWN0LWtleSE=",
    "WEB_SESSION_KEYS": "w1:bG9jYWwtZGV2LXdlYi1zZXNzaW9uLWtleS0wMTIzNDU=",
}


def secret(name: str) -> str:
    """A required secret: present, and not one of the public demo values outside local mode."""
    value = env(name)
    if value in DEMO_SECRETS.values() and not env_bool("PASSPORT_LOCAL_MODE"):
        raise ConfigError(f"{name} holds a public demo value from this repository; set a real secret "
                          "(or PASSPORT_LOCAL_MODE=1 on a local stack)")
    return value


def env_int(name: str, default=_MISSING) -> int:
    raw = env(name, default if default is _MISSING else str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None


def env_float(name: str, default=_MISSING) -> float:
    raw = env(name, default if default is _MISSING else str(default))
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def service_address(service: str, default_port: int) -> str:
    """Where to reach a peer: BOOKING_ADDR=host:port[,host:port...] (several = round-robin)."""
    return env(f"{service.upper().replace('-', '_')}_ADDR", f"127.0.0.1:{default_port}")


# Default ports of the local stack; every one is overridable by environment.
GRPC_PORTS = {"booking": 50051, "payment": 50052, "biometrics-capture": 50053,
              "notification": 50054, "complaint": 50055}
METRICS_PORTS = {"booking": 9101, "payment": 9102, "biometrics-capture": 9103,
                 "notification": 9104, "complaint": 9105}
