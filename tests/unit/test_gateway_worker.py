"""The gateway's gunicorn worker writes a whole answer in one send, byte for byte what gunicorn
would have sent in two; anything else it leaves to gunicorn."""
import types

import pytest
from gunicorn.config import Config

from services.gateway import worker

GUNICORN_RESPONSE = worker.OneSendResponse.__bases__[0]


class Wire:
    def __init__(self):
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def answer(response_class, method: str, status: str, headers: list, body_parts: list[bytes]) -> list[bytes]:
    req = types.SimpleNamespace(version=(1, 1), method=method, should_close=lambda: False)
    wire = Wire()
    resp = response_class(req, wire, Config())
    resp.start_response(status, headers)
    for part in body_parts:
        resp.write(part)
    resp.close()
    return wire.sends


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    monkeypatch.setattr(worker.wsgi.util, "http_date", lambda *_: "Sat, 05 Dec 2026 09:00:00 GMT")


def test_gthread_builds_the_one_send_response():
    assert worker.wsgi.Response is worker.OneSendResponse


def test_a_whole_body_goes_in_one_send_with_the_same_bytes():
    body = b'{"status": 503, "title": "Sedang sibuk"}'
    headers = [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body))),
               ("Retry-After", "2")]
    ours = answer(worker.OneSendResponse, "POST", "503 SERVICE UNAVAILABLE", headers, [body])
    theirs = answer(GUNICORN_RESPONSE, "POST", "503 SERVICE UNAVAILABLE", headers, [body])
    assert len(theirs) == 2 and len(ours) == 1
    assert ours[0] == b"".join(theirs)
    assert ours[0].startswith(b"HTTP/1.1 503 SERVICE UNAVAILABLE\r\n") and ours[0].endswith(b"\r\n\r\n" + body)
    assert b"Connection: keep-alive\r\n" in ours[0]


@pytest.mark.parametrize("method, headers, parts", [
    ("HEAD", [("Content-Length", "5")], [b"hello"]),  # no body on the wire: gunicorn drops it
    ("GET", [("Content-Length", "10")], [b"hello", b"world"]),  # a body in parts
    ("GET", [], [b"hello", b"world"]),  # no length: chunked
])
def test_other_answers_are_written_as_gunicorn_writes_them(method, headers, parts):
    ours = answer(worker.OneSendResponse, method, "200 OK", headers, parts)
    assert ours == answer(GUNICORN_RESPONSE, method, "200 OK", headers, parts)
    assert len(ours) >= 2 or method == "HEAD"
