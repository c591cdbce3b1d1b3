"""The staff console (issue 17) in a real browser: headless Debian chromium driven by Selenium against
a whole stack and the web process, with axe-core on every page visited (no serious or critical
violation). The stack's clock is set to the next working morning of the office (as in
test_counter_journey.py), so an appointment booked "today" can go through the whole counter.

One stack for the module at PASSPORT_TEST_PORT_BASE + 800. Screenshots go to WEB_TEST_ARTIFACTS
(default .run/test-artifacts/web); CONSOLE_SCREENSHOTS=docs/img saves them for the README."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from deploy.local.client import Api
from deploy.local.stack import DEMO_STAFF, REPO
from tests.integration.conftest import running_stack
from tests.unit import biometrics_samples as samples
from tests.integration.helpers import chromium, serious_accessibility_violations, next_working_morning, pay, status_of, wait_for

PORT_BASE = int(os.environ.get("PASSPORT_TEST_PORT_BASE", "20000")) + 800
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or os.environ.get("WEB_TEST_ARTIFACTS")
             or REPO / ".run" / "test-artifacts" / "web")
OFFICER, SUPERVISOR = DEMO_STAFF[0], DEMO_STAFF[1]
ELSEWHERE = {"role": "OFFICER", "email": "officer@btm.imigrasi.example", "password": "Officer-Btm-2026!",
             "full_name": "Officer BTM", "office_id": "BTM"}


@pytest.fixture(scope="module")
def stack():
    morning = next_working_morning()
    offset = (morning - dt.datetime.now(dt.timezone.utc)).total_seconds()
    with running_stack("passport-console-", PORT_BASE, {
            "CLOCK_OFFSET_SECONDS": str(int(offset)), "SLOT_HORIZON_DAYS": "3",
            "BIOMETRICS_REQUIRED_FINGERS": "1,6"}) as s:
        s.start_web()
        subprocess.run([sys.executable, "-m", "services.booking.cli", "ensure-staff", json.dumps([ELSEWHERE])],
                       env=s.env(), check=True, capture_output=True)
        s.today = morning.date().isoformat()
        yield s


@pytest.fixture
def browser():
    driver = chromium("1280,900")  # a desk screen
    yield driver
    driver.quit()


class Desk:
    """The browser as staff use it at a desk screen, checking every page with axe-core."""

    def __init__(self, driver, base: str):
        self.d, self.base = driver, base

    def open(self, path: str):
        self.d.get(self.base + path)
        return self.check()

    def check(self):
        violations = serious_accessibility_violations(self.d)
        assert violations == [], f"axe-core on {self.d.current_url}: {violations}"
        return self

    def text(self) -> str:
        return self.d.find_element(By.TAG_NAME, "main").text

    def el(self, css: str):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def fill(self, css: str, value: str):
        field = self.el(css)
        field.clear()
        field.send_keys(value)

    def click(self, css: str):
        self.el(css).click()
        return self.check()

    def keys(self, *keys):
        """Type into whatever has the focus: the console puts it on the next step's first field."""
        self.d.switch_to.active_element.send_keys(*keys)
        return self

    def status_of(self, path: str) -> int:
        """The HTTP status of a same-origin GET, as this browser session (cookie included)."""
        return self.d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => done(r.status));", path)

    def login(self, who: dict):
        self.open("/petugas/login")
        self.fill("#f-email", who["email"])
        self.fill("#f-password", who["password"])
        return self.click("main form button[type=submit]")

    def logout(self):
        self.click("nav form button[type=submit]")

    def shot(self, name: str):
        import base64
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": max(800, height), "deviceScaleFactor": 1, "mobile": False})
        shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def wait_for(self, predicate, what: str, timeout_s: float = 60):
        """Reload until `predicate` holds (the counter's statuses follow events, a second or two late)."""
        import time
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what} on {self.d.current_url}:\n{self.text()}"
            time.sleep(1)
            self.d.refresh()
        self.check()


def paid_application(stack, service_type: str = "NEW", lane: str = "REGULAR", born: dt.date | None = None,
                     priority_group: str | None = None) -> tuple[Api, dict, str, str]:
    """An applicant with a paid appointment today at the office (through the public API)."""
    api = Api(stack.gateway_url)
    person = api.register_applicant(birth=born)
    app_id = api.create_application(person["token"], service_type=service_type,
                                    priority_group=priority_group).body["application_id"]
    slot = next(s for s in api.get(f"/v1/offices/TBK/slots?date={stack.today}&lane={lane}").body["items"]
                if s["remaining"] > 0 and s["start_time"] >= "10:00")
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-CONSOLE-{app_id}").status == 200
    assert wait_for(lambda: status_of(api, person, app_id) == "PAID")
    return api, person, app_id, booked.body["billing"]["billing_code"]


