"""The applicant web app in a real browser: headless Debian chromium driven by Selenium (Debian's
chromium-driver), against a whole stack and the web process, as a person on a 360 x 640 phone.

One stack for the module (ports PASSPORT_TEST_PORT_BASE + 300), with the gateway's in-flight limit
forced to 1 and no waiting (the gateway's queue; the booking waiting room is opened by its own test), so the test that crowds the gateway sees the web app's waiting page.
axe-core (npm, provisioned by deploy/local/provision_web.sh) is injected into every page visited and
must find no serious or critical violation. Screenshots go to WEB_TEST_ARTIFACTS (default
.run/test-artifacts/web)."""
from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pymongo
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from deploy.local.client import SAMPLE_PDF, Api
from deploy.local.stack import LOCAL_SECRETS, OFFICE_SUPERVISORS, REPO
from tests.integration.conftest import running_stack, staff_token
from services.booking.domain import calendar
from services.web.sessions import Store
from tests.integration.helpers import (chromium, close_waiting_room, found_in_store, mails_to, open_waiting_room,
                                       serious_accessibility_violations)

PORT_BASE = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000")) + 300
ARTIFACTS = Path(os.environ.get("WEB_TEST_ARTIFACTS", REPO / ".run" / "test-artifacts" / "web"))
PASSWORD = "Sandi-Rahasia-2026"


@pytest.fixture(scope="module")
def web():
    # In-flight limit 1 and no waiting: one request at a time passes, the next is refused at once
    # (503 overloaded, Retry-After). The web app lists a calendar's days one after another here.
    with running_stack("passport-web-", PORT_BASE, {
            "GATEWAY_MAX_INFLIGHT": "1", "GATEWAY_MIN_INFLIGHT": "1", "GATEWAY_MAX_WAITING": "0"},
            gateway_workers=1) as stack:
        stack.start_web({"WEB_LISTING_PARALLELISM": "1"})
        yield stack


@pytest.fixture
def browser():
    driver = chromium("360,640")
    phone(driver)
    yield driver
    driver.quit()


