"""The release rush, measured: N applicants race for the seats of a release through the gateway.

    PYTHONPATH=.:libs:gen/python .venv/bin/python -m tests.bench.booking_rush \
        [--applicants 10000] [--offices 50] [--seats 60] [--concurrency 64] [--overload-seconds 20]

Environment (used by `make bench`): BENCH_APPLICANTS, BENCH_OFFICES, BENCH_SEATS,
BENCH_CONCURRENCY, BENCH_OVERLOAD_SECONDS, BENCH_OVERLOAD_FACTOR; the bots scenario's
BENCH_BOTS_APPLICANTS, BENCH_BOTS_SHARE, BENCH_BOTS_SEATS, BENCH_BOTS_PER_MINUTE, BENCH_BOTS_DRAW_SECONDS
(`--bots-only` runs only that scenario).

It starts its own stack (run directory in /tmp, ports in a block of 100 from BENCH_PORT_BASE, default 23500, two booking replicas, four
gateway workers) unless --gateway URL and --mongo URI name a running one, and stops it at the end.

1. Setup (not measured): applicants with accounts and one application each; a release of
   O "offices" x S seats. The reference data has 4 offices, so a benchmark office is one
   (office, working day) pair; its S seats are set on the REGULAR lane of that day's start
   times by the office's supervisor (PUT /v1/offices/{id}/quota).
2. Rush (measured, closed loop, bounded concurrency): each applicant lists its office's slots
   day by day and books free ones until it holds a seat or every day is full; 503/429 answers
   are retried after Retry-After (capped at 1 s). A `409 appointment-exists` (an earlier attempt
   was answered late but booked) ends the search with one read of the application, as an app would.
3. Invariants read from the store with pymongo: overbooked seats, duplicate open applications
   per account (= per NIK), duplicate NIKs, lost bookings (a 201 whose seat is not stored).
4. Bare baseline: tests/bench/baseline_app.py (one unique-index insert per request), same
   gunicorn worker class and count, same store, same client, same number of requests, with every
   other process of the bench stack paused (SIGSTOP) so the platform's leftover work (events,
   notifications, sweepers) does not slow it. The target ratio counts served requests only: answers
   shed with 429/503 are fast but are no throughput.
5. Overload (open loop): a second release, booked by the applicants still without a seat at
   FACTOR x the rush's sustained request rate for a bounded time; every request must be answered
   (success, full, or 429/503 with Retry-After) within 2 s.
6. Booking-heavy sell-out and brokers' bots (issue 19): on one office-day of SEATS seats, N people,
   one thread each, all at once, following Retry-After: seats / seconds to sell out, against the
   bare app's bookings/s for the same N people (measured in step 4). Then N applicants of whom 10%
   are bots asking every 20 ms whatever Retry-After says, run once without and once with the
   office's waiting room (a fresh day and fresh applicants each): the bots' share of the seats over
   their share of the applicants (target with the room: <= 1.1).
7. Idle cost: the stack's CPU and store round trips over a minute without traffic; then store round
   trips per booking by service (bookings one after another on the quiet platform).
8. Issue 19's targets, each with its figure and a verdict.
All traffic goes to 127.0.0.1. Prints one plain-text table; asserts nothing.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import pymongo

from deploy.local.client import SAMPLE_PDF
from services.booking.domain import calendar as booking_calendar

REPO = Path(__file__).resolve().parents[2]
# A block of 100 ports below 32768 (see deploy.local.stack.Ports).
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "23500"))
ANSWER_BUDGET_S = 2.0
PASSWORD = "Sandi-Rahasia-2026"
SUPERVISOR_PASSWORD = "Supervisor-Bench-2026!"
KEEPALIVE_REUSE_S = 1.5  # gunicorn closes idle keep-alive connections after 2 s
SETUP_ATTEMPTS = 30  # setup is not measured: retry overload answers patiently
setup_failures: collections.Counter = collections.Counter()


# -- a small keep-alive HTTP client (one connection per thread) ---------------------------------
class Http:
    def __init__(self, base_url: str, timeout: float = 10.0):
        u = urllib.parse.urlparse(base_url)
        if u.hostname not in ("127.0.0.1", "localhost"):
            raise SystemExit("the benchmark only sends traffic to 127.0.0.1")
        self.host, self.port, self.timeout = "127.0.0.1", u.port or 80, timeout
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn, last = getattr(self.local, "conn", None), getattr(self.local, "last", 0.0)
        if conn is None or time.monotonic() - last > KEEPALIVE_REUSE_S:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def request(self, method: str, path: str, body=None, token: str | None = None, extra: dict | None = None):
        """(status, json body or None, headers, seconds); status 0 = no answer."""
        headers = {"Connection": "keep-alive", **(extra or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        conn = self._conn()
        started = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            elapsed = time.perf_counter() - started
            self.local.last = time.monotonic()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                self.local.conn = None
            parsed = None
            if raw and "json" in (resp.getheader("Content-Type") or ""):
                parsed = json.loads(raw)
            return resp.status, parsed, dict(resp.getheaders()), elapsed
        except (OSError, http.client.HTTPException):
            elapsed = time.perf_counter() - started
            conn.close()
            self.local.conn = None
            return 0, None, {}, elapsed


def slug_of(status: int, body) -> str:
    if status == 0:
        return "no-answer"
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        return body["type"].rsplit("/", 1)[-1]
    return "-"


class Recorder:
    def __init__(self):
        self.rows: list[tuple[str, int, str, float]] = []  # (kind, status, slug, seconds)
        self.lock = threading.Lock()

    def add(self, kind: str, status: int, body, seconds: float) -> None:
        with self.lock:
            self.rows.append((kind, status, slug_of(status, body), seconds))


def bare_sellout(base_url: str, people: int, groups: dict[int, str]) -> tuple[float, float]:
    """Bookings/s of the bare baseline when `people` each book once at the same moment, and the CPU
    milliseconds per booking of the processes in `groups` (the bare app and the store)."""
    if people <= 0:
        return float("nan"), float("nan")
    booked, lock = [0], threading.Lock()

    def one(_i: int) -> None:
        if Http(base_url).request("POST", "/insert", {})[0] == 201:
            with lock:
                booked[0] += 1

    cpu0 = sum(groups_cpu(groups).values())
    seconds = all_at_once(one, list(range(people)))
    cpu_ms = (sum(groups_cpu(groups).values()) - cpu0) * 1000 / max(1, booked[0])
    return booked[0] / seconds, cpu_ms


def all_at_once(one, items: list) -> float:
    """Run one(item) for every item, a thread each, all started together; the seconds until all end."""
    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(item,), daemon=True) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# -- the stack ------------------------------------------------------------------------------
def start_stack(horizon_days: int):
    from deploy.local.stack import Ports, Stack
    run_dir = Path(tempfile.mkdtemp(prefix="passport-bench-"))
    stack = Stack(run_dir, Ports(base=PORT_BASE, booking_replicas=2), gateway_workers=4,
                  extra_env={"SLOT_HORIZON_DAYS": str(horizon_days),
                             # its releases reach further ahead than the published calendar's four weeks
                             "RELEASE_OPENS_DAYS_BEFORE": "90",
                             # setup registers BENCH_APPLICANTS accounts (the rush signs its tokens
                             # itself): the pre-OWASP hash cost saves ~20 core-minutes of setup;
                             # logins_bench measures the real cost
                             "PASSWORD_SCRYPT_N": "16384", "PASSWORD_SCRYPT_P": "1",
                             # traces sampled as docs/observability.md advises for production (the
                             # local stack records every span: a file line per request and store command)
                             "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    print(f"starting a bench stack in {run_dir} (ports {PORT_BASE}..{PORT_BASE + 99})", flush=True)
    try:
        stack.up()
    except BaseException:
        stack.down()
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return stack


def ensure_supervisors(env: dict) -> dict[str, dict]:
    """One supervisor per office (TBK's demo supervisor plus bench ones for the others)."""
    from deploy.local.stack import DEMO_STAFF
    sups = {s["office_id"]: s for s in DEMO_STAFF if s["role"] == "SUPERVISOR"}
    for office_id in booking_calendar.load().offices:
        sups.setdefault(office_id, {"role": "SUPERVISOR", "email": f"bench-supervisor@{office_id.lower()}.imigrasi.example",
                                    "password": SUPERVISOR_PASSWORD, "full_name": f"Bench Supervisor {office_id}",
                                    "office_id": office_id})
    out = subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff", json.dumps(list(sups.values()))],
                         env=env, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"ensure-staff failed: {out.stderr.strip()}")
    return sups


# -- setup ----------------------------------------------------------------------------------
def release_layout(offices: int, first_day: dt.date, cal) -> list[tuple[str, dt.date]]:
    """Benchmark office k = (real office, k-th working day of it from first_day)."""
    ids = sorted(cal.offices)
    per_office = collections.Counter(ids[k % len(ids)] for k in range(offices))
    layout = []
    for office_id, count in sorted(per_office.items()):
        for day in cal.working_days(cal.offices[office_id], first_day, count):
            layout.append((office_id, day))
    return layout