def test_the_counter_journey_in_the_browser(stack, browser, tmp_path):
    # A lost passport: the interview carries the examination report (BAP).
    api, person, app_id, code = paid_application(stack, "REPLACEMENT_LOST", "REPLACEMENT")
    desk = Desk(browser, stack.web_url)
    desk.login(OFFICER)
    assert "Antrean hari ini" in desk.text()
    row = desk.d.find_element(By.XPATH, f"//td[normalize-space()='{code}']/..")
    assert "Lunas" in row.text

    # Find by billing code: one match opens the application; the focus waits on the check-in button.
    desk.fill("#q", code)
    desk.keys(Keys.ENTER).check()
    assert f"/petugas/permohonan/{app_id}" in desk.d.current_url
    assert "Langkah: kehadiran" in desk.text()
    documents = desk.d.find_elements(By.CSS_SELECTOR, ".docs-list a")
    assert len(documents) == 3
    document = documents[0].get_attribute("href")
    assert desk.status_of(document) == 200
    desk.keys(Keys.ENTER).check()  # check in, by keyboard
    number = desk.el("#ticket-number").text
    assert number.startswith("R"), number  # the replacement lane's letter
    desk.shot("console-ticket-id")

    desk.open("/petugas")
    desk.fill("#desk", "Loket 1")
    desk.click("#call-next")
    assert f"Nomor {number} dipanggil ke loket Loket 1" in desk.text()
    assert f"/petugas/permohonan/{app_id}" in desk.d.current_url and "Langkah: foto wajah" in desk.text()

    # The photo through the file input: a blurred one first shows the failed checks, then the good one.
    blurred, good = tmp_path / "blurred.jpg", tmp_path / "photo.jpg"
    blurred.write_bytes(samples.blurred_photo())
    good.write_bytes(samples.good_photo_jpeg())
    desk.el("#photo-file").send_keys(str(blurred))
    desk.click("#photo-submit")
    assert "Gagal: ketajaman" in desk.el("#checks").text
    assert desk.d.find_elements(By.ID, "override"), "a failed photo offers the override with a reason"
    desk.el("#photo-file").send_keys(str(good))
    desk.click("#photo-submit")
    assert "Foto diterima" in desk.text() and "Langkah: sidik jari" in desk.text()
    desk.shot("console-fingers-id")

    fingerprint = tmp_path / "finger.png"
    fingerprint.write_bytes(samples.good_print_png())
    for finger in ("1", "6"):  # the required fingers of this stack; the form preselects the next one
        assert Select(desk.el("#finger")).first_selected_option.get_attribute("value") == finger
        desk.el("#finger-file").send_keys(str(fingerprint))
        desk.click("#finger-submit")
    assert "Langkah: wawancara" in desk.text()

    desk.el("input[name=outcome][value=APPROVED]").click()
    desk.fill("#notes", "dokumen sesuai")
    desk.fill("#bap-report", "BAP-TBK-0001")
    desk.fill("#bap-circ", "Pemohon datang sendiri, keterangan sesuai dokumen.")
    desk.shot("console-interview-id")
    desk.click("#interview-submit")
    assert "Wawancara tersimpan" in desk.text()
    desk.wait_for(lambda: desk.d.find_elements(By.ID, "issue-form"), "the issuance step")

    desk.fill("#passport-number", "C7654321")
    desk.el("input[name=delivery][value=POS]").click()
    desk.fill("#address", "Jl. Teuku Umar 1, Tanjung Balai Karimun")
    desk.click("#issue-submit")
    assert "Paspor diterbitkan" in desk.text() and "Langkah: penyerahan" in desk.text()
    desk.keys("RB123456789ID", Keys.ENTER).check()  # the tracking field has the focus
    assert "Tercatat dikirim lewat Pos" in desk.text()
    assert desk.el("#app-status").text == "Paspor dikirim lewat pos"
    desk.shot("console-application-id")

    timeline = [t["status"] for t in api.get(f"/v1/applications/{app_id}", token=person["token"]).body["timeline"]]
    assert timeline[-1] == "SHIPPED" and "ISSUED" in timeline and "APPROVED" in timeline

    desk.open("/petugas")
    desk.shot("console-today-id")
    desk.open("/antrean/TBK")
    assert number in desk.el("#now-number").text
    desk.shot("console-display-id")

    # An officer of another office: the application and its documents are "not found".
    desk.open("/petugas")
    desk.logout()
    desk.login(ELSEWHERE)
    assert desk.status_of(f"/petugas/permohonan/{app_id}") == 404
    desk.open(f"/petugas/permohonan/{app_id}")
    assert "Tidak ditemukan" in desk.text()
    assert desk.status_of(document) == 404
    desk.open(f"/petugas/cari?q={code}")
    assert "Tidak ada permohonan kantor ini" in desk.text()