def phone(driver, height: int = 640):
    """A phone's screen: 360 px wide, mobile viewport (no scrollbar taking width)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": height, "deviceScaleFactor": 1, "mobile": True})


class Page:
    """The browser as the applicant uses it, checking every page it lands on with axe-core."""

    def __init__(self, driver, base: str):
        self.d, self.base, self.checked = driver, base, []

    def open(self, path: str):
        self.d.get(self.base + path)
        return self.check()

    def check(self):
        violations = serious_accessibility_violations(self.d)
        assert violations == [], f"axe-core on {self.d.current_url}: {violations}"
        self.checked.append(self.d.current_url)
        return self

    def text(self) -> str:
        return self.d.find_element(By.TAG_NAME, "main").text

    def fill(self, **fields):
        for name, value in fields.items():
            el = self.d.find_element(By.CSS_SELECTOR, f"main [name='{name}']")
            el.clear()
            el.send_keys(value)

    def submit(self, css: str = "main form button[type=submit]"):
        self.d.find_element(By.CSS_SELECTOR, css).click()
        return self.check()

    def shot(self, name: str):
        """A full-height screenshot of the page on a 360 px wide phone."""
        import base64
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        phone(self.d, max(640, height))
        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
        phone(self.d)

    def wait_for(self, predicate, timeout_s: float = 60, reload: bool = False, what: str = ""):
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if predicate():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} on {self.d.current_url}:\n{self.text()}")
            time.sleep(1)
            if reload:
                self.d.refresh()


def new_person() -> dict:
    """A registration that passes the NIK rule: Jakarta province code, birth date 12-05-1988."""
    import random
    return {"nik": f"3171{random.randrange(10, 99)}120588{random.randrange(1, 9999):04d}",
            "full_name": "Siti Aminah", "birth_date": "1988-05-12",
            "email": f"web-{random.getrandbits(40):x}@example.id", "phone": f"0812{random.randrange(10**7, 10**8)}"}


def register(page: Page, person: dict):
    page.open("/register")
    page.fill(nik=person["nik"], full_name=person["full_name"], email=person["email"], phone=person["phone"],
              password=PASSWORD)
    page.d.execute_script("document.getElementById('f-birth_date').value = arguments[0]", person["birth_date"])
    page.submit()


def start_application(page: Page, tmp_path: Path, office_id: str = "") -> str:
    page.open("/applications/new")
    if office_id:
        Select(page.d.find_element(By.ID, "f-office_id")).select_by_value(office_id)
    page.submit()
    assert "/documents" in page.d.current_url
    app_id = page.d.current_url.split("/applications/")[1].split("/")[0]
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(SAMPLE_PDF)
    for kind in ("KTP", "KK", "BIRTH_CERTIFICATE"):
        page.d.find_element(By.ID, f"file-{kind}").send_keys(str(scan))
        page.submit(f"#doc-{kind} button[type=submit]")
    return app_id


def choose_first_free_day(page: Page, app_id: str):
    page.open(f"/applications/{app_id}/slots")
    page.d.find_element(By.CSS_SELECTOR, "table.cal td.free a").click()
    page.check()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_full_journey_in_indonesian(web, browser, tmp_path):
    page, person = Page(browser, web.web_url), new_person()
    page.open("/")
    assert "Buat paspor tanpa antre" in page.text()
    page.shot("01-landing-id")

    # A NIK that does not match the birth date: the server's error, in words, next to the field.
    register(page, {**person, "nik": person["nik"][:6] + "010190" + person["nik"][12:]})
    error = page.d.find_element(By.ID, "e-nik").text
    assert "tidak cocok dengan tanggal lahir" in error
    assert page.d.find_element(By.ID, "f-nik").get_attribute("aria-describedby").endswith("e-nik")
    page.shot("02-register-nik-error-id")
    register(page, person)
    assert "Akun dibuat" in page.text()

    app_id = start_application(page, tmp_path)
    assert "Semua dokumen wajib sudah ada" in page.text()
    assert "Sudah diunggah" in page.d.find_element(By.ID, "doc-KTP").text
    page.shot("03-documents-id")

    choose_first_free_day(page, app_id)
    assert re.search(r"Sisa kursi per \d\d:\d\d:\d\d", page.text())
    assert "kursi" in page.d.find_element(By.CSS_SELECTOR, "table.cal td.free").text
    page.shot("04-slots-id")
    page.submit("#book")

    # The billing page: code, amount, items and the countdown.
    assert "Kode billing" in page.text() and "Rp " in page.text()
    code = page.d.find_element(By.ID, "billing-code").text.replace(" ", "")
    amount = int(page.d.find_element(By.ID, "amount").text.replace("Rp ", "").replace(".", ""))
    assert re.fullmatch(r"\d{15}", code) and amount > 0
    assert "Sisa waktu" in page.d.find_element(By.ID, "countdown").text
    assert page.d.find_element(By.ID, "billing-status").text == "Belum dibayar"
    page.shot("05-billing-id")

    # "I have paid" before paying: the bank has nothing yet.
    page.submit("#recheck")
    assert "Bank belum mencatat pembayaran" in page.text()

    done = subprocess.run([sys.executable, "-m", "deploy.local.bank_simulator", "pay", "--gateway", web.gateway_url,
                           "--billing-code", code, "--amount", str(amount)],
                          env=web.env(), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    page.open(f"/applications/{app_id}")
    page.wait_for(lambda: page.d.find_element(By.ID, "status").text == "Lunas, jadwal pasti", reload=True,
                  what="PAID")
    timeline = page.d.find_element(By.ID, "timeline").text
    assert "Menunggu pembayaran" in timeline and "Lunas, jadwal pasti" in timeline
    page.wait_for(lambda: "Jadwal pasti (lunas)" in page.d.find_element(By.ID, "notifications").text, reload=True,
                  what="the confirmation notification")
    assert "Jadwal dipesan" in page.d.find_element(By.ID, "notifications").text
    page.check()
    page.shot("06-status-id")

    page.open(f"/applications/{app_id}/proof")
    text = page.text()
    assert person["full_name"] in text and app_id in text
    assert person["nik"][:4] + "********" + person["nik"][-4:] in text and person["nik"] not in text
    assert page.d.find_element(By.CSS_SELECTOR, ".qr svg")
    page.shot("07-proof-id")

    page.open(f"/applications/{app_id}/cancel")
    assert "Batalkan jadwal?" in page.text()
    page.shot("08-cancel-confirm-id")
    page.open("/preferences")
    page.shot("09-preferences-id")

    # Another applicant's application: "not found", nothing of theirs.
    other = Api(web.gateway_url).register_applicant()
    theirs = Api(web.gateway_url).create_application(other["token"]).body["application_id"]
    for path in (f"/applications/{theirs}", f"/applications/{theirs}/billing", f"/applications/{theirs}/proof"):
        page.open(path)
        assert "Tidak ditemukan" in page.d.find_element(By.TAG_NAME, "h1").text
        assert theirs not in page.text() and other["full_name"] not in page.text()


def test_english_switch_and_cancel(web, browser, tmp_path):
    page, person = Page(browser, web.web_url), new_person()
    page.open("/")
    page.d.find_element(By.CSS_SELECTOR, "a.lang").click()
    page.check()
    assert page.d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert "Get your passport without queues" in page.text()
    page.shot("11-landing-en")
    register(page, person)
    assert "Account created" in page.text()
    app_id = start_application(page, tmp_path)
    assert "All required documents are here" in page.text()
    choose_first_free_day(page, app_id)
    assert re.search(r"Seats left as of \d\d:\d\d:\d\d", page.text())
    page.shot("12-slots-en")
    page.submit("#book")
    assert "Billing code" in page.text() and "Time left" in page.text()
    page.shot("13-billing-en")
    page.open(f"/applications/{app_id}")
    assert page.d.find_element(By.ID, "status").text == "Awaiting payment"
    assert "The time can be changed only after the bill is paid" in page.text()
    page.shot("14-status-en")
    page.d.find_element(By.LINK_TEXT, "Cancel the appointment").click()
    page.check()
    page.submit("#confirm-cancel")
    assert "The appointment is cancelled" in page.text()
    assert page.d.find_element(By.ID, "status").text == "Cancelled"
    # Back to Indonesian: the same page in the other language.
    page.d.find_element(By.CSS_SELECTOR, "a.lang").click()
    page.check()
    assert page.d.find_element(By.ID, "status").text == "Dibatalkan"


def test_anonymous_complaint_and_follow_up(web, browser, tmp_path):
    page = Page(browser, web.web_url)
    page.open("/complaints/new")
    assert "tanpa nama" in page.text()
    Select(page.d.find_element(By.ID, "f-category")).select_by_value("BROKER_OR_EXTORTION")
    page.submit()  # empty description: told next to the field
    assert "Tulis ceritanya dulu" in page.d.find_element(By.ID, "e-description").text
    page.fill(description="Ada orang di depan kantor menawarkan kursi antrean seharga Rp 500.000.")
    page.submit()
    code = page.d.find_element(By.ID, "tracking-code").text
    pin = page.d.find_element(By.ID, "access-pin").text
    assert code and pin and "hanya ditampilkan sekali" in page.text()
    page.shot("21-complaint-filed-id")
    page.open("/complaints/filed")  # shown once: a reload no longer shows them
    assert pin not in page.text()

    page.open("/complaints/follow")
    page.fill(code=code, pin="000000" if pin != "000000" else "111111")
    page.submit()
    assert "Kode atau PIN tidak cocok" in page.text()
    page.fill(code=code, pin=pin)
    page.submit()
    assert page.d.find_element(By.ID, "complaint-status").text == "Diterima"
    assert "menawarkan kursi antrean" in page.text()
    evidence = tmp_path / "bukti.pdf"
    evidence.write_bytes(SAMPLE_PDF)
    page.d.find_element(By.ID, "f-evidence").send_keys(str(evidence))
    page.submit("main form button[type=submit]")
    assert "Bukti ditambahkan" in page.text()
    assert "Bukti terlampir: 1" in page.d.find_element(By.ID, "attachments").text
    page.shot("22-complaint-follow-id")


def fill_gateway(port: int) -> socket.socket:
    """A request the gateway admits and that then waits for the rest of its body. Sent while the web
    app's own page requests may still be in flight, it can be refused at once (503): then again.
    A complaint, not a registration: sign-ins and registrations hash a password and wait in a line
    of their own, so they would not take the shared place."""
    for _ in range(40):
        hold = socket.create_connection(("127.0.0.1", port))
        hold.sendall(b"POST /v1/complaints HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
        hold.settimeout(1.0)
        try:
            hold.recv(1)  # an answer at once: refused, the gateway was busy
        except socket.timeout:
            return hold  # admitted: it holds the gateway's one place
        hold.close()
        time.sleep(0.5)
    raise AssertionError("the gateway never admitted the holding request")


def _replaced(element) -> bool:
    """Whether the page `element` belonged to has been replaced by another."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    return False


