"""One skeleton for every service (docs/architecture.md): the same rooms, and domain rooms that
pull in no store, gRPC, protobuf, Kafka or web library, not even through another module."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ["booking", "payment", "biometrics_capture", "notification", "complaint"]
ROOMS = ["domain", "adapters", "usecases", "entrypoints"]
IO_LIBRARIES = ("grpc", "pymongo", "kafka", "flask", "google.protobuf", "passport")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_rooms(service):
    root = REPO / "services" / service
    assert [r for r in ROOMS if (root / r / "__init__.py").exists()] == ROOMS
    assert (root / "__main__.py").exists() and (root / "metrics.py").exists()


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_io_library(service):
    modules = sorted(f"services.{service}.domain.{p.stem}" for p in (REPO / "services" / service / "domain").glob("*.py")
                     if p.stem != "__init__")
    probe = ("import importlib, sys\n"
             f"for m in {modules!r}: importlib.import_module(m)\n"
             f"print(sorted({{m for m in sys.modules if m.startswith({IO_LIBRARIES!r})}}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", f"{service}/domain pulls in {out.stdout.strip()}"
