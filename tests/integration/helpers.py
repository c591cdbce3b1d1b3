"""What many stack tests need, in one place: polling, an applicant with an application or a
booking, paying like the bank, reading the mail and SMS sinks, a service's metric, the scan of the
store's files for personal data in clear, and the browser tests' tools. Test modules import from here, never from each other."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import mailbox
import os
import re
import time
import urllib.request
import uuid
from email.header import decode_header, make_header

from deploy.local.stack import CACHE, LOCAL_SECRETS, OFFICE_SUPERVISORS
from servicekit.clock import rfc3339
from services.booking.domain import calendar

# axe-core, installed by `make provision-web`, for the accessibility checks of the browser tests.
AXE = CACHE / "tools" / "axe-core-4.14.1" / "node_modules" / "axe-core" / "axe.min.js"


# -- personal data in the store's files ---------------------------------------------------------
def store_files(stack) -> list:
    """The local store's files on disk: FerretDB's SQLite databases (and their -wal journals)."""
    return sorted(p for p in (stack.run_dir / "data" / "ferretdb").rglob("*") if p.is_file())


def clear_forms(value: bytes | str) -> list[bytes]:
    """How `value` would show in a store file: as is, or inside a base64 string (FerretDB keeps
    binary fields, such as an event's bytes, as base64 in its JSON), at any of the 3 alignments."""
    raw = value.encode() if isinstance(value, str) else value
    forms = [raw]
    for shift in range(3):
        part = raw[shift:]
        part = part[:len(part) // 3 * 3]
        if len(part) >= 9:
            forms.append(base64.b64encode(part))
    return forms


def found_in_store(stack, values: dict) -> dict[str, list[str]]:
    """{name: [file, ...]} for each of `values` ({name: text or bytes}) seen in a store file."""
    found: dict[str, list[str]] = {}
    for path in store_files(stack):
        blob = path.read_bytes()
        for name, value in values.items():
            if any(form in blob for form in clear_forms(value)):
                found.setdefault(name, []).append(path.name)
    return found


# -- waiting ----------------------------------------------------------------------------------
def wait_for(predicate, timeout_s: float = 45, interval_s: float = 0.5):
    """The first truthy value of `predicate` within the time, else its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return predicate()


def eventually(check, timeout_s: float = 90, interval_s: float = 0.5):
    """Poll until `check()` returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s}s; last value {value!r}")
        time.sleep(interval_s)


# -- applicants, bookings, payments ------------------------------------------------------------
def applicant_with_application(api, office_id: str = "TBK"):
    person = api.register_applicant()
    reply = api.create_application(person["token"], office_id=office_id)
    assert reply.status == 201, reply.body
    return person, reply.body["application_id"]


def booked_applicant(api, skip_days: int = 6, office_id: str = "TBK"):
    """An applicant whose application holds a seat; returns (person, application id, booking body)."""
    person, app_id = applicant_with_application(api, office_id)
    slot = api.first_working_slot(office_id, "REGULAR", skip_days=skip_days)
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert reply.status == 201, reply.body
    return person, app_id, reply.body


def book_for(api, person, skip_days: int = 3) -> str:
    """A new application of `person`, booked; returns its id."""
    created = api.create_application(person["token"])
    assert created.status == 201, created.body
    app_id = created.body["application_id"]
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=skip_days)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    return app_id