def test_waiting_page_when_the_gateway_is_full_books_exactly_once(web, browser, tmp_path):
    page, person = Page(browser, web.web_url), new_person()
    register(page, person)
    app_id = start_application(page, tmp_path)
    choose_first_free_day(page, app_id)

    # Fill the gateway (in-flight limit 1, no waiting room) with one request that is admitted and then
    # waits for the rest of its body: every other request is refused at once with 503 + Retry-After.
    hold = fill_gateway(web.ports.gateway)
    page.wait_for(lambda: _status(web.gateway_url + "/v1/offices") == 503, timeout_s=30, what="a full gateway")
    try:
        browser.find_element(By.ID, "book").click()
        # the form's answer may still be loading when click() returns: wait for the page it lands on
        page.wait_for(lambda: browser.find_element(By.ID, "waiting").is_displayed(), timeout_s=30,
                      what="the waiting page")
        # Hold the page's own countdown while it is checked, then retry by the button (the no-JS path).
        browser.execute_script("for (let i = 0; i < 10000; i++) { clearInterval(i); }")
        waiting = browser.find_element(By.ID, "waiting").text
        assert re.search(r"Dicoba lagi dalam \d+ detik", waiting), waiting
        assert "tidak akan memesan dua kali" in page.text()
        page.check()
        page.shot("31-waiting-id")
        before = browser.find_element(By.ID, "waiting")
        browser.find_element(By.ID, "retry").click()
        # the same page comes back: wait until it replaced the one clicked on (a quick 503 answer lands
        # between a find and a look at the old page's element)
        page.wait_for(lambda: _replaced(before), timeout_s=30, what="the retry's answer")
        # still full: waiting again (its own countdown may resend meanwhile: a replaced page is looked at again)
        page.wait_for(lambda: browser.find_element(By.ID, "waiting").is_displayed(), timeout_s=30,
                      what="the waiting page again")
    finally:
        hold.close()  # the held request ends; the gateway has room again
    # The page resends the same form by itself (same Idempotency-Key) and lands on the bill.
    page.wait_for(lambda: "Kode billing" in page.text(), timeout_s=60, what="the bill after the retry")
    api = Api(web.gateway_url)
    token = api.login(person["email"], PASSWORD)
    app = api.get(f"/v1/applications/{app_id}", token=token).body
    assert app["status"] == "AWAITING_PAYMENT"
    assert [t["status"] for t in app["timeline"]].count("AWAITING_PAYMENT") == 1
    metrics = urllib.request.urlopen(web.web_url + "/metrics", timeout=5).read().decode()
    assert float(re.search(r"^web_waiting_pages_total (\S+)$", metrics, re.M).group(1)) >= 1