def create_release(api: Http, tokens: dict[str, str], layout, seats: int, cal) -> dict[str, dict]:
    """Set the quota; returns slot_id -> {office_id, date, capacity}."""
    slots, jobs = {}, []
    for office_id, day in layout:
        starts = cal.offices[office_id].slots
        for i, start in enumerate(starts):
            capacity = seats // len(starts) + (1 if i < seats % len(starts) else 0)
            sid = booking_calendar.slot_id(office_id, day, "REGULAR", start)
            slots[sid] = {"office_id": office_id, "date": day.isoformat(), "capacity": capacity}
            jobs.append((office_id, {"date": day.isoformat(), "lane": "REGULAR", "start_time": start,
                                     "capacity": capacity, "reason": "benchmark release"}))

    def put(job):
        office_id, body = job
        for _ in range(30):  # a busy setup is answered 503 + Retry-After: wait as told
            status, reply, headers, _s = api.request("PUT", f"/v1/offices/{office_id}/quota", body, tokens[office_id])
            if status == 200:
                return
            time.sleep(min(5.0, float(dict(headers or {}).get("Retry-After", 1) or 1)))
        raise RuntimeError(f"quota for {office_id} {body['date']} failed: {status} {reply}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, jobs))
    return slots


ADULT_NEW_DOCUMENTS = ("KTP", "KK", "BIRTH_CERTIFICATE")  # what a NEW application of an adult needs
TINY_PDF = SAMPLE_PDF  # a PDF qpdf reads: uploads are parsed and rewritten (servicekit/pdf.py)


def upload_document(api: Http, application_id: str, kind: str, token: str):
    """POST /v1/applications/{id}/documents as multipart (kind + file)."""
    boundary = "bench" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{kind.lower()}.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + TINY_PDF + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(api.host, api.port, timeout=api.timeout)
    try:
        conn.request("POST", f"/v1/applications/{application_id}/documents", body=body, headers={
            "Authorization": "Bearer " + token, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        raw = resp.read()
        parsed = json.loads(raw) if raw and "json" in (resp.getheader("Content-Type") or "") else None
        return resp.status, parsed
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def make_nik(i: int, salt: int, birth: dt.date) -> str:
    district = 10 + (salt + i // 9999) % 90
    return f"2171{district:02d}{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}{i % 9999 + 1:04d}"


# Each set-up of applicants in one run takes its own NIK district salt: a set-up of up to 19,998
# people uses districts salt and salt+1 (make_nik), so the salts are even and never drawn twice (a
# shared salt made every NIK of a later set-up `nik-taken`, ~8% of runs).
_SALTS = random.sample(range(0, 90, 2), 45)


def setup_applicants(api: Http, n: int, office_of, jwt_secret: str | None, concurrency: int) -> list[dict]:
    run = uuid.uuid4().hex[:8]
    salt = _SALTS.pop()

    def one(i: int) -> dict | None:
        birth = dt.date(1975, 1, 1) + dt.timedelta(days=(i * 7919) % 9000)
        person = {"nik": make_nik(i, salt, birth), "full_name": "Bench Applicant", "birth_date": birth.isoformat(),
                  "email": f"bench-{run}-{i}@example.id", "phone": f"0812{10**7 + i:08d}", "password": PASSWORD}
        for _ in range(SETUP_ATTEMPTS):
            status, body, _h, _s = api.request("POST", "/v1/accounts", person)
            if status == 201:
                break
            if status in (0, 429, 503):
                time.sleep(1.0)
                continue
            setup_failures[(status, slug_of(status, body))] += 1  # e.g. nik-taken on a reused stack
            return None
        else:
            setup_failures[(status, slug_of(status, body))] += 1
            return None
        account_id = body["account_id"]
        if jwt_secret:  # the bench's own stack: sign the token as the gateway would (saves a scrypt)
            now = int(time.time())
            token = jwt.encode({"sub": account_id, "role": "APPLICANT", "office_id": "", "iss": "passport-gateway",
                                "iat": now, "exp": now + 4 * 3600}, jwt_secret, algorithm="HS256")
        else:
            _st, tok, _h, _s = api.request("POST", "/v1/auth/token", {"email": person["email"], "password": PASSWORD})
            token = tok["access_token"]
        office_id = office_of(i)
        for _ in range(SETUP_ATTEMPTS):
            status, app, _h, _s = api.request("POST", "/v1/applications", {
                "office_id": office_id, "passport_type": "ELECTRONIC", "validity_years": 10,
                "service_type": "NEW", "express": False, "priority_group": None}, token)
            if status == 409 and slug_of(status, app) == "active-application-exists":
                # an earlier attempt timed out at the gateway but was created: use it
                status, listed, _h, _s = api.request("GET", "/v1/applications", None, token)
                if status == 200 and listed["items"]:
                    app, status = listed["items"][0], 201
            if status == 201:
                break
            time.sleep(1.0)
        else:
            setup_failures[(status, slug_of(status, app))] += 1
            return None
        for kind in ADULT_NEW_DOCUMENTS:  # booking needs the required documents first (API.md)
            for _ in range(SETUP_ATTEMPTS):
                status, reply = upload_document(api, app["application_id"], kind, token)
                if status == 201:
                    break
                time.sleep(1.0)
            else:
                setup_failures[(status, slug_of(status, reply))] += 1
                return None
        return {"account_id": account_id, "token": token, "office_id": office_id,
                "application_id": app["application_id"], "email": person["email"]}

    started, done = time.monotonic(), []
    with ThreadPoolExecutor(concurrency) as pool:
        for k, result in enumerate(pool.map(one, range(n)), 1):
            if result:
                done.append(result)
            if k % 1000 == 0:
                print(f"  setup: {k}/{n} applicants ({time.monotonic() - started:.0f} s)", flush=True)
    return done


# -- the measured phases ----------------------------------------------------------------------
def book_with_retries(api: Http, rec: Recorder, applicant: dict, slot_id: str, kind: str = "book"):
    for _ in range(6):
        status, body, headers, secs = api.request(
            "POST", f"/v1/applications/{applicant['application_id']}/appointment", {"slot_id": slot_id},
            applicant["token"])
        rec.add(kind, status, body, secs)
        if status in (429, 503) or status == 0:
            time.sleep(min(1.0, float(headers.get("Retry-After", "1") or 1)))
            continue
        return status, body
    return status, body


def rush(api: Http, applicants: list[dict], release: dict[str, dict], concurrency: int, rec: Recorder):
    days_of = collections.defaultdict(set)
    for s in release.values():
        days_of[s["office_id"]].add(s["date"])
    booked: dict[str, str] = {}  # application_id -> appointment_id

    def one(applicant: dict) -> None:
        days = sorted(days_of[applicant["office_id"]])
        random.shuffle(days)
        for day in days:
            for _attempt in range(6):
                status, body, headers, secs = api.request(
                    "GET", f"/v1/offices/{applicant['office_id']}/slots?date={day}&lane=REGULAR")
                rec.add("list", status, body, secs)
                if status == 200:
                    break
                time.sleep(min(1.0, float(headers.get("Retry-After", "1") or 1)))
            else:
                continue
            free = [s["slot_id"] for s in body["items"] if s["remaining"] > 0 and s["slot_id"] in release]
            random.shuffle(free)
            for slot_id in free:
                status, reply = book_with_retries(api, rec, applicant, slot_id)
                if status == 201:
                    booked[applicant["application_id"]] = reply["appointment"]["appointment_id"]
                    return
                if status == 409 and str(reply.get("type", "")).endswith("appointment-exists"):
                    # an earlier attempt was answered late (a deadline 503) but booked: look, as an app would
                    status, view, _h, secs = api.request(
                        "GET", f"/v1/applications/{applicant['application_id']}", token=applicant["token"])
                    rec.add("view", status, view, secs)
                    if status == 200 and view.get("appointment"):
                        booked[applicant["application_id"]] = view["appointment"]["appointment_id"]
                    return

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, applicants))
    return booked, time.perf_counter() - started


def closed_loop(api: Http, requests: int, concurrency: int, method: str, path: str, rec: Recorder) -> float:
    counter = iter(range(requests))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            status, body, _h, secs = api.request(method, path, {} if method == "POST" else None)
            rec.add("baseline", status, body, secs)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


OVERLOAD_PROCESSES = 4  # senders in several processes: one Python process lags behind its schedule


def overload(base_url: str, applicants: list[dict], release: dict[str, dict], rate: float, seconds: float,
             rec: Recorder, booked: dict[str, str]):
    """Open loop: request i is sent at start + i / rate, whatever the answers so far. The senders run
    in OVERLOAD_PROCESSES processes (request i by process i mod P), so that the client's own GIL
    neither delays sends nor adds to the measured answer times."""
    import multiprocessing
    total = int(rate * seconds)
    by_office = collections.defaultdict(list)
    for sid, s in release.items():
        by_office[s["office_id"]].append(sid)
    senders = min(400, max(32, int(rate * ANSWER_BUDGET_S * 1.5)))
    ctx = multiprocessing.get_context("spawn")
    results, go, start = ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    procs = [ctx.Process(target=_overload_sender, daemon=True,
                         args=(base_url, applicants, dict(by_office), rate, total, p, OVERLOAD_PROCESSES,
                               max(1, senders // OVERLOAD_PROCESSES), results, go, start))
             for p in range(OVERLOAD_PROCESSES)]
    for proc in procs:
        proc.start()
    for _ in procs:
        results.get(timeout=120)  # "ready": imports done, connections not yet opened
    start.value = time.monotonic() + 0.5
    go.set()
    late = []
    for _ in procs:
        rows, proc_late, proc_booked = results.get(timeout=seconds + 120)
        rec.rows.extend(rows)
        late.extend(proc_late)
        booked.update(proc_booked)
    for proc in procs:
        proc.join(10)
    return total, late, senders


class RawHttp:
    """The overload's client: keep-alive HTTP/1.1 over a plain socket per thread, parsing only the
    status line, Content-Length, Content-Type and Retry-After (http.client's header parsing costs
    more CPU than the gateway's answer; at 1,000+ requests/s the client would measure itself)."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        port = urllib.parse.urlparse(base_url).port or 80
        self.address, self.timeout, self.local = ("127.0.0.1", port), timeout, threading.local()

    def post(self, path: str, body: dict, token: str):
        """(status, json body or None, {'Retry-After': ...}, seconds); status 0 = no answer."""
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        started = time.perf_counter()
        try:
            buf = b""
            for attempt in (1, 2):  # a kept-alive connection the server just closed: once more on a new one
                sock, reused = self._sock()
                try:
                    sock.sendall(head + data)
                    while b"\r\n\r\n" not in buf:
                        chunk = sock.recv(65536)
                        if not chunk:
                            raise OSError("closed")
                        buf += chunk
                    break
                except OSError:
                    self._drop()
                    if buf or not reused or attempt == 2:
                        raise
            header_bytes, _, rest = buf.partition(b"\r\n\r\n")
            lines = header_bytes.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("closed")
                rest += chunk
            elapsed = time.perf_counter() - started
            self.local.last = time.monotonic()
            if headers.get("connection", "").lower() == "close":
                self._drop()
            parsed = json.loads(rest[:length]) if length and "json" in headers.get("content-type", "") else None
            extra = {"Retry-After": headers["retry-after"]} if "retry-after" in headers else {}
            return status, parsed, extra, elapsed
        except (OSError, ValueError, IndexError):
            elapsed = time.perf_counter() - started
            self._drop()
            return 0, None, {}, elapsed

    def _sock(self):
        """(socket, whether it was kept alive from an earlier request)."""
        sock, last = getattr(self.local, "sock", None), getattr(self.local, "last", 0.0)
        if sock is not None and time.monotonic() - last <= KEEPALIVE_REUSE_S:
            return sock, True
        self._drop()
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local.sock, self.local.last = sock, time.monotonic()
        return sock, False

    def _drop(self):
        sock = getattr(self.local, "sock", None)
        if sock is not None:
            sock.close()
        self.local.sock = None


def _overload_sender(base_url, applicants, by_office, rate, total, index, procs, threads, results, go, start):
    api, rec, booked, late = RawHttp(base_url), Recorder(), {}, []
    mine = iter(range(index, total, procs))
    lock = threading.Lock()
    results.put("ready")
    go.wait()

    def worker():
        while True:
            with lock:
                i = next(mine, None)
            if i is None:
                return
            wait = start.value + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            late.append(max(0.0, -wait))
            applicant = random.choice(applicants)
            slot_id = random.choice(by_office[applicant["office_id"]])
            status, body, headers, secs = api.post(
                f"/v1/applications/{applicant['application_id']}/appointment", {"slot_id": slot_id},
                applicant["token"])
            rec.add("overload", status, body, secs)
            if status == 201:
                booked[applicant["application_id"]] = body["appointment"]["appointment_id"]
            elif status in (429, 503) and "Retry-After" not in headers:
                rec.add("missing-retry-after", status, body, secs)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    results.put((rec.rows, late, booked))


# -- invariants -------------------------------------------------------------------------------
def invariants(mongo_uri: str, slots: dict[str, dict], applicants: list[dict], booked: dict[str, str]) -> dict:
    db = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)["passport_booking"]
    slot_ids = list(slots)
    capacity = {d["_id"]: d["capacity"] for d in db.slots.find({"_id": {"$in": slot_ids}}, {"capacity": 1})}
    held = collections.Counter()
    beyond = 0
    for seat in db.seats.find({"slot_id": {"$in": slot_ids}}, {"slot_id": 1, "n": 1}):
        held[seat["slot_id"]] += 1
        beyond += seat["n"] >= capacity.get(seat["slot_id"], 0)
    overbooked = sum(max(0, n - capacity.get(sid, 0)) for sid, n in held.items())
    account_ids = [a["account_id"] for a in applicants]
    per_account = collections.Counter(d["account_id"] for d in db.applications.find(
        {"account_id": {"$in": account_ids}}, {"account_id": 1}))
    dup_accounts = sum(1 for n in per_account.values() if n > 1)
    # NIKs are sealed in the account; their uniqueness is one claim document per NIK (its _id a keyed
    # digest) naming the one account: an account holding no claim, or several, is a duplicate
    claims = collections.Counter(d["account_id"] for d in db.nik_claims.find(
        {"account_id": {"$in": account_ids}}, {"account_id": 1}))
    dup_niks = sum(1 for a in account_ids if claims[a] != 1)
    seats_per_app = collections.Counter(d["application_id"] for d in db.seats.find(
        {"slot_id": {"$in": slot_ids}}, {"application_id": 1}))
    stored = {(d["application_id"], d["hold_id"]) for d in db.seats.find(
        {"application_id": {"$in": list(booked)}}, {"application_id": 1, "hold_id": 1})}
    lost = sum(1 for app_id, hold in booked.items() if (app_id, hold) not in stored)
    return {"seats": sum(capacity.values()), "held": sum(held.values()), "overbooked": max(overbooked, beyond),
            "dup_open_apps": dup_accounts, "dup_niks": dup_niks,
            "multi_seat_apps": sum(1 for n in seats_per_app.values() if n > 1), "lost": lost}


# -- brokers' bots (issue 19) ------------------------------------------------------------------
BOT_INTERVAL_S = 0.02  # a bot asks again every 20 ms, whatever Retry-After says
HUMAN_RETRY_CAP_S = 5.0


def bots_rush(api: Http, applicants: list[dict], bots: set[str], release: dict[str, dict], room: bool,
              deadline_s: float = 300.0) -> dict:
    """One thread per applicant, all at once, each wanting one seat of `release` (one office-day).
    People follow Retry-After (and the waiting room's poll advice); bots ask every 20 ms. With `room`
    the office's waiting room is open (set by the caller), and everyone goes through it when booking
    says so (429 waiting-room), as the problem's Link tells a client."""
    office_id = next(iter(release.values()))["office_id"]
    day = next(iter(release.values()))["date"]
    outcome: dict[str, str] = {}
    counts = collections.Counter()
    noticed = {"bot": [], "person": []}  # seconds from admission (the pass's start) to the client's holding it
    lock = threading.Lock()
    go = threading.Barrier(len(applicants))
    end = time.monotonic() + deadline_s
    started, last_booked = time.monotonic(), [0.0]

    def one(a: dict) -> None:
        bot = a["account_id"] in bots
        admission_pass, in_room, slots = None, False, []
        go.wait()

        def pause(headers: dict, advice: float = 1.0) -> None:
            time.sleep(BOT_INTERVAL_S if bot else min(HUMAN_RETRY_CAP_S, float(headers.get("Retry-After") or advice)))

        def count(what: str, status: int) -> None:
            with lock:
                counts[(what, "bot" if bot else "person", status)] += 1

        while time.monotonic() < end:
            if in_room and admission_pass is None:
                status, place, headers, _s = api.request("POST", f"/v1/offices/{office_id}/waiting-room", {}, a["token"])
                count("room", status)
                if status == 200 and place["status"] == "admitted":
                    admission_pass = place["admission_pass"]
                    if place.get("admit_at"):
                        admitted_at = dt.datetime.fromisoformat(place["admit_at"].replace("Z", "+00:00")).timestamp()
                        with lock:
                            noticed["bot" if bot else "person"].append(time.time() - admitted_at)
                    continue
                if status == 200 and place["status"] == "expired":
                    outcome[a["account_id"]] = "pass-expired"
                    return
                if status == 409:  # the room closed: book directly
                    in_room = False
                    continue
                if status == 200 and not bot:  # as the web app does: back at the millisecond the room gives
                    time.sleep(min(HUMAN_RETRY_CAP_S, place.get("poll_after_ms", 1000 * place["poll_after_seconds"]) / 1000))
                else:
                    pause(headers, 1)
                continue
            if not slots:
                status, body, headers, _s = api.request("GET", f"/v1/offices/{office_id}/slots?date={day}&lane=REGULAR")
                count("list", status)
                if status != 200:
                    pause(headers)
                    continue
                slots = [x["slot_id"] for x in body["items"] if x["remaining"] > 0 and x["slot_id"] in release]
                if not slots:
                    outcome[a["account_id"]] = "sold-out"
                    return
                random.shuffle(slots)
            extra = {"X-Admission-Pass": admission_pass} if admission_pass else None
            status, body, headers, _s = api.request("POST", f"/v1/applications/{a['application_id']}/appointment",
                                                    {"slot_id": slots[0]}, a["token"], extra)
            count("book", status)
            slug = slug_of(status, body)
            if status == 201 or slug == "appointment-exists":
                outcome[a["account_id"]] = "booked"
                last_booked[0] = max(last_booked[0], time.monotonic() - started)
                return
            if slug == "waiting-room" or slug == "admission-pass-invalid":
                in_room, admission_pass = True, None
                continue
            if status == 409:  # slot-full (or closed): that time is gone, list again
                slots = []
                continue
            pause(headers)
        outcome.setdefault(a["account_id"], "out-of-time")

    seconds = all_at_once(one, applicants)
    booked = [acc for acc, o in outcome.items() if o == "booked"]
    bot_seats = sum(1 for acc in booked if acc in bots)
    share_seats = bot_seats / len(booked) if booked else 0.0
    share_people = len(bots) / len(applicants)
    return {"seconds": seconds, "sold_out_s": last_booked[0], "booked": len(booked), "bot_seats": bot_seats, "bots": len(bots),
            "people": len(applicants), "ratio": share_seats / share_people if share_people else float("nan"),
            "outcomes": collections.Counter(outcome.values()), "counts": counts, "noticed": noticed,
            "dropped": sum(n for (_w, _who, status), n in counts.items() if status == 0)}


def bots_scenario(api: Http, tokens: dict[str, str], cal, first_day: dt.date, n: int, bot_share: float,
                  seats: int, per_minute: int, draw_seconds: int, jwt_secret: str | None, setup_concurrency: int,
                  mongo_uri: str, cpu=dict) -> tuple[list[str], dict]:
    """The same rush three times on fresh office-days of one office (fresh applicants each): only
    people (the booking-heavy sell-out), then with bots without and with the waiting room. Returns the
    report's lines and the figures the verdict needs. `cpu`: the stack's CPU-seconds by process so
    far (the sell-out's CPU per booking is printed)."""
    office_id = "BTM"
    days = cal.working_days(cal.offices[office_id], first_day, 3)
    lines = [f"-- booking-heavy: {n} people following Retry-After, one thread each, all at once; {seats} seats --"]
    figures, sold_out_rate = {}, 0.0
    for day, (with_bots, room) in zip(days, ((False, False), (True, False), (True, True))):
        if room and per_minute <= 0:  # the pace's ceiling: twice the bookings/s this machine sold out at just
            per_minute = max(60, int(2 * 60 * sold_out_rate))  # before, people only (the room finds the pace below it)
        release = create_release(api, tokens, [(office_id, day)], seats, cal)
        people = setup_applicants(api, n, lambda _i: office_id, jwt_secret, setup_concurrency)
        if len(people) < n:
            print(f"  scenario setup: {len(people)} of {n} applicants ready (failures: {dict(setup_failures)})", flush=True)
        if not people:
            raise RuntimeError(f"no applicant could be set up for the scenario: {dict(setup_failures)}")
        bots = {p["account_id"] for p in random.sample(people, round(len(people) * bot_share))} if with_bots else set()
        if room:
            status, body, _h, _s = api.request("PUT", f"/v1/offices/{office_id}/waiting-room", {
                "active": True, "minutes": 30, "admissions_per_minute": per_minute, "draw_seconds": draw_seconds,
                "reason": "benchmark: brokers' bots"}, tokens[office_id])
            if status != 200:
                raise RuntimeError(f"opening the waiting room failed: {status} {body}")
            time.sleep(2.5)  # every gateway worker reads the switch at most every 2 s
        try:
            # the sampler reads every process's /proc stat: only for the sell-out it measures
            with CpuSampler(cpu) if not with_bots else contextlib.nullcontext() as sampler:
                t_start = time.monotonic()
                r = bots_rush(api, people, bots, release, room)
        finally:
            if room:
                api.request("DELETE", f"/v1/offices/{office_id}/waiting-room", None, tokens[office_id])
        inv = invariants(mongo_uri, release, people, {})
        figures.setdefault("overbooked", 0)
        figures["overbooked"] += inv["overbooked"]
        figures["dropped"] = figures.get("dropped", 0) + r["dropped"]
        figures["undecided"] = figures.get("undecided", 0) + sum(
            v for k, v in r["outcomes"].items() if k not in ("booked", "sold-out"))
        if not with_bots:
            rate = r["booked"] / r["sold_out_s"] if r["sold_out_s"] else 0.0
            figures["sellout_rate"] = sold_out_rate = rate
            cpu_s, own_s, secs = sampler.between(t_start, t_start + r["sold_out_s"])
            cores = os.cpu_count() or 1
            figures["sellout_cpu_ms"] = cpu_s * 1000 / r["booked"] if r["booked"] else 0.0
            figures["sellout_cpu_share"] = (cpu_s / secs / cores, own_s / secs / cores) if secs > 0 else (0.0, 0.0)
            lines += [f"  {'sold out: seats booked / seconds':<42} {r['booked']} / {r['sold_out_s']:.1f} s = "
                      f"{rate:.1f} bookings/s (seats held / offered {inv['held']} / {inv['seats']}, "
                      f"overbooked {inv['overbooked']})",
                      f"  {'dropped connections':<42} {r['dropped']}",
                      "  outcomes: " + ", ".join(f"{k} {v}" for k, v in r["outcomes"].most_common()),
                      f"-- brokers' bots: {n} applicants, {round(n * bot_share)} of them bots asking every "
                      f"{BOT_INTERVAL_S * 1000:.0f} ms; {seats} seats per run --"]
            continue
        pace, moved_line = "", []
        if room:
            store = pymongo.MongoClient(mongo_uri, directConnection=True)["passport_gateway"].waiting_room
            moved = moved_back(store, body["room_id"], bots)
            figures["bots_ratio"], figures["people_moved_back"] = r["ratio"], moved["people"]
            moved_line = [f"  {'moved back (asked early again and again)':<42} bots {moved['bots']} of {len(bots)} "
                          f"({moved['bots_before_draw']} before the draw), people {moved['people']} of "
                          f"{len(people) - len(bots)}"]
            doc = store.find_one({"_id": f"{body['room_id']}|pace"}) or {}
            rates = [h["rate"] for h in doc.get("hist", [])] + ([doc["rate"]] if doc else [])
            if rates:
                pace = (f"; adaptive pace {min(rates) * 60:.0f}-{max(rates) * 60:.0f}/min, "
                        f"mean {sum(rates) / len(rates) * 60:.0f}/min")
        label = (f"with the waiting room (ceiling {per_minute}/min{pace}, draw {draw_seconds} s)" if room
                 else f"without a waiting room ({r['booked'] / r['seconds'] if r['seconds'] else 0:.2f} bookings/s "
                      "over the run)")
        lines += [
            f"{label}:",
            f"  {'bots seats / seats (bots / people)':<42} {r['bot_seats']} / {r['booked']} "
            f"({r['bots']} / {r['people']})",
            f"  {'bots share of seats / share of people':<42} {r['ratio']:.2f}"
            + ("  (target <= 1.1: " + ("met" if r["ratio"] <= 1.1 else "NOT met") + ")" if room else ""),
            *([fair_draw_line(r), *moved_line, noticed_line(r["noticed"])] if room else []),
            f"  {'duration, dropped connections':<42} {r['seconds']:.1f} s, {r['dropped']}",
            f"  {'overbooked seats, seats held / offered':<42} {inv['overbooked']}, {inv['held']} / {inv['seats']}",
            "  outcomes: " + ", ".join(f"{k} {v}" for k, v in r["outcomes"].most_common()),
            "  requests (what, who, status): " + ", ".join(
                f"{w}/{who}/{st} {c}" for (w, who, st), c in sorted(r["counts"].items())),
        ]
    lines += login_burst(api, people)
    return lines, figures


def moved_back(store, room_id: str, bots: set[str]) -> dict[str, int]:
    """Places of the room the gateway moved to the back for asking early again and again: bots (and
    how many before the draw was made, i.e. left out of it) and people (who should be none)."""
    draw = set((store.find_one({"_id": f"{room_id}|draw"}) or {}).get("order", []))
    moved = [d["account"] for d in store.find({"room": room_id, "moved_back": {"$exists": True}}, {"account": 1})]
    return {"bots": sum(a in bots for a in moved), "people": sum(a not in bots for a in moved),
            "bots_before_draw": sum(a in bots and a not in draw for a in moved)}


def noticed_line(noticed: dict[str, list[float]]) -> str:
    """How late after its admission each client held its pass (median / 90th percentile): a lag only
    people have is a head start for the bots among the admitted, near the end of the seats."""
    def quantiles(xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"{1000 * xs[len(xs) // 2]:.0f} / {1000 * xs[int(len(xs) * 0.9)]:.0f} ms ({len(xs)})" if xs else "-")
    return (f"  {'admission noticed after, p50 / p90 (n)':<42} people {quantiles(noticed['person'])}, "
            f"bots {quantiles(noticed['bot'])}")


def fair_draw(people: int, bots: int, seats: int) -> list[float]:
    """P(the bots get k of the seats), k = 0..seats, when `seats` of `people` applicants (`bots` of them
    bots) are chosen at random (hypergeometric): what a perfectly fair room gives, run to run."""
    ways = math.comb(people, seats)
    return [math.comb(bots, k) * math.comb(people - bots, seats - k) / ways for k in range(seats + 1)]


def fair_draw_line(r: dict) -> str:
    """How likely a perfectly fair room is to give what this run gave: with 120 seats the bots' ratio
    of a fair draw varies by ~0.24 (one standard deviation) from run to run."""
    if not r["booked"] or not r["bots"] or r["people"] <= r["booked"]:
        return f"  {'a fair draw':<42} -"
    odds = fair_draw(r["people"], r["bots"], r["booked"])
    share = r["bots"] / r["people"]
    within = sum(p for k, p in enumerate(odds) if k / r["booked"] / share <= 1.1)
    return (f"  {'a fair draw of as many people':<42} gives the bots >= {r['bot_seats']} seats in "
            f"{sum(odds[r['bot_seats']:]):.0%} of runs, a ratio <= 1.1 in {within:.0%}")


def login_burst(api: Http, people: list[dict], n: int = 64) -> list[str]:
    """n applicants sign in at once (one scrypt each, at the bench stack's cost): the gateway's line for
    sign-ins should answer every one (200), none with 503, at what the CPU hashes."""
    chosen = people[:n]
    statuses = collections.Counter()
    go = threading.Barrier(len(chosen))
    load_before = os.getloadavg()[0]

    def one(a: dict) -> None:
        go.wait()
        status, _b, _h, _s = Http(api_base(api)).request("POST", "/v1/auth/token",
                                                         {"email": a["email"], "password": PASSWORD})
        statuses[status] += 1

    seconds = all_at_once(one, chosen)
    ok = statuses.get(200, 0)
    cores = os.cpu_count() or 1
    return [f"-- sign-in burst: {len(chosen)} at once (bench stack's scrypt cost N=2^14 p=1) --",
            f"  {'answers':<42} " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
            f"  {'signed in / s, per core':<42} {ok / seconds:.1f}, {ok / seconds / cores:.1f} "
            f"({cores} cores shared with the stack and the bench; load {load_before:.1f})"]


def api_base(api: Http) -> str:
    return f"http://{api.host}:{api.port}"


# -- baseline server --------------------------------------------------------------------------
def start_baseline(port: int, mongo_uri: str, workers: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, MONGO_URI=mongo_uri,
               PYTHONPATH=f"{REPO}:{REPO / 'libs'}:{REPO / 'gen' / 'python'}")
    log = open(log_path, "ab")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers),
                             "--worker-class", "services.gateway.worker.ArrivalStampedWorker", "--threads", os.environ.get("GATEWAY_THREADS", "8"), "--bind", f"127.0.0.1:{port}",
                             "--timeout", "30", "tests.bench.baseline_app:app"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = Http(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if api.request("GET", "/healthz")[0] == 200:
            return proc
        time.sleep(0.3)
    stop_process(proc)
    raise RuntimeError("the baseline app did not start")


def stop_process(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- report -----------------------------------------------------------------------------------
def summarize(rows, seconds: float) -> dict:
    lat = [r[3] for r in rows if r[1] != 0]
    return {"n": len(rows), "rps": len(rows) / seconds if seconds else 0.0,
            "p50": pct(lat, 50) * 1000, "p95": pct(lat, 95) * 1000, "p99": pct(lat, 99) * 1000,
            "max": (max(lat) * 1000) if lat else float("nan")}


def errors_by_type(rows) -> list[str]:
    counts = collections.Counter((r[0], r[1], r[2]) for r in rows if not 200 <= r[1] < 300)
    return [f"{kind:<8} {status:>3} {slug:<26} {n:>7}" for (kind, status, slug), n in counts.most_common()]


def main(argv=None) -> int:
    e = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--applicants", type=int, default=int(e("BENCH_APPLICANTS", 10000)))
    p.add_argument("--offices", type=int, default=int(e("BENCH_OFFICES", 50)))
    p.add_argument("--seats", type=int, default=int(e("BENCH_SEATS", 60)))
    p.add_argument("--concurrency", type=int, default=int(e("BENCH_CONCURRENCY", 64)))
    p.add_argument("--setup-concurrency", type=int, default=int(e("BENCH_SETUP_CONCURRENCY", 12)))
    p.add_argument("--overload-seconds", type=float, default=float(e("BENCH_OVERLOAD_SECONDS", 20)))
    p.add_argument("--overload-factor", type=float, default=float(e("BENCH_OVERLOAD_FACTOR", 3)))
    p.add_argument("--gateway", help="reuse a running gateway (http://127.0.0.1:PORT) instead of starting a stack")
    p.add_argument("--mongo", help="MONGO_URI of the reused stack (for supervisors and invariants)")
    p.add_argument("--gateway-workers", type=int, default=4, help="gateway workers of a reused stack (baseline uses as many)")
    p.add_argument("--bots-applicants", type=int, default=int(e("BENCH_BOTS_APPLICANTS", 443)),
                   help="people in the brokers' bots scenario (0: skip it)")
    p.add_argument("--bots-share", type=float, default=float(e("BENCH_BOTS_SHARE", 0.1)))
    p.add_argument("--bots-seats", type=int, default=int(e("BENCH_BOTS_SEATS", 120)))
    p.add_argument("--bots-per-minute", type=int, default=int(e("BENCH_BOTS_PER_MINUTE", 0)),
                   help="the waiting room's admissions per minute in the bots scenario (0: twice the bookings/s "
                        "the booking-heavy run, people only, sold out at: what booking does on this machine now)")
    p.add_argument("--bots-draw-seconds", type=int, default=int(e("BENCH_BOTS_DRAW_SECONDS", 20)))
    p.add_argument("--bots-only", action="store_true", help="run only the brokers' bots scenario")
    args = p.parse_args(argv)
    if args.applicants < 1 or args.offices < 1 or args.seats < 1 or args.concurrency < 1:
        p.error("applicants, offices, seats and concurrency must be positive")
    if args.gateway and not args.mongo:
        p.error("--gateway needs --mongo")

    stack, baseline = None, None
    cal = booking_calendar.load()
    try:
        if args.gateway:
            gateway_url, mongo_uri, workers = args.gateway, args.mongo, args.gateway_workers
            env, jwt_secret = dict(os.environ, MONGO_URI=mongo_uri), None
            baseline_port = PORT_BASE + 199  # beyond the bench block
        else:
            stack = start_stack(horizon_days=2)
            gateway_url, env, workers = stack.gateway_url, stack.env(), stack.gateway_workers
            mongo_uri, jwt_secret = env["MONGO_URI"], env["JWT_SECRET"]
            baseline_port = stack.ports.spare
        api = Http(gateway_url)
        sups = ensure_supervisors(env)
        tokens = {}
        for office_id, s in sups.items():
            status, body, _h, _s = api.request("POST", "/v1/auth/token", {"email": s["email"], "password": s["password"]})
            if status != 200:
                raise RuntimeError(f"supervisor login for {office_id} failed: {status} {body}")
            tokens[office_id] = body["access_token"]

        first = dt.date.today() + dt.timedelta(days=7)
        if args.bots_only:
            bots_lines, _figures = bots_scenario(api, tokens, cal, first, args.bots_applicants, args.bots_share,
                                                 args.bots_seats, args.bots_per_minute, args.bots_draw_seconds,
                                                 jwt_secret, args.setup_concurrency, mongo_uri)
            print("\n".join(["brokers' bots benchmark (issue 19)",
                             f"{'machine':<44} {os.cpu_count()} cores, {_mem_gb()} GB RAM; all on one host",
                             *bots_lines]), flush=True)
            return 0
        # releases: the rush's and, later, the overload run's (on the working days after it)
        layout1 = release_layout(args.offices, first, cal)
        after = max(d for _o, d in layout1) + dt.timedelta(days=1)
        layout2 = release_layout(args.offices, after, cal)
        t0 = time.monotonic()
        release1 = create_release(api, tokens, layout1, args.seats, cal)
        weights = collections.Counter()
        for sid, s in release1.items():
            weights[s["office_id"]] += s["capacity"]
        offices_cycle = [o for o, w in sorted(weights.items()) for _ in range(w)]
        print(f"setup: release of {sum(s['capacity'] for s in release1.values())} seats in {len(release1)} slots "
              f"({len(layout1)} office-days); registering {args.applicants} applicants", flush=True)
        applicants = setup_applicants(api, args.applicants, lambda i: offices_cycle[i % len(offices_cycle)],
                                      jwt_secret, args.setup_concurrency)
        setup_s = time.monotonic() - t0
        print(f"setup done in {setup_s:.0f} s: {len(applicants)} applicants with applications; the rush starts"
              + (f" (setup failures: {dict(setup_failures)})" if setup_failures else ""), flush=True)

        rec = Recorder()
        cpu_before, store_before = cpu_seconds(stack), store_commands(stack)
        booked, rush_s = rush(api, applicants, release1, args.concurrency, rec)
        cpu_after, store_after = cpu_seconds(stack), store_commands(stack)
        store = store_after - store_before
        busiest_store = sorted({k[:3] for k in store}, key=lambda k: -store[k + ("s",)])[:int(os.environ.get("BENCH_STORE_ROWS", "10"))]
        rush_cpu = sorted(((name, cpu_after[name] - cpu_before.get(name, 0.0)) for name in cpu_after),
                          key=lambda pair: -pair[1])
        rush_rows = list(rec.rows)
        inv1 = invariants(mongo_uri, release1, applicants, booked)
        print(f"rush done in {rush_s:.1f} s; {len(booked)} bookings", flush=True)

        # the bare baseline: same server, worker class and count, store and client
        base_rec = Recorder()
        if stack is not None:
            log_path = stack.run_dir / "logs" / "baseline.log"
        else:
            log_path = Path(tempfile.gettempdir()) / "passport-bench-baseline.log"
        baseline = start_baseline(baseline_port, mongo_uri, workers, log_path)
        # The platform keeps working after the rush (events, notifications, sweepers); the baseline
        # measures the machine and store, so every process of the bench stack but the store is paused.
        paused = pause_platform(stack)
        try:
            base_s = closed_loop(Http(f"http://127.0.0.1:{baseline_port}"), len(rush_rows), args.concurrency,
                                 "POST", "/insert", base_rec)
            # the booking-heavy scenario's people against the bare app: one thread each, all at once,
            # one booking (= one unique insert) each
            store_group = {pgid: name for pgid, name in stack_groups(stack).items() if name == "ferretdb"} if stack else {}
            base_sellout, base_cpu_ms = bare_sellout(f"http://127.0.0.1:{baseline_port}", args.bots_applicants,
                                                     {baseline.pid: "bare app", **store_group})
        finally:
            resume_platform(paused)
        stop_process(baseline)
        baseline = None

        # overload: a second release, open loop at FACTOR x the sustained rate of answered requests
        release2 = create_release(api, tokens, layout2, args.seats, cal)
        served = [r for r in rush_rows if r[1] not in (0, 429, 503)]
        sustainable = len(served) / rush_s
        rate = args.overload_factor * sustainable
        waiting = [a for a in applicants if a["application_id"] not in booked] or applicants
        over_rec, booked2 = Recorder(), {}
        print(f"overload: {rate:.0f} req/s for {args.overload_seconds:.0f} s "
              f"({len(waiting)} applicants without a seat)", flush=True)
        trace = AdmissionTrace(gateway_url)
        trace.start()
        cpu_before, senders_before = cpu_seconds(stack), _children_cpu()
        try:
            total, late, senders = overload(gateway_url, waiting, release2, rate, args.overload_seconds, over_rec, booked2)
        finally:
            trace.stop()
        over_cpu = sorted(((name, secs - cpu_before.get(name, 0.0)) for name, secs in cpu_seconds(stack).items()),
                          key=lambda pair: -pair[1]) + [("the bench's senders", _children_cpu() - senders_before)]
        over_rows = [r for r in over_rec.rows if r[0] == "overload"]
        missing_ra = sum(1 for r in over_rec.rows if r[0] == "missing-retry-after")
        all_booked = dict(booked, **booked2)
        inv2 = invariants(mongo_uri, dict(release1, **release2), applicants, all_booked)
        bots_lines, bots = [], {}
        if args.bots_applicants > 0:  # on the working days after the overload's release
            print("booking-heavy and brokers' bots scenarios", flush=True)
            bots_lines, bots = bots_scenario(api, tokens, cal, max(d for _o, d in layout2) + dt.timedelta(days=1),
                                             args.bots_applicants, args.bots_share, args.bots_seats,
                                             args.bots_per_minute, args.bots_draw_seconds, jwt_secret,
                                             args.setup_concurrency, mongo_uri, lambda: cpu_seconds(stack))

        print("idle cost and store round trips per booking", flush=True)
        idle = idle_cost(stack)
        probe = round_trips_per_booking(api, tokens, cal, stack, applicants, all_booked,
                                        max(d for _o, d in layout2) + dt.timedelta(days=14),
                                        idle.get("store_per_s", {}), idle.get("by_process", []))

        # -- the table ------------------------------------------------------------------------
        rs, bs, os_ = summarize(rush_rows, rush_s), summarize(base_rec.rows, base_s), summarize(over_rows, args.overload_seconds)
        ok_over = sum(1 for r in over_rows if r[1] != 0 and r[3] <= ANSWER_BUDGET_S)
        slow = sum(1 for r in over_rows if r[1] != 0 and r[3] > ANSWER_BUDGET_S)
        unanswered = sum(1 for r in over_rows if r[1] == 0) + (total - len(over_rows))
        status_mix = collections.Counter(f"{r[1]} {r[2]}" if r[1] >= 300 or r[1] == 0 else str(r[1]) for r in over_rows)
        ratio = rs["rps"] / bs["rps"] if bs["rps"] else float("nan")
        served_rps = sum(1 for r in rush_rows if r[1] not in (0, 429, 503)) / rush_s
        served_ratio = served_rps / bs["rps"] if bs["rps"] else float("nan")
        w = 44
        lines = [
            "release rush benchmark",
            f"{'machine':<{w}} {os.cpu_count()} cores, {_mem_gb()} GB RAM, FerretDB (SQLite) store, Kafka; all on one host",
            f"{'stack':<{w}} gateway gunicorn gthread (arrival-stamped) x{workers} workers x{os.environ.get('GATEWAY_THREADS', '8')} threads, booking x2 replicas",
            f"{'applicants (with accounts and applications)':<{w}} {len(applicants)}",
            f"{'release':<{w}} {args.offices} offices x {args.seats} seats = {sum(s['capacity'] for s in release1.values())} seats",
            f"{'client':<{w}} closed loop, {args.concurrency} threads, keep-alive",
            f"{'setup (not measured)':<{w}} {setup_s:.0f} s",
            "-- rush (measured) --",
            f"{'duration':<{w}} {rush_s:.1f} s",
            f"{'requests (list slots + book)':<{w}} {rs['n']}",
            f"{'requests/s':<{w}} {rs['rps']:.1f}",
            f"{'served requests/s (not shed: no 429/503)':<{w}} {served_rps:.1f}",
            f"{'bookings':<{w}} {len(booked)}",
            f"{'bookings/s':<{w}} {len(booked) / rush_s:.1f}",
            f"{'latency p50 / p95 / p99 / max (ms)':<{w}} {rs['p50']:.0f} / {rs['p95']:.0f} / {rs['p99']:.0f} / {rs['max']:.0f}",
            f"{'book latency p50 / p95 / p99 (ms)':<{w}} " + " / ".join(
                f"{pct([r[3] for r in rush_rows if r[0] == 'book' and r[1]], q) * 1000:.0f}" for q in (50, 95, 99)),
            "errors by type (phase, status, problem type, count):",
            *(["  " + line for line in errors_by_type(rush_rows)] or ["  none"]),
            f"{'CPU seconds in the rush, by process':<{w}} "
            + (", ".join(f"{name} {secs:.0f}" for name, secs in rush_cpu if secs >= 0.5) or "n/a (reused stack)"),
            "store round trips in the rush (service, command, collection: count, total seconds), busiest first:",
            *([f"  {svc:<12} {cmd:<10} {coll:<24} {store[(svc, cmd, coll, 'n')]:>8.0f} {store[(svc, cmd, coll, 's')]:>8.1f}"
               for svc, cmd, coll in busiest_store] or ["  n/a (reused stack)"]),
            "-- invariants (read from the store) --",
            f"{'seats held / offered (rush release)':<{w}} {inv1['held']} / {inv1['seats']}",
            f"{'overbooked seats':<{w}} {inv2['overbooked']}",
            f"{'duplicate open applications per NIK':<{w}} {inv2['dup_open_apps']}",
            f"{'duplicate NIKs':<{w}} {inv2['dup_niks']}",
            f"{'applications holding >1 seat':<{w}} {inv2['multi_seat_apps']}",
            f"{'lost bookings (201 without a seat)':<{w}} {inv2['lost']}",
            "-- bare baseline (Flask + one unique insert, same server/store/client; platform paused) --",
            f"{'requests':<{w}} {bs['n']}",
            f"{'requests/s':<{w}} {bs['rps']:.1f}",
            f"{'latency p50 / p95 / p99 (ms)':<{w}} {bs['p50']:.0f} / {bs['p95']:.0f} / {bs['p99']:.0f}",
            f"{'non-2xx answers':<{w}} {sum(1 for r in base_rec.rows if not 200 <= r[1] < 300)}",
            f"{'rush requests/s as a ratio of the baseline':<{w}} {ratio:.2f}",
            f"{'served requests/s as a ratio of the baseline':<{w}} {served_ratio:.2f}  "
            f"(target >= 0.5: {'met' if served_ratio >= 0.5 else 'NOT met'}; shed answers do not count)",
            f"-- overload (open loop, {args.overload_factor:g}x the sustained {sustainable:.1f} req/s) --",
            f"{'offered rate / duration':<{w}} {rate:.0f} req/s for {args.overload_seconds:.0f} s ({total} requests, {senders} senders)",
            f"{'client send lag p99 (ms)':<{w}} {pct(late, 99) * 1000:.0f}",
            f"{'answered within 2 s':<{w}} {ok_over}",
            f"{'answered after more than 2 s':<{w}} {slow}"
            + (" (" + ", ".join(f"{k}: {n}" for k, n in collections.Counter(
                f"{r[1]} {r[2]}" for r in over_rows if r[1] != 0 and r[3] > ANSWER_BUDGET_S).most_common()) + ")" if slow else ""),
            f"{'no answer':<{w}} {unanswered}",
            f"{'429/503 without Retry-After':<{w}} {missing_ra}",
            f"{'latency p50 / p95 / p99 / max (ms)':<{w}} {os_['p50']:.0f} / {os_['p95']:.0f} / {os_['p99']:.0f} / {os_['max']:.0f}",
            f"{'bookings during overload':<{w}} {len(booked2)}",
            f"{'CPU seconds in the overload, by process':<{w}} "
            + ", ".join(f"{name} {secs:.0f}" for name, secs in over_cpu if secs >= 0.5)
            + f" (of {os.cpu_count() or 1} cores x {args.overload_seconds:.0f} s)",
            *trace.lines(w),
            "answers:",
            *[f"  {k:<40} {n:>7}" for k, n in status_mix.most_common()],
            *bots_lines,
            *cost_lines(idle, probe, store, len(booked), w),
            *cpu_per_booking_lines(probe.get("cpu_ms", {}), bots, base_sellout, base_cpu_ms, w),
            *issue19_verdict(w, bots, base_sellout, len(booked2) / args.overload_seconds, len(booked) / rush_s,
                             slow, unanswered, missing_ra, inv2, idle,
                             dropped=sum(1 for r in rush_rows if r[1] == 0) + bots.get("dropped", 0)),
        ]
        print("\n".join(lines), flush=True)
        return 0
    finally:
        if baseline is not None:
            stop_process(baseline)
        if stack is not None:
            stack.down()
            if os.environ.get("KEEP_BENCH_RUN_DIR"):
                print(f"bench run directory kept: {stack.run_dir}")
            else:
                shutil.rmtree(stack.run_dir, ignore_errors=True)


class AdmissionTrace:
    """The gateway's adaptive admission limit (summed over its workers) and its booking answers,
    scraped from its /metrics every PERIOD_S while the overload runs: why the overload books what
    it books (the limit, the booking answers per second by outcome, their mean time)."""

    PERIOD_S = 2.0
    LINE = re.compile(r'^(gateway_admission_limit|gateway_booking_duration_seconds_(?:count|sum))(\{[^}]*\})? ([0-9.e+-]+)$')

    def __init__(self, base_url: str):
        self.url, self.samples, self._stop = f"{base_url}/metrics", [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        self._sample()

    def _run(self):
        while not self._stop.wait(0 if not self.samples else self.PERIOD_S):
            self._sample()

    def _sample(self):
        try:
            text = urllib.request.urlopen(self.url, timeout=5).read().decode()
        except OSError:
            return
        limit, count, total = 0.0, collections.Counter(), collections.Counter()
        for line in text.splitlines():
            m = self.LINE.match(line)
            if not m:
                continue
            outcome = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")).get("outcome", "")
            if m.group(1) == "gateway_admission_limit":
                limit += float(m.group(3))
            elif m.group(1).endswith("_count"):
                count[outcome] += float(m.group(3))
            else:
                total[outcome] += float(m.group(3))
        self.samples.append((time.monotonic(), limit, count, total))

    def lines(self, w: int) -> list[str]:
        if len(self.samples) < 2:
            return [f"{'admission trace':<{w}} no samples"]
        t0, rows = self.samples[0][0], []
        for (ta, _la, ca, sa), (tb, lb, cb, sb) in zip(self.samples, self.samples[1:]):
            n = {k: cb[k] - ca[k] for k in ("success", "refused", "error")}
            mean = (sb["success"] - sa["success"]) / n["success"] * 1000 if n["success"] else 0.0
            rows.append(f"  {tb - t0:5.1f} s  limit {lb:4.0f}  booking answers 2xx {n['success']:4.0f} "
                        f"(mean {mean:5.0f} ms), 4xx {n['refused']:4.0f}, 5xx incl. shed {n['error']:5.0f}")
        return [f"admission trace (gateway limit summed over workers, at start {self.samples[0][1]:.0f}):", *rows]


IDLE_SETTLE_S, IDLE_WINDOW_S = 20.0, 60.0


def idle_cost(stack) -> dict:
    """After everything, IDLE_SETTLE_S then two windows of IDLE_WINDOW_S without client traffic: the
    stack's CPU (% of one core, by process), store round trips per second and the busiest commands.
    The first window still holds the tail of the run's reactions (the seat reaper reads the seats held
    in its last windows, 10-25 s behind the clock, every 30 s; the quota gauges recount once a minute
    after seats changed): each a scan of every seat on FerretDB 1.24. The second is the idle cost the
    target is about; both are printed."""
    if stack is None:
        return {}
    time.sleep(IDLE_SETTLE_S)
    tail = idle_window(stack)
    return dict(idle_window(stack), tail=tail)


def idle_window(stack) -> dict:
    cpu0, store0, t0 = cpu_seconds(stack), store_commands(stack), time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    cpu1, store1, seconds = cpu_seconds(stack), store_commands(stack), time.monotonic() - t0
    cpu = {name: (cpu1[name] - cpu0.get(name, 0.0)) / seconds * 100 for name in cpu1}
    store = store1 - store0
    busiest = sorted({k[:3] for k in store}, key=lambda k: -store[k + ("s",)])[:8]
    return {"cpu_pct": sum(cpu.values()), "by_process": sorted(cpu.items(), key=lambda kv: -kv[1]),
            "store_per_s": per_service(store, seconds),
            "busiest": [(k, store[k + ("n",)] / seconds, store[k + ("s",)] / seconds * 1000) for k in busiest]}


def per_service(store: collections.Counter, divisor: float) -> dict[str, float]:
    """Store round trips per service (booking replicas summed) divided by `divisor`."""
    out = collections.Counter()
    for (service, _cmd, _coll, kind), n in store.items():
        if kind == "n":
            out[service] += n / divisor
    return dict(out)


def round_trips_per_booking(api: Http, tokens: dict[str, str], cal, stack, applicants: list[dict], booked: dict,
                            first_day: dt.date, background: dict[str, float], idle_cpu_pct: list[tuple[str, float]],
                            n: int = 20, settle_s: float = 10.0) -> dict:
    """n applicants still without a seat book one seat each, one after another, on an otherwise quiet
    platform; the store round trips of every service, per booking: while the bookings were answered,
    and with what reacted to them in the next settle_s (events, billing, notifications); and the CPU
    milliseconds per booking of each process, reactions included. The idle background
    (`background`, round trips per second; `idle_cpu_pct`, % of a core by process) is subtracted."""
    if stack is None:
        return {}
    waiting = collections.defaultdict(list)
    for a in applicants:
        if a["application_id"] not in booked:
            waiting[a["office_id"]].append(a)
    office_id, people = max(waiting.items(), key=lambda kv: len(kv[1]))
    people = people[:n]
    day = cal.working_days(cal.offices[office_id], first_day, 1)[0]
    slots = sorted(create_release(api, tokens, [(office_id, day)], len(people), cal))
    store0, cpu0, t0, done = store_commands(stack), cpu_seconds(stack), time.monotonic(), 0
    for a in people:
        for slot_id in slots:
            status, body = book_with_retries(api, Recorder(), a, slot_id)
            if status == 201:
                done += 1
                break
    store1, t1 = store_commands(stack), time.monotonic()
    time.sleep(settle_s)
    store2, cpu2, t2 = store_commands(stack), cpu_seconds(stack), time.monotonic()
    if not done:
        return {}
    idle_cpu = dict(idle_cpu_pct)
    cpu_ms = {name: max(0.0, secs - cpu0.get(name, 0.0) - idle_cpu.get(name, 0.0) / 100 * (t2 - t0)) * 1000 / done
              for name, secs in cpu2.items()}

    def net(store, seconds):
        return {svc: max(0.0, k - background.get(svc, 0.0) * seconds) / done
                for svc, k in per_service(store, 1).items()}

    return {"bookings": done, "answered": net(store1 - store0, t1 - t0), "with_reactions": net(store2 - store0, t2 - t0),
            "cpu_ms": {name: ms for name, ms in cpu_ms.items() if ms >= 0.05}}


def cost_lines(idle: dict, probe: dict, rush_store: collections.Counter, rush_bookings: int, w: int) -> list[str]:
    if not idle:
        return ["-- idle cost, store round trips per booking: n/a (reused stack) --"]
    services = sorted(set(probe.get("with_reactions", {})) | set(idle["store_per_s"]))
    rush = per_service(rush_store, max(1, rush_bookings))
    start, tail = IDLE_SETTLE_S + IDLE_WINDOW_S, idle["tail"]
    lines = [f"-- idle cost (after the run: {IDLE_SETTLE_S:.0f} s to settle, {IDLE_WINDOW_S:.0f} s of the run's last "
             f"reactions, then {IDLE_WINDOW_S:.0f} s without traffic) --",
             f"{f'tail: stack CPU {IDLE_SETTLE_S:.0f}-{start:.0f} s after the run':<{w}} {tail['cpu_pct']:.1f}  ("
             + ", ".join(f"{name} {pct_:.1f}" for name, pct_ in tail["by_process"] if pct_ >= 0.05) + ")",
             "  its busiest store commands: " + "; ".join(
                 f"{svc} {cmd} {coll} {n:.2f}/s {ms:.1f} ms/s" for (svc, cmd, coll), n, ms in tail["busiest"][:3]),
             f"{'idle stack CPU, % of one core':<{w}} {idle['cpu_pct']:.1f}  ("
             + ", ".join(f"{name} {pct_:.1f}" for name, pct_ in idle["by_process"] if pct_ >= 0.05) + ")",
             f"{'idle store round trips / s, by service':<{w}} "
             + ", ".join(f"{svc} {idle['store_per_s'].get(svc, 0):.1f}" for svc in services),
             "  busiest idle store commands (service, command, collection: per second, ms waited per second):",
             *[f"    {svc:<12} {cmd:<10} {coll:<24} {n:>6.2f} {ms:>8.1f}" for (svc, cmd, coll), n, ms in idle["busiest"]],
             f"-- store round trips per booking ({probe.get('bookings', 0)} bookings one after another on the quiet "
             "platform, idle background subtracted) --",
             f"  {'service':<20} {'answering':>10} {'+ reactions':>12} {'rush (all requests / bookings)':>32}"]
    for svc in services:
        lines.append(f"  {svc:<20} {probe.get('answered', {}).get(svc, 0):>10.1f} "
                     f"{probe.get('with_reactions', {}).get(svc, 0):>12.1f} {rush.get(svc, 0):>32.1f}")
    lines.append(f"  {'all':<20} {sum(probe.get('answered', {}).values()):>10.1f} "
                 f"{sum(probe.get('with_reactions', {}).values()):>12.1f} {sum(rush.values()):>32.1f}")
    return lines


def cpu_per_booking_lines(cpu_ms: dict[str, float], bots: dict, base_sellout: float, base_cpu_ms: float,
                          w: int) -> list[str]:
    """What a booking costs the machine, against one insert of the bare app. The sell-out runs with
    the cores nearly full, so its rate is about cores / its CPU per booking: the sell-out ratio only
    rises as the CPU per booking falls."""
    if not cpu_ms or not bots.get("sellout_cpu_ms"):
        return []
    cores, sellout_ms = os.cpu_count() or 1, bots["sellout_cpu_ms"]
    return ["-- CPU per booking (all of the stack's processes) --",
            f"{'one booking alone, reactions included (ms)':<{w}} {sum(cpu_ms.values()):.1f}  ("
            + ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(cpu_ms.items(), key=lambda kv: -kv[1])) + ")",
            f"{'in the booking-heavy sell-out (ms)':<{w}} {sellout_ms:.1f}  (until the last seat, the sold-out answers "
            f"included; the stack used {bots['sellout_cpu_share'][0]:.0%} of the {cores} cores, the bench's clients "
            f"{bots['sellout_cpu_share'][1]:.0%})",
            f"{'the bare app, per insert (ms)':<{w}} {base_cpu_ms:.1f}  (app + store, the same people, platform paused)",
            f"{f'bookings/s {cores} cores allow at the sell-out cost':<{w}} {cores * 1000 / sellout_ms:.1f}  = "
            f"{cores * 1000 / sellout_ms / base_sellout:.2f} of the bare app's {base_sellout:.1f}/s (a ratio of 0.6 "
            f"needs <= {cores * 1000 / (0.6 * base_sellout):.1f} ms per booking)"]


def issue19_verdict(w: int, bots: dict, base_sellout: float, overload_bps: float, rush_bps: float, slow: int,
                    unanswered: int, missing_ra: int, inv: dict, idle: dict, dropped: int) -> list[str]:
    """Issue 19's targets, each with its figure, and one verdict naming what is not met."""
    sellout = bots.get("sellout_rate", float("nan"))
    checks = [
        ("sell-out rate / bare baseline's (booking-heavy)",
         f"{sellout:.1f} / {base_sellout:.1f} bookings/s = {sellout / base_sellout:.2f}" if base_sellout else "n/a",
         ">= 0.6", bool(base_sellout) and sellout / base_sellout >= 0.6),
        ("bots' share of seats / of people (room); people moved back",
         f"{bots.get('bots_ratio', float('nan')):.2f}; {bots.get('people_moved_back', 'n/a')}", "<= 1.1; 0",
         bots.get("bots_ratio", 99) <= 1.1 and bots.get("people_moved_back") == 0),
        ("dropped connections (rush, scenarios)", str(dropped + unanswered), "0", dropped + unanswered == 0),
        ("people without 201 or a definitive 409", str(bots.get("undecided", "n/a")), "0", bots.get("undecided") == 0),
        ("overload: > 2 s, no answer, no Retry-After", f"{slow}, {unanswered}, {missing_ra}", "0, 0, 0",
         slow == unanswered == missing_ra == 0),
        ("bookings/s in overload / in the rush", f"{overload_bps:.1f} / {rush_bps:.1f} = {overload_bps / rush_bps:.2f}",
         ">= 0.8", overload_bps / rush_bps >= 0.8),
        ("overbooked, duplicates, lost",
         str(sum(inv[k] for k in ("overbooked", "dup_open_apps", "dup_niks", "multi_seat_apps", "lost"))
             + bots.get("overbooked", 0)), "0",
         not any(inv[k] for k in ("overbooked", "dup_open_apps", "dup_niks", "multi_seat_apps", "lost"))
         and not bots.get("overbooked")),
        (f"idle stack CPU, % of one core ({IDLE_SETTLE_S + IDLE_WINDOW_S:.0f}-"
         f"{IDLE_SETTLE_S + 2 * IDLE_WINDOW_S:.0f} s after)", f"{idle.get('cpu_pct', float('nan')):.1f}", "<= 5",
         idle.get("cpu_pct", 99) <= 5),
    ]
    lines = ["-- issue 19's targets --"]
    lines += [f"{name:<{w}} {figure}  (target {target}: {'met' if ok else 'NOT met'})" for name, figure, target, ok in checks]
    missed = [name for name, _f, _t, ok in checks if not ok]
    lines.append(f"{'verdict':<{w}} " + ("all targets met" if not missed else "NOT met: " + "; ".join(missed)))
    return lines


def stack_groups(stack) -> dict[int, str]:
    """Process group id -> name of every process the stack started (each is its own group)."""
    groups = {}
    for pidfile in (stack.run_dir / "pids").glob("*.pid"):
        try:
            groups[int(pidfile.read_text())] = pidfile.stem
        except ValueError:
            continue
    return groups


def pause_platform(stack) -> list[int]:
    """SIGSTOP every process group of the stack except the store; returns what to resume."""
    if stack is None:
        return []
    paused = [pgid for pgid, name in stack_groups(stack).items() if name != "ferretdb"]
    for pgid in paused:
        try:
            os.killpg(pgid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    return paused


def resume_platform(paused: list[int]) -> None:
    """SIGCONT the paused groups, each group's members before its leader: gunicorn's master (the
    gateway group's leader) takes workers whose heartbeat is older than its 30 s timeout for hung and
    restarts them all, so after a pause longer than that (the baseline at the default scale) the
    workers must run and beat first, or the next phase meets freshly booted workers."""
    members = [pid for pid, pgid in _process_groups().items() if pgid in paused and pid != pgid]
    for pid in members:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    if members:
        time.sleep(2.0)  # a gthread worker beats at least once a second
    for pgid in paused:
        try:
            os.killpg(pgid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _proc_stats():
    """(pid, the fields of /proc/<pid>/stat after "pid (comm)": state, ppid, pgrp, ...) of every process."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue


def _process_groups() -> dict[int, int]:
    """pid -> process group id of every process."""
    return {pid: int(fields[2]) for pid, fields in _proc_stats()}


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the overload's sender processes)."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(stack) -> dict[str, float]:
    """CPU time (user + system) so far of each process of the stack, children included: every
    process is started as its own process group, so sum /proc/*/stat over the group."""
    return groups_cpu(stack_groups(stack)) if stack is not None else {}


class CpuSampler:
    """The stack's total CPU-seconds and the bench's own, sampled every `every_s` in a thread, to read
    the CPU spent between two moments of a run (to the sample's resolution)."""

    def __init__(self, read, every_s: float = 0.2):
        self.read, self.every_s, self.samples, self._stop = read, every_s, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), sum(self.read().values()), time.process_time()))
            if self._stop.wait(self.every_s):
                return

    def between(self, t0: float, t1: float) -> tuple[float, float, float]:
        """The stack's CPU-seconds, the bench's and the seconds between the samples nearest to t0 and t1."""
        first = min(self.samples, key=lambda s: abs(s[0] - t0))
        last = min(self.samples, key=lambda s: abs(s[0] - t1))
        return last[1] - first[1], last[2] - first[2], last[0] - first[0]


def groups_cpu(groups: dict[int, str]) -> dict[str, float]:
    """CPU time (user + system) so far of these process groups (id -> name), by name."""
    tick = os.sysconf("SC_CLK_TCK")
    out = collections.Counter()
    for _pid, fields in _proc_stats():
        pgid = int(fields[2])
        if pgid in groups:
            out[groups[pgid]] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return dict(out)


def store_commands(stack) -> collections.Counter:
    """(process, command, collection) -> [count, seconds] of store round trips so far, scraped from
    every service's /metrics (mongodb_client_commands_total / _command_seconds_sum)."""
    out = collections.Counter()
    if stack is None:
        return out
    from deploy.local.stack import SERVICES
    line_re = re.compile(r'^(mongodb_client_commands_total|mongodb_client_command_seconds_sum)\{([^}]*)\} ([0-9.e+-]+)$')
    for service in SERVICES:
        for replica in range(stack.ports.booking_replicas if service == "booking" else 1):
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.metrics(service, replica)}/metrics",
                                              timeout=5).read().decode()
            except OSError:
                continue
            for line in text.splitlines():
                m = line_re.match(line)
                if not m:
                    continue
                labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
                key = (service, labels.get("command", ""), labels.get("collection", ""))
                out[key + ("n" if m.group(1).endswith("_total") else "s",)] += float(m.group(3))
    return out


def _mem_gb() -> int:
    try:
        kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        return round(kb / 2**20)
    except (OSError, StopIteration, ValueError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
