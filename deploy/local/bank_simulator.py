"""A local stand-in for the bank (stdlib only): it keeps its own record of payments, answers the
payment service's status queries, and signs and sends settlement notifications to the gateway.

    python -m deploy.local.bank_simulator serve --port 8090
    python -m deploy.local.bank_simulator pay --gateway http://127.0.0.1:8080 --billing-code X --amount N
        [--bank-reference R] [--paid-at RFC3339] [--no-notify] [--state FILE] [--secret S]
    python -m deploy.local.bank_simulator statement > statement.csv

Status API: GET /v1/billings/{billing_code}/payments -> {"billing_code", "payments": [...]};
GET /v1/payments/{bank_reference} -> 200 {"bank_reference", "billing_code", "amount", "status": "PAID",
"paid_at"} or 404 {"bank_reference", "status": "UNKNOWN"}, signed like a notification (X-Signature
over the raw body): the payment service settles a reconciliation line only on this answer.
Notifications: POST {gateway}/v1/payments/notifications, raw JSON body, header
X-Signature: sha256=<hex HMAC-SHA256(BANK_CALLBACK_SECRET, raw body)>.
The record is a JSON-lines file (BANK_SIMULATOR_STATE, else $RUN_DIR/bank_simulator.jsonl).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path

from deploy.local.httpjson import JsonHandler

DEFAULT_SECRET = "local-dev-bank-secret"  # the local stack's; a real bank has its own
_lock = threading.Lock()


def state_path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("BANK_SIMULATOR_STATE"):
        return Path(os.environ["BANK_SIMULATOR_STATE"])
    return Path(os.environ.get("RUN_DIR", ".run")) / "bank_simulator.jsonl"


def record_payment(path: Path, payment: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(payment) + "\n")


def payments(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def notify(gateway: str, payment: dict, secret: str, timeout: float = 10) -> tuple[int, str]:
    body = json.dumps(payment).encode()
    req = urllib.request.Request(gateway.rstrip("/") + "/v1/payments/notifications", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Signature": sign(secret, body)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def new_payment(billing_code: str, amount: int, bank_reference: str | None = None,
                paid_at: str | None = None) -> dict:
    return {"billing_code": billing_code, "amount": amount,
            "paid_at": paid_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "bank_reference": bank_reference or "SIM-" + uuid.uuid4().hex[:16].upper()}


def payment_status(path: Path, bank_reference: str) -> tuple[int, dict]:
    """The bank's answer about one payment (the first recorded under that reference)."""
    for p in payments(path):
        if p.get("bank_reference") == bank_reference:
            return 200, {"bank_reference": bank_reference, "billing_code": p.get("billing_code"),
                         "amount": p.get("amount"), "status": "PAID", "paid_at": p.get("paid_at")}
    return 404, {"bank_reference": bank_reference, "status": "UNKNOWN"}


class Handler(JsonHandler):
    state: Path = Path(".run/bank_simulator.jsonl")
    secret: str = DEFAULT_SECRET

    def answer_signed(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Signature", sign(self.secret, data))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        m = re.fullmatch(r"/v1/billings/(\d{1,32})/payments", self.path)
        if self.path == "/healthz":
            return self.answer(200, {"status": "ok"})
        ref = re.fullmatch(r"/v1/payments/([^/?#]{1,200})", self.path)
        if ref:
            return self.answer_signed(*payment_status(self.state, urllib.parse.unquote(ref.group(1))))
        if not m:
            return self.answer(404, {"error": "not found"})
        code = m.group(1)
        found = [p for p in payments(self.state) if p.get("billing_code") == code]
        self.answer(200, {"billing_code": code, "status": "PAID" if found else "UNPAID", "payments": found})

    def log_message(self, fmt, *args):
        sys.stdout.write(json.dumps({"service": "bank-simulator", "msg": fmt % args}) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", help="the simulator's payment record (JSON lines)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="answer status queries")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--run-marker", help=argparse.SUPPRESS)
    serve.add_argument("--secret", default=os.environ.get("BANK_CALLBACK_SECRET", DEFAULT_SECRET),
                       help="signs the status answers (the payment service verifies them)")
    pay = sub.add_parser("pay", help="record a payment and send its signed notification")
    pay.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080"))
    pay.add_argument("--billing-code", required=True)
    pay.add_argument("--amount", type=int, required=True)
    pay.add_argument("--bank-reference")
    pay.add_argument("--paid-at", help="RFC 3339; default now")
    pay.add_argument("--secret", default=os.environ.get("BANK_CALLBACK_SECRET", DEFAULT_SECRET))
    pay.add_argument("--no-notify", action="store_true", help="record only (a lost notification)")
    sub.add_parser("statement", help="print the record as a statement CSV")
    args = parser.parse_args(argv)
    path = state_path(args.state)

    if args.command == "serve":
        Handler.state, Handler.secret = path, args.secret
        server = ThreadingHTTPServer((args.host, args.port), Handler)
        print(json.dumps({"service": "bank-simulator", "msg": f"listening on {args.host}:{args.port}",
                          "state": str(path)}), flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "statement":
        out = csv.writer(sys.stdout)
        out.writerow(["bank_reference", "billing_code", "amount", "paid_at"])
        for p in payments(path):
            out.writerow([p["bank_reference"], p["billing_code"], p["amount"], p["paid_at"]])
        return 0
    payment = new_payment(args.billing_code, args.amount, args.bank_reference, args.paid_at)
    record_payment(path, payment)
    print(json.dumps({"recorded": payment}))
    if args.no_notify:
        return 0
    status, body = notify(args.gateway, payment, args.secret)
    print(json.dumps({"gateway_status": status, "gateway_answer": body}))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
