"""The applicant web app on a weak network: page weights and Lighthouse scores (mobile profile).

    python -m tests.bench.web_pages            # starts its own stack (BENCH_PORT_BASE + 300)
    WEB_BENCH_LIGHTHOUSE=0 ...                 # page weights only

Page weight = bytes transferred for a page without the browser's cache: its HTML plus every CSS and
JS file it links, as the web app sends them gzip-compressed (Content-Encoding), headers not counted.
Budgets (issue 14): the first page (landing) at most 100 KB, every page at most 200 KB; nothing is
loaded from another host (checked: every linked asset is a local path). Lighthouse 12.2.3 (npm, from
deploy/local/provision_web.sh) runs with Debian's chromium on its default mobile profile (simulated
slow 4G, a mid-range phone's CPU) for the landing, slot choice, billing and status pages; targets:
performance >= 90, accessibility >= 95, best practices >= 95."""
from __future__ import annotations

import gzip
import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from deploy.local.client import Api
from deploy.local.stack import CACHE, REPO, Ports, Stack

PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "23500")) + 300
LIGHTHOUSE = CACHE / "tools" / "lighthouse-12.2.3" / "node_modules" / "lighthouse" / "cli" / "index.js"
FIRST_PAGE_BUDGET, PAGE_BUDGET = 100 * 1024, 200 * 1024
PASSWORD = "Sandi-Rahasia-2026"