def test_forgotten_password_with_a_code_sent_by_email(web, browser):
    api = Api(web.gateway_url)
    person = api.register_applicant()
    page = Page(browser, web.web_url)
    page.open("/login")
    page.d.find_element(By.LINK_TEXT, "Lupa kata sandi?").click()
    page.check()
    page.fill(email="nobody-" + person["email"])  # an unknown email: the same answer
    page.submit()
    assert "Jika email itu terdaftar, kode sudah dikirim" in page.text()
    page.open("/forgot")
    page.fill(email=person["email"])
    page.submit()
    assert "Jika email itu terdaftar, kode sudah dikirim" in page.text()
    page.shot("41-forgot-confirm-id")

    def code_mail():
        mails = [m for m in mails_to(web, person["email"]) if m["subject"] == "Kode reset kata sandi"]
        return re.search(r"\b(\d{6})\b", mails[0]["body"]).group(1) if mails else None
    page.wait_for(code_mail, timeout_s=60, what="the code by email")
    code = code_mail()
    page.fill(code="000000" if code != "000000" else "111111", new_password="Baru-Sekali-2026")
    page.submit()
    assert "Kode salah, sudah kedaluwarsa, atau sudah dipakai" in page.d.find_element(By.ID, "e-code").text
    page.fill(code=code, new_password="Baru-Sekali-2026")
    page.submit()
    assert "Kata sandi sudah diganti" in page.text()
    assert api.post("/v1/auth/token", {"email": person["email"], "password": person["password"]}).status == 401
    page.fill(email=person["email"], password="Baru-Sekali-2026")
    page.submit()
    assert "Permohonan saya" in page.d.find_element(By.TAG_NAME, "h1").text
    # Single use: the same code does not work twice.
    again = api.post("/v1/auth/password-reset/confirm", {"email": person["email"], "code": code,
                                                         "new_password": "Lagi-Lagi-2026x"})
    assert again.status == 422 and again.body["type"].endswith("/reset-code-invalid")


