"""gunicorn's gthread worker, noting when each request arrived, writing each answer in one send, and
answering the front door's refusals on kept-alive connections without a thread.

A request waits in gunicorn's queue for a free thread before the app sees it; under overload that
wait can be long, and the app would count its answer budget from too late. This worker stamps a
connection when it is handed to the thread pool (accepted, or readable again after keep-alive), and
`arrived_at()` gives the app that stamp, so the budget and the load shedder count the wait too.
Run it with `--worker-class services.gateway.worker.ArrivalStampedWorker`; without it, `arrived_at()`
is None and the app counts from when it saw the request.

gunicorn sends a response's head and its body in two system calls (two TCP segments the client
reads apart). Nearly every answer of the gateway is one body of known length, so `OneSendResponse`
sends head and body together: ~10% less CPU per answer in gunicorn's own loop (~300 -> ~270 us on
this machine), which in an overload of refusals is CPU left to the bookings.

Inline refusals: in a 3x overload nearly every request is a refusal the front door answers from
memory (front_door.py), yet each one crossed gunicorn's thread pool twice (hand-off to a thread, the
thread's result back to the poller: ~56 futex calls and most of ~0.35 ms of CPU per refusal). When a
kept-alive connection turns readable, the poller thread now peeks at what arrived; a whole, plain
HTTP/1.1 request (`plain_request`) that the door refuses is read, answered and left kept-alive there
and then. Anything else, and any doubt, goes to the thread pool exactly as before: nothing is read
from the socket unless it is answered. A connection whose earlier answers the client has not taken
yet (a slow reader, a weak network) is left to a thread too: the poller must never wait on a send.
"""
from __future__ import annotations

import fcntl
import io
import socket
import struct
import termios
import threading
import time

from gunicorn import SERVER, util
from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

_current = threading.local()

PEEK_BYTES = 8192  # a refusable request is small: its head and a booking's JSON body
MAX_REQUEST_LINE, MAX_HEADERS = 4094, 100  # gunicorn's default limits (limit_request_line, _fields)
# Headers that make a request anything but plain (a body in chunks, an upgrade, a 100-continue
# handshake): those are gunicorn's to read.
_NOT_PLAIN = frozenset({"TRANSFER-ENCODING", "UPGRADE", "EXPECT", "TE"})


def arrived_at() -> float | None:
    """time.perf_counter() when the request this thread is handling arrived, if the worker knows."""
    return getattr(_current, "arrived_at", None)


