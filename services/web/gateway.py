"""The web app's only way to the platform: the gateway's public HTTP API (never gRPC, never a store)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

# GATEWAY_URL, else http://GATEWAY_ADDR (what the Helm chart sets from its peers), else the local stack's.
GATEWAY_URL = (os.environ.get("GATEWAY_URL") or "http://" + os.environ.get("GATEWAY_ADDR", "127.0.0.1:8080")).rstrip("/")
TIMEOUT_S = float(os.environ.get("WEB_GATEWAY_TIMEOUT_SECONDS", "10"))
PROBLEM_BASE = "https://passport.example/problems/"


@dataclass
class Answer:
    status: int
    body: dict | None
    headers: dict
    content: bytes = b""  # the raw body (a document's or photo's bytes for the staff console)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def slug(self) -> str:
        """The problem type's last part (`slot-full`), or '' for a success."""
        kind = (self.body or {}).get("type", "") if isinstance(self.body, dict) else ""
        return kind.rsplit("/", 1)[-1] if kind else ""

    @property
    def field_errors(self) -> list[dict]:
        return (self.body or {}).get("errors") or [] if isinstance(self.body, dict) else []


class Busy(Exception):
    """429/503 (or 409 request-in-progress): the caller shows the waiting page and retries later."""

    def __init__(self, retry_after: int):
        super().__init__(f"busy, retry after {retry_after}s")
        self.retry_after = retry_after


def call(method: str, path: str, body=None, token: str | None = None, idempotency_key: str | None = None,
         headers: dict | None = None, raw: bytes | None = None, content_type: str = "application/json") -> Answer:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(GATEWAY_URL + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if idempotency_key:
        req.add_header("Idempotency-Key", idempotency_key)
    # The web app words problems and field errors from its own catalogue (messages.py), by slug and
    # by the gateway's English field messages; it shows the person's language itself.
    req.add_header("Accept-Language", "en")
    browser = _browser_address()
    if browser:  # the gateway limits attempts per person's address, not per this server's
        req.add_header("X-Forwarded-For", browser)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            content = resp.read()
            answer = Answer(resp.status, _decode(content), dict(resp.headers), content)
    except urllib.error.HTTPError as err:
        content = err.read()
        answer = Answer(err.code, _decode(content), dict(err.headers), content)
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        raise Busy(3) from None  # the gateway did not answer: same as busy, the retry is safe
    # The waiting room's 429 is not "busy": the page sends the applicant to their place in line.
    if (answer.status in (429, 503) and answer.slug != "waiting-room") or answer.slug == "request-in-progress":
        raise Busy(_retry_after(answer.headers))
    return answer


def _browser_address() -> str:
    from flask import has_request_context, request
    return (request.remote_addr or "") if has_request_context() else ""


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """multipart/form-data of `fields` name -> text and `files` name -> (filename, bytes)."""
    boundary = "----web" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="upload"\r\n'
              f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b"\r\n"
              for k, (_name, content) in files.items()]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _retry_after(headers: dict) -> int:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return max(1, min(int(v), 120))
            except ValueError:
                break
    return 2


def _decode(raw: bytes):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