def test_a_full_day_offers_the_waiting_list(web, browser, tmp_path):
    api = Api(web.gateway_url)
    supervisor = staff_token(api, "SUPERVISOR")
    # A working day a week ahead, made full by its office (capacity 0 for the lane).
    day = dt.date.today() + dt.timedelta(days=7)
    while not api.get(f"/v1/offices/TBK/slots?date={day}&lane=REGULAR").body["items"]:
        day += dt.timedelta(days=1)
    changed = api.put("/v1/offices/TBK/quota", {"date": day.isoformat(), "lane": "REGULAR", "capacity": 0,
                                                "reason": "web test: a full day"}, token=supervisor)
    assert changed.status == 200, changed.body
    page, person = Page(browser, web.web_url), new_person()
    register(page, person)
    app_id = start_application(page, tmp_path)
    page.open(f"/applications/{app_id}/slots?date={day}")
    assert "Tanggal ini penuh" in page.text()
    page.submit("#times button[type=submit]")
    assert re.search(r"daftar tunggu .*urutan ke-\d+", page.text())
    assert re.search(r"urutan ke-\d+", page.d.find_element(By.ID, "waitlist").text)


def test_entering_the_ballot_of_an_office_that_releases_by_ballot(web, browser, tmp_path):
    """Issue 14: DPS gives its dates' seats by ballot. The slot page lists the ballot taking entries
    (with its published commitment), the applicant enters it once, the status page says so, and the
    draw seats the entry: the status page then shows the bill."""
    api = Api(web.gateway_url)
    head = next(s for s in OFFICE_SUPERVISORS if s["office_id"] == "DPS")
    supervisor = api.login(head["email"], head["password"])
    cal = calendar.load()
    dps = cal.offices["DPS"]
    day = cal.working_days(dps, dps.today(dt.datetime.now(dt.timezone.utc)) + dt.timedelta(days=1), 6)[-1]
    now = dt.datetime.now(dt.timezone.utc)
    window = {"date": day.isoformat(), "lane": "REGULAR", "entries_open_at": (now - dt.timedelta(seconds=1)).isoformat(),
              "entries_close_at": (now + dt.timedelta(seconds=120)).isoformat()}
    created = api.post("/v1/offices/DPS/ballots", window, token=supervisor)
    assert created.status == 201, created.body
    ballot = created.body

    page, person = Page(browser, web.web_url), new_person()
    register(page, person)
    app_id = start_application(page, tmp_path, office_id="DPS")
    # The ballot's date chosen at once: one calendar load, inside the entry window (120 s: a loaded machine needs it).
    page.open(f"/applications/{app_id}/slots?date={day.isoformat()}")
    section = page.d.find_element(By.ID, "ballots").text
    assert "Undian kursi" in section and ballot["commitment"][:16] in section, section
    assert day.strftime("%d-%m-%Y") in section and "diundi" in section
    # The calendar says the date goes by ballot (no seat count nobody can book) and links to entering it;
    # the header names the page's office, not Tanjung Balai Karimun.
    cell = page.d.find_element(By.CSS_SELECTOR, f"table.cal a[href='#ballot-{ballot['ballot_id']}']")
    assert "Undian: ikut" in cell.text and "kursi" not in cell.text, cell.text
    assert "Ngurah Rai" in page.d.find_element(By.CSS_SELECTOR, "header .brand span").text
    assert "lewat undian" in page.d.find_element(By.ID, "times").text
    assert not page.d.find_elements(By.ID, "book")
    page.shot("ballot-id")
    page.submit(f"#enter-{ballot['ballot_id']}")
    assert f"/applications/{app_id}" in page.d.current_url and "Anda terdaftar di undian" in page.text()
    assert "Terdaftar di undian" in page.d.find_element(By.ID, "ballot").text
    page.open(f"/applications/{app_id}/slots")
    assert "Anda sudah terdaftar di undian ini." in page.d.find_element(By.ID, "ballots").text
    listed = next(b for b in api.get("/v1/offices/DPS/ballots").body["items"] if b["ballot_id"] == ballot["ballot_id"])
    assert listed["entries"] == 1, listed

    # After the window closes the draw seats the only entry; the applicant's page shows the bill to pay.
    page.open(f"/applications/{app_id}")
    page.wait_for(lambda: "Menunggu pembayaran" in page.text(), timeout_s=180, reload=True, what="the draw's seat")
    result = api.get(f"/v1/offices/DPS/ballots/{ballot['ballot_id']}/result").body
    assert result["seed"] and [o["outcome"] for o in result["outcomes"]] == ["WON"], result


