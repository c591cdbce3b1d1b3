"""The local bank simulator (deploy/local/bank_simulator.py) served in-process on an ephemeral port,
so the payment service's bank adapter is tested against the real HTTP answers, signatures included."""
from __future__ import annotations

import contextlib
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from deploy.local import bank_simulator

SECRET = bank_simulator.DEFAULT_SECRET


@contextlib.contextmanager
def serving(state: Path, secret: str = SECRET):
    """Yields (base URL, record(billing_code, amount, bank_reference, paid_at))."""
    handler = type("Handler", (bank_simulator.Handler,), {"state": state, "secret": secret,
                                                           "log_message": lambda *a: None})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def record(billing_code: str, amount: int, bank_reference: str, paid_at: str) -> None:
        bank_simulator.record_payment(state, bank_simulator.new_payment(billing_code, amount, bank_reference, paid_at))

    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", record
    finally:
        server.shutdown()
        server.server_close()