def pay(api, billing: dict, reference: str, paid_at: str | None = None):
    """The bank's signed payment notification for `billing`, as the local bank would send it."""
    body = json.dumps({"billing_code": billing["billing_code"], "amount": billing["amount"],
                       "paid_at": paid_at or rfc3339(dt.datetime.now(dt.timezone.utc)),
                       "bank_reference": reference}).encode()
    signature = hmac.new(LOCAL_SECRETS["BANK_CALLBACK_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    return api.request("POST", "/v1/payments/notifications", raw=body, headers={"X-Signature": f"sha256={signature}"})


def status_of(api, person, app_id):
    return api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"]


class NoBilling:
    """A payment client for in-process use cases that must never bill (check-in, issue)."""

    def IssueBilling(self, request):
        raise AssertionError("not expected")


def dedicated_dates(api, count: int) -> list[str]:
    """Working days near the end of the slot horizon that the other tests leave alone."""
    days, day = [], dt.date.today() + dt.timedelta(days=11)
    for _ in range(40):
        if api.get(f"/v1/offices/TBK/slots?date={day}&lane=REGULAR").body["items"]:
            days.append(day.isoformat())
            if len(days) == count:
                return days
        day += dt.timedelta(days=1)
    raise AssertionError(f"fewer than {count} working days with slots after {dt.date.today() + dt.timedelta(days=11)}")


def next_working_morning(office_id: str = "TBK") -> dt.datetime:
    """08:30 of the office's next working day, in its time zone (a stack's shifted clock starts there)."""
    cal = calendar.load()
    office = cal.offices[office_id]
    day = dt.datetime.now(office.tz).date() + dt.timedelta(days=1)
    while not cal.is_working_day(office, day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8, 30), office.tz)


# -- the waiting room in front of booking ------------------------------------------------------
def supervisor_of(api, office_id: str) -> str:
    """A token of the office's demo head of office (seeded by every stack)."""
    staff = next(s for s in OFFICE_SUPERVISORS if s["office_id"] == office_id)
    return api.login(staff["email"], staff["password"])


def open_waiting_room(api, token: str, office_id: str, per_minute: int, draw_seconds: int, minutes: int = 10) -> dict:
    reply = api.put(f"/v1/offices/{office_id}/waiting-room", {
        "active": True, "minutes": minutes, "admissions_per_minute": per_minute, "draw_seconds": draw_seconds,
        "reason": "integration test"}, token=token)
    assert reply.status == 200 and reply.body["active"], reply.body
    time.sleep(2.5)  # every gateway worker reads the switch at most every 2 s
    return reply.body


def close_waiting_room(api, token: str, office_id: str) -> None:
    """Remove the switch, and wait out the other gateway workers' 2 s cache of it."""
    assert api.delete(f"/v1/offices/{office_id}/waiting-room", token=token).status == 204
    time.sleep(2.5)


# -- what the platform sent --------------------------------------------------------------------
def mails_to(stack, address: str) -> list[dict]:
    box = mailbox.Maildir(str(stack.run_dir / "mail"), create=True)
    out = []
    for msg in box:
        if msg["To"] == address:
            out.append({"subject": str(make_header(decode_header(msg["Subject"]))),
                        "body": msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8"),
                        "message_id": msg["Message-ID"]})
    return out


def sms_to(stack, phone: str) -> list[dict]:
    path = stack.run_dir / "sms.jsonl"
    if not path.exists():
        return []
    return [r for r in map(json.loads, path.read_text().splitlines()) if r["to"] == phone]


def delivery_log(api, person, app_id, restarting: bool = False) -> list[dict]:
    """The applicant's delivery log; while a service is being restarted on purpose, its 503
    (with Retry-After) is an answer to wait through, not a failure."""
    reply = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"])
    if restarting and reply.status == 503:
        return []
    assert reply.status == 200, reply.body
    return reply.body["items"]


def metric(stack, service: str, name: str, replica: int = 0, **labels) -> float:
    """The sum of a metric's samples whose labels include exactly these values, scraped from one
    service process."""
    url = f"http://127.0.0.1:{stack.ports.metrics(service, replica)}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- HTTP bodies -----------------------------------------------------------------------------------
def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """A multipart/form-data body: `fields` name -> text, `files` name -> (filename, bytes, type)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, ctype) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# -- the browser ---------------------------------------------------------------------------------
def chromium(window: str = "1280,900"):
    """Debian's headless Chromium through chromedriver (both from `make provision-web`), in Indonesian."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}",
                "--disable-gpu", "--lang=id-ID"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


def serious_accessibility_violations(driver) -> list[str]:
    """axe-core's serious and critical WCAG violations on the page the browser shows.

    A form post's answer can replace the page while axe runs: its callback is then lost with the old
    page and the script times out. That is a race of the test, not a finding, so the check waits for
    the new page to load and runs again on it."""
    from selenium.common.exceptions import TimeoutException
    attempts_left = 3
    while True:
        wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, 0.1)
        try:
            return driver.execute_async_script(AXE.read_text() + """
                const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']}).then(r => done(
                    r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))));""")
        except TimeoutException:
            attempts_left -= 1
            if not attempts_left:
                raise


def download(api, path: str, pin: str | None = None, token: str | None = None,
             headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET raw bytes (the test client decodes bodies as text): (status, headers, body)."""
    import urllib.error
    import urllib.parse
    req = urllib.request.Request(api.base + urllib.parse.quote(path, safe="/:"), method="GET")
    for name, value in {**(headers or {}), **({"X-Access-Pin": pin} if pin else {}),
                        **({"Authorization": f"Bearer {token}"} if token else {})}.items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def forged_settlement(api, bank_reference: str):
    """A booked applicant and a PaymentSettled for their bill that no bank sent: (person, app id, event)."""
    from passport.v1 import common_pb2, payment_pb2
    from servicekit.clock import Clock
    from servicekit.events import new_event
    person, app_id, booking = booked_applicant(api)
    billing = booking["billing"]
    event = new_event("payment", app_id, payment_pb2.PaymentSettled(
        billing_code=billing["billing_code"], application_id=app_id, account_id=person["account_id"],
        office_id="TBK", amount=common_pb2.Money(amount=billing["amount"], currency="IDR"),
        paid_at="2026-12-03T10:00:00Z", bank_reference=bank_reference), Clock())
    return person, app_id, event