def test_the_waiting_room_shows_the_place_in_line_and_books_when_admitted(web, browser, tmp_path):
    api = Api(web.gateway_url)
    supervisor = staff_token(api, "SUPERVISOR")
    page, person = Page(browser, web.web_url), new_person()
    register(page, person)
    app_id = start_application(page, tmp_path)
    choose_first_free_day(page, app_id)
    # TBK's room opens, paced at one admission per 10 s; three people take their places first.
    room_id = open_waiting_room(api, supervisor, "TBK", per_minute=6, draw_seconds=0)["room_id"]
    try:
        for _ in range(3):
            ahead = api.register_applicant()
            assert api.post("/v1/offices/TBK/waiting-room", token=ahead["token"]).status == 200
        browser.find_element(By.ID, "book").click()
        page.wait_for(lambda: browser.find_elements(By.ID, "queue-position"), timeout_s=30, what="the queue page")
        page.check()
        assert "/queue" in browser.current_url
        shown = browser.find_element(By.ID, "queue-position").text
        assert re.fullmatch(r"Posisi Anda dalam antrean: [1-9]\d*", shown), shown
        assert "Perkiraan waktu tunggu" in page.text() and "tidak mempercepat giliran" in page.text()
        # polite polling: the page's script reloads it when told (Retry-After); without it, "Check now"
        assert int(browser.find_element(By.ID, "waiting").get_attribute("data-seconds")) >= 1
        assert browser.find_element(By.ID, "refresh").get_attribute("href").endswith("/queue")
        page.shot("35-queue-id")
        # The same page in English: the place is kept (it lives in the session), the words change.
        browser.find_element(By.CSS_SELECTOR, "a.lang").click()
        page.check()
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        shown = browser.find_element(By.ID, "queue-position").text
        assert re.fullmatch(r"Your place in the queue: [1-9]\d*", shown), shown
        assert "Estimated wait" in page.text() and "does not bring your turn sooner" in page.text()
        page.shot("35-queue-en")
        browser.find_element(By.CSS_SELECTOR, "a.lang").click()
        page.check()
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "id"
        # An impatient person presses "Periksa sekarang" a dozen times: the web app answers from the
        # place it was given until the time told (the room moves a place asked for early more than 10
        # times in a minute to the back), so the place stays where it was.
        for _ in range(12):
            browser.find_element(By.ID, "refresh").click()
            page.wait_for(lambda: browser.find_elements(By.ID, "queue-position"), timeout_s=30, what="the queue page")
        after = browser.find_element(By.ID, "queue-position").text
        assert re.fullmatch(r"Posisi Anda dalam antrean: [1-9]\d*", after) and int(after.split()[-1]) <= int(shown.split()[-1])
        assert not browser.find_elements(By.ID, "queue-moved-back")
        gateway_db = pymongo.MongoClient(web.env()["MONGO_URI"], directConnection=True)["passport_gateway"]
        assert gateway_db.waiting_room.count_documents({"room": room_id, "moved_back": {"$exists": True}}) == 0
        # Admitted (about 30 s later), the page sends the same form with the pass and lands on the bill.
        page.wait_for(lambda: "Kode billing" in page.text(), timeout_s=120, what="the bill after admission")
    finally:
        close_waiting_room(api, supervisor, "TBK")
    token = api.login(person["email"], PASSWORD)
    app = api.get(f"/v1/applications/{app_id}", token=token).body
    assert [t["status"] for t in app["timeline"]].count("AWAITING_PAYMENT") == 1


