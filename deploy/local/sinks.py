"""Local stand-ins for the notification providers, for `make up`, the demo and the tests.

    python -m deploy.local.sinks smtp --port 2525 --dir .run/mail      # every mail -> a maildir file
    python -m deploy.local.sinks sms --port 8025 --file .run/sms.jsonl [--token T] [--delay-ms N]  # JSON lines

`--delay-ms N` makes the SMS sink record a message and then wait N ms before answering: a send is
"accepted by the provider but not yet acknowledged" for N ms (fault tests kill the sender then).
Every stored mail gets an `X-Sink-Received-At` header, every SMS record a `received_at` (benchmarks).

The SMTP sink speaks real SMTP (aiosmtpd); the SMS sink is the HTTP SMS-gateway contract the
notification service uses: POST a JSON {to, message, reference} with a bearer token -> 202.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import mailbox
import signal
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from deploy.local.httpjson import JsonHandler


def run_smtp(port: int, directory: Path, stop: threading.Event) -> None:
    from aiosmtpd.controller import Controller

    box = mailbox.Maildir(str(directory), create=True)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
            raw = envelope.original_content or envelope.content
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            with lock:
                box.add(f"X-Sink-Received-At: {stamp}\r\n".encode() + raw)
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        stop.wait()
    finally:
        controller.stop()


def run_sms(port: int, file: Path, token: str, stop: threading.Event, delay_ms: int = 0) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(JsonHandler):
        def do_POST(self):
            if token and self.headers.get("Authorization") != f"Bearer {token}":
                return self.answer(401, {"error": "bad token"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                record = {"to": str(body["to"]), "message": str(body["message"]),
                          "reference": str(body.get("reference", ""))}
            except (ValueError, KeyError, TypeError):
                return self.answer(400, {"error": "expected JSON {to, message, reference}"})
            record["received_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
            with lock, open(file, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            if delay_ms:  # accepted and recorded, but the answer is late
                stop.wait(delay_ms / 1000)
            self.answer(202, {"status": "accepted"})


        def log_message(self, *args):  # no phone numbers in logs
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    smtp = sub.add_parser("smtp")
    smtp.add_argument("--port", type=int, required=True)
    smtp.add_argument("--dir", type=Path, required=True)
    sms = sub.add_parser("sms")
    sms.add_argument("--port", type=int, required=True)
    sms.add_argument("--file", type=Path, required=True)
    sms.add_argument("--token", default="")
    sms.add_argument("--delay-ms", type=int, default=0, help="wait this long after recording before answering")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"{args.kind} sink listening on 127.0.0.1:{args.port}", flush=True)
    if args.kind == "smtp":
        run_smtp(args.port, args.dir, stop)
    else:
        run_sms(args.port, args.file, args.token, stop, args.delay_ms)


if __name__ == "__main__":
    main()
