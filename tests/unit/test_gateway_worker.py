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


# -- inline refusals: the poller thread answers what the front door refuses ------------------------
BOOKING = b'{"slot_id": "BTM-20270104-REGULAR-0900"}'


def request(body: bytes = BOOKING, head: str = "", line: str = "POST /v1/applications/app-1/appointment HTTP/1.1") -> bytes:
    return (f"{line}\r\nHost: gateway\r\nContent-Type: application/json\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_a_plain_request_gives_the_environ_the_door_reads_and_its_length():
    data = request(head="Accept-Language: en\r\nX-Request-Id: rid-1\r\nConnection: keep-alive\r\n")
    environ, size = worker.plain_request(data + b"GET /v1/next HTTP/1.1\r\n")  # a pipelined next one
    assert size == len(data)
    assert environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/v1/applications/app-1/appointment"
    assert environ["HTTP_ACCEPT_LANGUAGE"] == "en" and environ["HTTP_X_REQUEST_ID"] == "rid-1"
    assert environ["CONTENT_LENGTH"] == str(len(BOOKING)) and environ["wsgi.input"].read() == BOOKING
    listing, _ = worker.plain_request(b"GET /v1/offices/TBK/slots?date=2027-01-04 HTTP/1.1\r\nHost: g\r\n\r\n")
    assert listing["PATH_INFO"] == "/v1/offices/TBK/slots" and listing["QUERY_STRING"] == "date=2027-01-04"


@pytest.mark.parametrize("data", [
    request()[:-5],  # the body not all here yet
    request().split(b"\r\n\r\n")[0],  # the head not all here yet
    request(line="POST /v1/applications/app-1/appointment HTTP/1.0"),  # not keep-alive by default
    request(line="POST /healthz HTTP/1.1"),  # not the API
    request(line="POST /v1/applications/app%2D1/appointment HTTP/1.1"),  # percent-escapes: gunicorn decodes
    request(line="post /v1/applications/app-1/appointment HTTP/1.1"),
    request(head="Transfer-Encoding: chunked\r\n"),
    request(head="Expect: 100-continue\r\n"),
    request(head="Connection: close\r\n"),
    request(head="Upgrade: h2c\r\n"),
    request(head="X_Admission_Pass: forged\r\n"),  # an underscore: gunicorn drops such a header
    request(head="X-Long: a\r\n folded\r\n"),  # obsolete line folding
    request(head="Content-Length: 3\r\n"),  # two lengths
    request(line="GET /v1/" + "a" * 4090 + " HTTP/1.1"),  # longer than gunicorn takes: its 400
    request(head="X-A: 1\r\n" * 100),  # more header fields than gunicorn takes
    request(head="X-Name: caf\xe9\r\n".replace("\xe9", "e\u0301")),  # not ASCII
])
def test_anything_but_a_whole_plain_request_is_left_to_gunicorn(data):
    assert worker.plain_request(data) is None


class Door:
    def __init__(self, answer):
        self.answer, self.seen = answer, []

    def busy(self):
        return True

    def refusal(self, environ, started, may_wait=True):
        self.seen.append((environ["PATH_INFO"], may_wait))
        return self.answer


REFUSAL = ("503 SERVICE UNAVAILABLE", [("Content-Type", "application/problem+json"), ("Content-Length", "2"),
                                       ("Retry-After", "1")], b"{}")


@pytest.fixture
def kept_alive():
    """A worker (no arbiter) with one kept-alive connection on a real socket pair, as gthread keeps it."""
    import collections
    import selectors
    import socket

    from gunicorn.workers.gthread import TConn
    ours, client = socket.socketpair()
    w = worker.ArrivalStampedWorker.__new__(worker.ArrivalStampedWorker)
    w.cfg, w.alive, w.nr_conns = Config(), True, 1
    w.poller, w.keepalived_conns = selectors.DefaultSelector(), collections.deque()
    w.enqueued = []
    w.enqueue_req = w.enqueued.append
    conn = TConn(w.cfg, ours, ("127.0.0.1", 1), ("127.0.0.1", 8080))
    conn.set_timeout()
    w.keepalived_conns.append(conn)
    w.poller.register(conn.sock, selectors.EVENT_READ, lambda _sock: None)
    yield w, conn, client
    client.close()
    ours.close()


def read_all(sock, timeout_s: float = 1) -> bytes:
    sock.settimeout(timeout_s)
    return sock.recv(65536)


def test_a_refused_request_is_answered_in_the_poller_thread_and_the_connection_kept(kept_alive):
    w, conn, client = kept_alive
    w.wsgi = types.SimpleNamespace(wsgi_app=Door(REFUSAL))
    pipelined = b"GET /v1/me HTTP/1.1\r\nHost: g\r\n\r\n"
    client.sendall(request() + pipelined)
    timeout_before = conn.timeout
    w.on_client_socket_readable(conn, conn.sock)
    answer = read_all(client)
    assert answer.startswith(b"HTTP/1.1 503 SERVICE UNAVAILABLE\r\nServer: gunicorn\r\nDate: ")
    assert b"\r\nConnection: keep-alive\r\nContent-Type: application/problem+json\r\n" in answer
    assert answer.endswith(b"Retry-After: 1\r\n\r\n{}")
    assert w.wsgi.wsgi_app.seen == [("/v1/applications/app-1/appointment", False)]  # never waits on the store
    assert w.enqueued == [] and list(w.keepalived_conns) == [conn] and conn.timeout >= timeout_before
    assert conn.sock.recv(1024, __import__("socket").MSG_PEEK) == pipelined  # only the answered one was read
    assert w.poller.get_key(conn.sock) is not None  # still watched for the next request


def test_what_the_door_lets_through_goes_to_a_thread_unread(kept_alive):
    w, conn, client = kept_alive
    w.wsgi = types.SimpleNamespace(wsgi_app=Door(None))
    client.sendall(request())
    w.on_client_socket_readable(conn, conn.sock)
    assert w.enqueued == [conn] and list(w.keepalived_conns) == []  # gthread's own path
    assert conn.sock.recv(65536, __import__("socket").MSG_PEEK) == request()  # nothing was read


def test_a_door_that_is_not_busy_costs_no_peek(kept_alive):
    w, conn, client = kept_alive
    door = Door(REFUSAL)
    door.busy = lambda: False
    w.wsgi = types.SimpleNamespace(wsgi_app=door)
    client.sendall(request())
    w.on_client_socket_readable(conn, conn.sock)
    assert door.seen == [] and w.enqueued == [conn]


def test_a_client_that_has_not_taken_its_earlier_answers_is_left_to_a_thread(kept_alive):
    w, conn, client = kept_alive
    door = Door(REFUSAL)
    w.wsgi = types.SimpleNamespace(wsgi_app=door)
    conn.sock.send(b"an earlier answer the client has not read yet")
    client.sendall(request())
    w.on_client_socket_readable(conn, conn.sock)
    assert door.seen == [] and w.enqueued == [conn]  # the poller never waits on a send


def test_an_answer_that_does_not_go_out_whole_closes_the_connection(kept_alive):
    w, conn, client = kept_alive
    big = (REFUSAL[0], REFUSAL[1], b"x" * (8 << 20))  # more than any socket buffer takes at once
    w.wsgi = types.SimpleNamespace(wsgi_app=Door(big))
    client.sendall(request())
    w.on_client_socket_readable(conn, conn.sock)
    assert w.nr_conns == 0 and list(w.keepalived_conns) == [] and conn.sock.fileno() == -1


def busy_gateway():
    """gunicorn's app factory for the test below: the real gateway with every place of its shedder
    taken, an office whose room is closed, and each door decision noted (inline or from a thread)."""
    import os

    from services.gateway import app as gateway_app
    app = gateway_app.create_app()
    shedder = app.extensions["loadshed"]
    while shedder.try_acquire() is None:
        pass
    shedder._waiting = shedder.max_waiting
    door, decide = app.wsgi_app, app.wsgi_app.refusal
    door.room_open = door.room_known = lambda office_id: False

    def noted(environ, started, may_wait=True):
        with open(os.environ["DOOR_NOTES"], "a") as notes:
            notes.write("thread\n" if may_wait else "inline\n")
        return decide(environ, started, may_wait)
    door.refusal = noted
    return app


def test_a_real_gunicorn_answers_kept_alive_refusals_inline_with_the_same_bytes(tmp_path):
    import os
    import re
    import socket
    import subprocess
    import sys
    import time

    from servicekit import identity
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    notes = tmp_path / "notes"
    env = {**os.environ, **identity.make_local_keys(tmp_path), "DOOR_NOTES": str(notes),
           "JWT_SECRET": "unit-test-secret-of-the-inline-door-0123456789",
           "BANK_CALLBACK_SECRET": "unit-test-bank-secret-0123456789abcdef", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "2",
                               "--worker-class", "services.gateway.worker.ArrivalStampedWorker",
                               "--config", "python:services.gateway.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
                               "tests.unit.test_gateway_worker:busy_gateway()"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.1)
        booking = request(head="X-Request-Id: rid-9\r\nAccept-Language: en\r\n")
        answers = []
        for _ in range(3):
            client.sendall(booking)
            answer = b""
            while not answer.endswith(b"}"):
                answer += read_all(client, 30)  # the worker may still be loading the app
            answers.append(re.sub(rb"Date: [^\r]*", b"Date: -", answer))
        client.sendall(booking + booking)  # pipelined: both answered, in order
        both = b""
        while both.count(b"HTTP/1.1 503") < 2 or not both.endswith(b"}"):
            both += read_all(client, 30)
        client.close()
    finally:
        server.terminate()
        server.wait(10)
    assert answers[0] == answers[1] == answers[2]
    assert answers[0].startswith(b"HTTP/1.1 503 SERVICE UNAVAILABLE\r\n") and b"\r\nRetry-After: 1\r\n" in answers[0]
    assert b"\r\nX-Request-Id: rid-9\r\n" in answers[0] and b'"title": "Overloaded"' in answers[0]
    # the first request of a connection is a thread's (gthread hands new connections to the pool);
    # on the kept-alive connection the next ones are answered inline; the second of a pipelined pair
    # may find the first's answer not yet acknowledged, and go to a thread
    decisions = notes.read_text().split()
    assert decisions[:4] == ["thread", "inline", "inline", "inline"] and len(decisions) == 5