def test_a_session_outlives_a_restart_of_the_web_process_and_logout_really_ends_it(web, browser):
    """Sessions live in the web service's own database: a restart logs nobody out; the store holds
    neither the cookie's id nor the access token in clear; an old cookie replayed after logout opens
    nothing (the record is deleted, not just forgotten by one process)."""
    page, person = Page(browser, web.web_url), new_person()
    register(page, person)
    assert page.d.current_url.endswith("/applications")
    cookie = page.d.get_cookie("sid")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    web.stop("web")
    web.start_web({"WEB_LISTING_PARALLELISM": "1"})
    page.open("/applications")
    assert page.d.current_url.endswith("/applications"), page.text()  # still logged in, no login page
    assert page.d.get_cookie("sid")["value"] == cookie["value"]

    # The session's access token, opened as the web app opens it, is nowhere in the store's files in clear.
    db = pymongo.MongoClient(web.env()["MONGO_URI"], directConnection=True, tz_aware=True)["passport_web"]
    try:
        store = Store(db, LOCAL_SECRETS["WEB_SESSION_KEYS"])
        token = store.load(cookie["value"]).data.get("token")
        assert token and token.count(".") == 2
        assert found_in_store(web, {"access token": token, "cookie id": cookie["value"]}) == {}
        assert db["sessions"].find_one({"_id": {"$regex": cookie["value"]}}) is None
    finally:
        db.client.close()

    page.d.find_element(By.CSS_SELECTOR, "nav form button[type=submit]").click()
    page.check()
    page.d.delete_all_cookies()
    page.d.add_cookie({"name": "sid", "value": cookie["value"], "path": "/", "httpOnly": True, "sameSite": "Lax"})
    page.open("/applications")
    assert "/login" in page.d.current_url  # the replayed cookie is a stranger now