def test_a_refused_priority_claim_queues_the_applicant_in_the_regular_lane(stack, browser):
    api, _person, app_id, code = paid_application(stack, lane="PRIORITY", born=dt.date(1950, 3, 1),
                                                  priority_group="ELDERLY")
    desk = Desk(browser, stack.web_url)
    desk.login(OFFICER)
    desk.open(f"/petugas/cari?q={code}&go=1")
    assert f"/petugas/permohonan/{app_id}" in desk.d.current_url
    assert "Bukti kelompok prioritas: Lansia" in desk.text()
    assert desk.d.switch_to.active_element.get_attribute("value") == "CONFIRMED", "the decision has the focus"
    desk.keys(Keys.ARROW_DOWN)  # radio buttons move by arrow keys: REFUSED
    desk.click("#checkin")
    number = desk.el("#ticket-number").text
    assert number.startswith("A"), f"a refused claim queues in the regular lane, got {number}"
    supervisor = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    entries = api.get(f"/v1/offices/TBK/audit?from={stack.today}&to={stack.today}", token=supervisor).body["items"]
    assert any(e["action"] == "priority-refused" and e["details"].get("application_id") == app_id for e in entries)


def set_value(desk: Desk, css: str, value: str):
    """Date inputs take their value by script: typed keys depend on the browser's locale."""
    desk.d.execute_script("document.querySelector(arguments[0]).value = arguments[1]", css, value)


def test_a_supervisor_changes_quota_with_a_reason_and_sees_it_in_the_audit(stack, browser):
    desk = Desk(browser, stack.web_url)
    desk.login(SUPERVISOR)
    desk.open("/petugas/kuota?lane=REGULAR")
    day = (dt.date.fromisoformat(stack.today) + dt.timedelta(days=1))
    while "Tidak ada jam" in next(r.text for r in desk.d.find_elements(By.CSS_SELECTOR, "#quota-calendar tbody tr")
                          if day.strftime("%d-%m-%Y") in r.text):
        day += dt.timedelta(days=1)
    set_value(desk, "#f-date", day.isoformat())
    Select(desk.el("#f-lane")).select_by_value("REGULAR")
    desk.fill("#f-start_time", "09:00")
    desk.fill("#f-capacity", "3")
    desk.el("#quota-submit").click()
    assert desk.d.execute_script("return document.getElementById('f-reason').validity.valueMissing"), \
        "no change without a reason (the service refuses one too)"
    desk.fill("#f-reason", "Dua petugas cuti")
    desk.click("#quota-submit")
    assert f"Kuota {day.isoformat()} diubah (1 jam)" in desk.text()
    row = next(r for r in desk.d.find_elements(By.CSS_SELECTOR, "#quota-calendar tbody tr")
               if day.strftime("%d-%m-%Y") in r.text)
    assert "09:00 3/3" in row.text
    desk.shot("console-quota-id")

    desk.open("/petugas/audit")
    entry = next(r for r in desk.d.find_elements(By.CSS_SELECTOR, "#audit tbody tr") if "QUOTA_SET" in r.text)
    assert "Dua petugas cuti" in entry.text and "Kepala kantor" in entry.text
    desk.click("#verify")
    assert "Rantai audit utuh" in desk.el("#verification").text
    desk.shot("console-audit-id")

    desk.open("/petugas/statistik")
    assert desk.d.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    desk.shot("console-statistics-id")
    for path, name in (("/petugas/pengaduan", "complaints"), ("/petugas/refund", "refunds"),
                       ("/petugas/rilis", "releases"), ("/petugas/jadwal-ulang", "reschedule")):
        desk.open(path)
        assert "Tidak ditemukan" not in desk.text(), path
    desk.open("/lang/en?next=/petugas/audit")
    assert "Audit log" in desk.text()
    desk.open("/lang/id?next=/petugas")