def plain_request(data: bytes) -> tuple[dict, int] | None:
    """The WSGI environ of the first request in `data` and its length in bytes, when it is a whole
    HTTP/1.1 request to the /v1 API with a plain head (no chunked body, no upgrade, no percent-escapes,
    no header name gunicorn would drop or rewrite) and all of its Content-Length body; else None.
    Only what the front door reads is filled in."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    try:
        lines = data[:end].decode("ascii").split("\r\n")
    except UnicodeDecodeError:
        return None
    if len(lines[0]) > MAX_REQUEST_LINE or len(lines) > MAX_HEADERS + 1:
        return None  # gunicorn answers those 400
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "HTTP/1.1" or not parts[0].isalpha() or not parts[0].isupper():
        return None
    target = parts[1]
    if not target.startswith("/v1/") or "%" in target or "#" in target:
        return None
    path, _, query = target.partition("?")
    environ = {"REQUEST_METHOD": parts[0], "PATH_INFO": path, "QUERY_STRING": query}
    length = 0
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = name.upper()
        if not colon or not name or not name.replace("-", "").isalnum() or key in _NOT_PLAIN:
            return None  # an empty or folded name, an underscore, a space: gunicorn's to judge
        value = value.strip(" \t")
        if key == "CONNECTION" and value.lower() != "keep-alive":
            return None  # close, upgrade: gunicorn's
        if key == "CONTENT-LENGTH":
            if not value.isdigit() or "CONTENT_LENGTH" in environ:
                return None
            environ["CONTENT_LENGTH"] = value
            length = int(value)
        else:
            wsgi_key = "HTTP_" + key.replace("-", "_")
            environ[wsgi_key] = environ[wsgi_key] + "," + value if wsgi_key in environ else value
    size = end + 4 + length
    if len(data) < size:
        return None
    environ["wsgi.input"] = io.BytesIO(data[end + 4:size])
    return environ, size


def _head(first_lines: list[str], headers) -> bytes:
    """A response's head as gunicorn writes it: its first lines (status, Server, Date, Connection),
    each header, the blank line."""
    return "".join([*first_lines, *(f"{name}: {value}\r\n" for name, value in headers), "\r\n"]).encode("latin-1")


class OneSendResponse(wsgi.Response):
    def write(self, arg):
        """A whole body of known length, before the head went out: head and body in one send.
        Anything else (chunked, streamed in parts, no body allowed) as gunicorn writes it."""
        if (self.headers_sent or self.chunked or self._omits_body or not isinstance(arg, bytes)
                or self.response_length != len(arg)):
            return super().write(arg)
        self.headers_sent = True
        self.sent += len(arg)
        self.sock.sendall(_head(self.default_headers(), self.headers) + arg)


class ArrivalStampedWorker(ThreadWorker):
    _door = None  # the app's front door, found on first use (False: the app has none)

    def enqueue_req(self, conn):
        conn.arrived_at = time.perf_counter()
        super().enqueue_req(conn)

    def handle_request(self, req, conn):
        _current.arrived_at = getattr(conn, "arrived_at", None)
        try:
            return super().handle_request(req, conn)
        finally:
            _current.arrived_at = None

    def on_client_socket_readable(self, conn, client):
        if self.alive and not self.cfg.is_ssl and self._refused_inline(conn):
            return
        super().on_client_socket_readable(conn, client)

    def _refused_inline(self, conn) -> bool:
        """Answer the request waiting on a kept-alive connection here, in the poller thread, when it is
        plain and the front door refuses it. False (nothing read) when it is for a thread to handle."""
        if self._door is None:
            door = getattr(self.wsgi, "wsgi_app", None)
            self._door = door if hasattr(door, "refusal") and hasattr(door, "busy") else False
        if not self._door or not self._door.busy():
            return False  # the door refuses nothing now: not even a peek
        if not _nothing_unsent(conn.sock):
            return False  # earlier answers not yet taken by the client: a thread may wait on it, the poller not
        try:
            request = plain_request(conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK))
        except OSError:
            return False  # the thread meets the error and closes the connection as it always did
        if request is None:
            return False
        environ, size = request
        try:
            answer = self._door.refusal(environ, time.perf_counter(), may_wait=False)
        except Exception:  # noqa: BLE001 - a thread takes the request and the app answers (or logs) it
            self.log.exception("inline refusal failed; the request goes to a thread")
            return False
        if answer is None:
            return False
        status, headers, body = answer
        payload = _head([f"HTTP/1.1 {status}\r\n", f"Server: {SERVER}\r\n", f"Date: {http_date()}\r\n",
                         "Connection: keep-alive\r\n"], headers) + body
        try:
            read = 0
            while read < size:  # peeked: all of it is there, recv only hands it over
                got = len(conn.sock.recv(size - read))
                if not got:
                    raise ConnectionResetError("the peeked request is gone")
                read += got
            sent = conn.sock.send(payload)
        except OSError:
            sent = -1
        self.keepalived_conns.remove(conn)
        if sent != len(payload):  # cannot happen with an empty send queue; if it does, never wait here
            self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()
            return True
        conn.set_timeout()
        self.keepalived_conns.append(conn)  # still readable: the poller calls again for a pipelined one
        return True


def _nothing_unsent(sock) -> bool:
    """Whether the socket's send queue is empty (Linux TIOCOUTQ: bytes not yet sent or acknowledged),
    so that a small answer is taken whole by one non-blocking send."""
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0] == 0
    except OSError:
        return False


_date = (0, "")


def http_date() -> str:
    """gunicorn's Date header value, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, util.http_date(now))
    return _date[1]


# gthread builds each response with wsgi.create(), which takes gunicorn's Response from its module
# (it has a response_class argument, but gthread does not pass one): this worker's process uses ours.
wsgi.Response = OneSendResponse