class Browser:
    """A cookie-keeping HTTP client that accepts gzip, like a phone's browser with an empty cache."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, bytes, str]:
        """(status, transferred bytes, decoded text). A waiting page (503: the gateway was busy) is
        retried after its Retry-After, as its own script does."""
        for _ in range(20):
            req = urllib.request.Request(self.base + path, headers={"Accept-Encoding": "gzip"})
            try:
                with self.opener.open(req, timeout=60) as resp:
                    raw = resp.read()
                    text = gzip.decompress(raw) if resp.headers.get("Content-Encoding") == "gzip" else raw
                    return resp.status, raw, text.decode(errors="replace")
            except urllib.error.HTTPError as err:
                if err.code != 503:
                    raise
                time.sleep(int(err.headers.get("Retry-After", "2")))
        raise RuntimeError(f"{path} still answered 503 after 20 tries")

    def post(self, path: str, fields: dict) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=60) as resp:
            return resp.geturl()

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.get(path)[2]).group(1)

    @property
    def session_cookie(self) -> str:
        return next(c.value for c in self.jar if c.name == "sid")


def page_weight(browser: Browser, path: str) -> tuple[int, int, list[str]]:
    """(HTML bytes, total bytes with linked CSS/JS, the assets)."""
    _, raw, html = browser.get(path)
    assets = re.findall(r'<(?:link[^>]+href|script[^>]+src)="([^"]+)"', html)
    assets = [a for a in assets if not a.startswith("data:")]
    foreign = [a for a in assets if not a.startswith("/")]
    assert not foreign, f"{path} loads from another host: {foreign}"
    total = len(raw) + sum(len(browser.get(a)[1]) for a in assets)
    return len(raw), total, assets


def prepare(stack: Stack) -> tuple[Browser, dict[str, str]]:
    """An applicant with a booked appointment, logged in to the web app; the pages to measure."""
    api = Api(stack.gateway_url)
    person = api.register_applicant()
    app_id = api.create_application(person["token"]).body["application_id"]
    slot = api.first_working_slot(skip_days=2)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    browser = Browser(stack.web_url)
    landed = browser.post("/login", {"csrf": browser.csrf("/login"), "email": person["email"],
                                     "password": person["password"]})
    assert landed.endswith("/applications"), landed
    pages = {
        "landing (first page)": "/", "register": "/register", "login": "/login", "applications": "/applications",
        "new application": "/applications/new", "documents": f"/applications/{app_id}/documents",
        "slot choice": f"/applications/{app_id}/slots?date={slot['date']}", "billing": f"/applications/{app_id}/billing",
        "status": f"/applications/{app_id}", "booking proof": f"/applications/{app_id}/proof",
        "cancel (confirm)": f"/applications/{app_id}/cancel", "preferences": "/preferences",
        "complaint": "/complaints/new", "complaint follow-up": "/complaints/follow",
    }
    return browser, pages


def lighthouse(url: str, cookie: str | None, out_dir: Path) -> dict[str, int]:
    out = out_dir / (re.sub(r"\W+", "_", url)[-60:] + ".json")
    args = ["node", str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
            "--only-categories=performance,accessibility,best-practices",
            "--chrome-flags=--headless=new --no-sandbox --disable-dev-shm-usage"]
    if cookie:
        args.append("--extra-headers=" + json.dumps({"Cookie": f"sid={cookie}"}))
    done = subprocess.run(args, env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"lighthouse failed on {url}: {done.stderr[-500:]}")
    report = json.loads(out.read_text())
    return {k: round(100 * report["categories"][k]["score"]) for k in ("performance", "accessibility", "best-practices")}


def main() -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="passport-bench-web-"))
    # The gateway as the functional tests run it (a fixed in-flight limit, a 5 s answer budget): this
    # measures pages, not the gateway under a rush, on a machine other work may be loading.
    stack = Stack(run_dir, Ports(base=PORT_BASE), gateway_workers=2, extra_env={
        "SLOT_HORIZON_DAYS": "15", "GATEWAY_MAX_INFLIGHT": "8", "GATEWAY_MIN_INFLIGHT": "8",
        "GATEWAY_ANSWER_BUDGET_SECONDS": "5", "GATEWAY_BOOKING_RPC_DEADLINE_SECONDS": "5",
        "GATEWAY_MAX_QUEUE_WAIT_MS": "5000"})
    print(f"starting a stack for the web app in {run_dir} (ports {PORT_BASE}..{PORT_BASE + 99})", flush=True)
    failures = 0
    try:
        stack.up()
        stack.seed_demo()
        stack.start_web()
        browser, pages = prepare(stack)
        print(f"\n{'page':<24}{'HTML gz':>10}{'with CSS+JS':>14}{'budget':>10}  ok")
        for i, (name, path) in enumerate(pages.items()):
            html, total, _ = page_weight(Browser(stack.web_url) if i == 0 else browser, path)
            budget = FIRST_PAGE_BUDGET if i == 0 else PAGE_BUDGET
            failures += total > budget
            print(f"{name:<24}{html / 1024:>8.1f} KB{total / 1024:>11.1f} KB{budget // 1024:>7} KB  "
                  f"{'yes' if total <= budget else 'NO'}")
        if os.environ.get("WEB_BENCH_LIGHTHOUSE", "1") != "0":
            if not LIGHTHOUSE.exists():
                raise RuntimeError(f"{LIGHTHOUSE} missing: run deploy/local/provision_web.sh lighthouse")
            out_dir = run_dir / "lighthouse"
            out_dir.mkdir()
            print(f"\nLighthouse 12.2.3, mobile profile (targets: performance >= 90, accessibility >= 95, "
                  f"best practices >= 95)\n{'page':<16}{'performance':>13}{'accessibility':>15}{'best practices':>16}  ok")
            for name, key in (("landing", "landing (first page)"), ("slot choice", "slot choice"),
                              ("billing", "billing"), ("status", "status")):
                try:
                    scores = lighthouse(stack.web_url + pages[key],
                                        None if key.startswith("landing") else browser.session_cookie, out_dir)
                except RuntimeError as err:
                    failures += 1
                    print(f"{name:<16}  error: {str(err)[-300:]}\n{stack.log_tail('web', 8)}", flush=True)
                    continue
                ok = scores["performance"] >= 90 and scores["accessibility"] >= 95 and scores["best-practices"] >= 95
                failures += not ok
                print(f"{name:<16}{scores['performance']:>13}{scores['accessibility']:>15}{scores['best-practices']:>16}"
                      f"  {'yes' if ok else 'NO'}", flush=True)
            if os.environ.get("WEB_BENCH_KEEP_REPORTS"):
                keep = REPO / ".run" / "lighthouse"
                shutil.copytree(out_dir, keep, dirs_exist_ok=True)
                print(f"reports kept in {keep}")
    finally:
        stack.down()
        shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