def test_a_deactivated_officer_is_signed_out_on_the_next_request(stack, browser):
    desk = Desk(browser, stack.web_url)
    desk.login(SUPERVISOR)
    desk.open("/petugas/staf")
    email = f"petugas-{dt.datetime.now().strftime('%H%M%S%f')}@tbk.imigrasi.example"
    desk.fill("#f-full_name", "Petugas Baru")
    desk.fill("#f-email", email)
    desk.click("#staff-submit")
    password = desk.el("#temporary-password").text
    assert len(password) == 16
    desk.shot("console-staff-id")
    desk.open("/petugas/staf")
    assert not desk.d.find_elements(By.ID, "temporary-password"), "the password is shown once"
    desk.logout()

    officer = {"email": email, "password": password}
    desk.login(officer)
    assert "Antrean hari ini" in desk.text() and "Petugas Baru" in desk.d.find_element(By.CSS_SELECTOR, ".brand").text

    api = Api(stack.gateway_url)
    supervisor = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    account = next(s for s in api.get("/v1/offices/TBK/staff", token=supervisor).body["items"] if s["email"] == email)
    gone = api.post(f"/v1/offices/TBK/staff/{account['account_id']}/deactivation", {}, token=supervisor)
    assert gone.status == 200 and gone.body["active"] is False

    desk.open("/petugas")  # the very next request
    assert "/petugas/login" in desk.d.current_url
    assert "akun dinonaktifkan" in desk.text()
    desk.login(officer)
    assert "Email atau kata sandi salah" in desk.text()
    entries = api.get(f"/v1/offices/TBK/audit?from={stack.today}&to={stack.today}", token=supervisor).body["items"]
    assert {"STAFF_CREATED", "STAFF_DEACTIVATED"} <= {e["action"] for e in entries}


def test_an_officer_enrols_an_authenticator_app_by_qr_and_then_needs_its_code(stack, browser):
    import time

    import pyotp
    api = Api(stack.gateway_url)
    supervisor = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    email = f"petugas-totp-{dt.datetime.now().strftime('%H%M%S%f')}@tbk.imigrasi.example"
    made = api.post("/v1/offices/TBK/staff", {"full_name": "Petugas Dua Langkah", "email": email}, token=supervisor)
    officer = {"email": email, "password": made.body["temporary_password"]}

    desk = Desk(browser, stack.web_url)
    desk.open("/petugas/login")
    desk.click("a[href='/petugas/2fa']")
    desk.fill("#f-email", email)
    desk.fill("#f-password", officer["password"])
    desk.click("main form button[type=submit]")
    assert desk.el("#totp-qr svg") and "Verifikasi dua langkah" in desk.text()
    totp = pyotp.TOTP(desk.el("#totp-secret").text.replace(" ", ""))
    if 30 - time.time() % 30 < 5:  # not at the very end of a code's window (codes follow real time)
        time.sleep(30 - time.time() % 30 + 0.2)
    desk.fill("#f-password", officer["password"])
    desk.fill("#f-otp", totp.now())
    desk.click("main form button[type=submit]")
    # the first code confirmed the app and signed in: the ten recovery codes are shown this once
    codes = [li.text for li in desk.d.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
    assert len(set(codes)) == 10 and "Kode pemulihan" in desk.text()
    desk.click("#codes-done")
    assert "Antrean hari ini" in desk.text()
    desk.logout()

    desk.login(officer)  # the password alone is no longer enough
    assert "kode 6 angka" in desk.text()
    time.sleep(30 - time.time() % 30 + 0.2)  # the enrolment used this window's code
    desk.fill("#f-email", email)
    desk.fill("#f-password", officer["password"])
    desk.fill("#f-otp", totp.now())
    desk.click("main form button[type=submit]")
    assert "Antrean hari ini" in desk.text()
    desk.logout()

    desk.login(officer)  # a lost phone: a recovery code instead, typed as printed
    desk.fill("#f-email", email)
    desk.fill("#f-password", officer["password"])
    desk.fill("#f-otp", codes[0])
    desk.click("main form button[type=submit]")
    assert "Antrean hari ini" in desk.text()
