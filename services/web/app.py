"""The applicant web app's pages. Every fact comes from the gateway's public API (services/web/gateway.py);
this service keeps only sessions, in its own database (services/web/sessions.py). See docs/web.md."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import gzip
import logging
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import segno
from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from werkzeug.exceptions import HTTPException

from services.web import console, gateway, messages, supervisor
from services.web.gateway import Busy
from services.web.sessions import Store
from servicekit import mongo
from servicekit.config import env_bool, secret

logger = logging.getLogger("web")
COOKIE = "sid"
MAX_UPLOAD = 5 * 1024 * 1024  # the booking service's limit, told before uploading
CALENDAR_DAYS = 21
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
DOCUMENT_KINDS = ("KTP", "KK", "BIRTH_CERTIFICATE", "MARRIAGE_BOOK", "DIPLOMA", "OLD_PASSPORT", "POLICE_LOSS_REPORT")
CIVIL_RECORD = ("BIRTH_CERTIFICATE", "MARRIAGE_BOOK", "DIPLOMA")  # a NEW passport needs one of them
CATEGORIES = ("SERVICE", "BROKER_OR_EXTORTION", "LOST_PASSPORT", "DAMAGED_PASSPORT", "PAYMENT", "APP_ERROR", "OTHER")
PRIORITY_GROUPS = ("ELDERLY", "CHILD_UNDER_5", "DISABLED", "PREGNANT")
# Statuses after which an appointment may still be shown as proof at the counter.
PROOF_STATUSES = ("AWAITING_PAYMENT", "PAID", "CHECKED_IN")
# A ballot's date and lane stay closed to first-come-first-served booking until its draw is done.
PENDING_BALLOT_STATUSES = ("SCHEDULED", "OPEN", "CLOSED")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

REGISTRY = CollectorRegistry()
HTTP_REQUESTS = Counter("web_http_requests_total", "Pages answered by the web app.", ["method", "route", "status"],
                        registry=REGISTRY)
HTTP_SECONDS = Histogram("web_http_request_duration_seconds", "Time to answer a page.", ["method", "route"],
                         buckets=LATENCY_BUCKETS, registry=REGISTRY)
WAITING_PAGES = Counter("web_waiting_pages_total", "Waiting pages shown because the gateway was busy (429/503).",
                        registry=REGISTRY)


class LoggedOut(Exception):
    """The gateway refused the session's token (expired): log in again."""


def required_documents(app: dict) -> list[tuple[str, ...]]:
    """Groups of document kinds of which one each is needed (the booking service's rule for adults)."""
    groups: list[tuple[str, ...]] = [("KTP",), ("KK",)]
    service = app.get("service_type")
    if service == "NEW":
        groups.append(CIVIL_RECORD)
    elif service in ("RENEWAL", "REPLACEMENT_DAMAGED"):
        groups.append(("OLD_PASSPORT",))
    elif service == "REPLACEMENT_LOST":
        groups.append(("POLICE_LOSS_REPORT",))
    return groups


def lanes_of(app: dict) -> list[str]:
    """The lanes this application may book (same rule as the booking service: rules.allowed_lanes)."""
    if app.get("express"):
        lanes = ["EXPRESS"]
    elif app.get("service_type") in ("REPLACEMENT_LOST", "REPLACEMENT_DAMAGED"):
        lanes = ["REPLACEMENT"]
    else:
        lanes = ["REGULAR"]
    if app.get("priority_group"):
        lanes.append("PRIORITY")
    return lanes


def create_app(store: Store | None = None) -> Flask:
    """The app; `store` is the session store (default: this service's database, WEB_SESSION_KEYS)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD + 256 * 1024
    # Assets are linked with their content hash (?v=), so a browser may keep them for a year.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 365 * 24 * 3600
    versions = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:10]
                for f in Path(app.static_folder).iterdir() if f.is_file()}
    secure_cookie = os.environ.get("WEB_COOKIE_SECURE", "0") == "1"
    # Sessions in the web service's own database, sealed with WEB_SESSION_KEYS (required at start).
    if store is None:
        store = Store(mongo.database("web"), secret("WEB_SESSION_KEYS"))
        if env_bool("WEB_SESSION_SWEEPER", True):
            store.start_sweeper()
    pool = ThreadPoolExecutor(max_workers=int(os.environ.get("WEB_LISTING_PARALLELISM", "3")))

    # -- session, CSRF, language -----------------------------------------------------------
    @app.before_request
    def load_session():
        g.started = time.perf_counter()
        if request.endpoint in ("static", "metrics", "healthz", "readyz"):
            return None  # no session for assets and probes
        try:
            g.session = store.load(request.cookies.get(COOKIE))
        except mongo.STORE_UNREACHABLE:
            return store_down()
        g.sess = g.session.data
        g.lang = g.sess.get("lang", "id")
        if request.method == "POST":
            sent = request.form.get("csrf", "")
            if not hmac.compare_digest(sent.encode(), g.sess["csrf"].encode()):
                return render("error.html", title=t("csrf.title"), message=t("csrf.body")), 400

    def store_down() -> Response:
        """The session store is briefly unreachable: a 503 with Retry-After, nothing was done."""
        logger.warning("session store unreachable")
        g.pop("sess", None)
        resp = Response(render("error.html", title=t("session.down_title"), message=t("session.down")), status=503)
        resp.headers["Retry-After"] = "5"
        return resp

    @app.after_request
    def finish(resp: Response):
        session = g.get("session")
        if session is not None and "sess" in g:
            try:
                store.save(session)
            except mongo.STORE_UNREACHABLE:
                resp = store_down()
            else:
                if session.dropped:
                    resp.delete_cookie(COOKIE, path="/")
                elif g.get("rotated") or request.cookies.get(COOKIE) != session.sid:
                    resp.set_cookie(COOKIE, session.sid, httponly=True, samesite="Lax", secure=secure_cookie, path="/")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
            resp.headers.setdefault("Content-Language", g.get("lang", "id"))
        compress(resp)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(request.method, route, str(resp.status_code)).inc()
        if "started" in g:
            HTTP_SECONDS.labels(request.method, route).observe(time.perf_counter() - g.started)
        return resp

    def t(key: str, **kw) -> str:
        return messages.text(g.get("lang", "id"), key, **kw)

    def render(template: str, **ctx):
        flashes = g.sess.pop("flash", []) if "sess" in g else []
        sess = g.get("sess") or {}
        return render_template(
            template, t=t, has=messages.has, lang=g.get("lang", "id"), csrf=sess.get("csrf", ""),
            new_key=lambda: uuid.uuid4().hex, logged_in=bool(sess.get("token")), flashes=flashes,
            asset=lambda name: url_for("static", filename=name, v=versions.get(name, "")),
            fmt_money=fmt_money, fmt_time=fmt_time, fmt_date=fmt_date, status_text=lambda s: t("s." + s),
            max_upload_mb=MAX_UPLOAD // (1024 * 1024), **ctx)

    def flash(key: str, level: str = "ok", **kw):
        g.sess.setdefault("flash", []).append({"kind": level, "text": t(key, **kw)})

    def problem_text(answer: gateway.Answer) -> str:
        return messages.problem(g.lang, answer.slug, answer.status)

    def field_errors(answer: gateway.Answer) -> dict:
        out: dict[str, str] = {}
        for e in answer.field_errors:
            out.setdefault(e.get("field", ""), messages.field_error(g.lang, e.get("field", ""), e.get("message", "")))
        return out

    # -- calling the gateway -----------------------------------------------------------------
    def api(method: str, path: str, body=None, key: str | None = None, **kw) -> gateway.Answer:
        answer = gateway.call(method, path, body, token=g.sess.get("token"), idempotency_key=key, **kw)
        if answer.status == 401 and g.sess.get("token"):
            g.sess.pop("token", None)
            raise LoggedOut()
        return answer

    def login_required(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            if not g.sess.get("token"):
                return redirect(url_for("login", next=request.path))
            return view(*args, **kwargs)
        return inner

    def once(view):
        """A form posted again with the same Idempotency-Key (a double tap, a resubmit after a
        dropped connection) gets the first result instead of doing it again."""
        @functools.wraps(view)
        def inner(*args, **kwargs):
            key = request.form.get("idem", "")
            done = g.sess.setdefault("done", {})
            if key and key in done:
                return redirect(done[key])
            resp = view(*args, **kwargs)
            # Sent to the waiting room: not done yet, the same form comes back once admitted.
            if key and not g.get("not_done") and getattr(resp, "status_code", 200) in (301, 302, 303):
                done[key] = resp.headers["Location"]
                while len(done) > 50:
                    done.pop(next(iter(done)))
            return resp
        return inner

    def fetch_application(app_id: str) -> dict:
        answer = api("GET", f"/v1/applications/{quote(app_id, safe='')}")
        if answer.status == 404 or answer.status == 422:
            abort(404)
        if not answer.ok:
            abort(500)
        return answer.body

    def offices() -> list[dict]:
        cached = app.config.get("_offices")
        if cached and time.monotonic() - cached[0] < 300:
            return cached[1]
        answer = api("GET", "/v1/offices")
        items = answer.body["items"] if answer.ok else []
        if items:
            app.config["_offices"] = (time.monotonic(), items)
        return items

    def office_of(office_id: str) -> dict:
        office = next((o for o in offices() if o["office_id"] == office_id),
                      {"office_id": office_id, "name": office_id, "timezone": "Asia/Jakarta", "address": ""})
        g.zone = office.get("timezone") or "Asia/Jakarta"
        return office

    # -- errors ------------------------------------------------------------------------------
    @app.errorhandler(Busy)
    def busy(err: Busy):
        WAITING_PAGES.inc()
        fields = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf"]
        resp = Response(render("waiting.html", seconds=err.retry_after, fields=fields,
                               is_post=request.method == "POST", action=request.path,
                               again=request.full_path.rstrip("?")), status=503)
        resp.headers["Retry-After"] = str(err.retry_after)
        return resp

    for unreachable in mongo.STORE_UNREACHABLE:  # e.g. the pre-login record deleted at rotation
        app.register_error_handler(unreachable, lambda _err: store_down())

    @app.errorhandler(LoggedOut)
    def logged_out(_err):
        flash("login.expired", "warn")
        return redirect(url_for("login", next=request.path))

    @app.errorhandler(404)
    def not_found(_err):
        return render("error.html", title=t("notfound.title"), message=t("notfound.body")), 404

    @app.errorhandler(413)
    def too_large(_err):
        return render("error.html", title=t("upload.too_large_title"), message=t("upload.too_large", mb=5)), 413

    @app.errorhandler(Exception)
    def failed(err):
        if isinstance(err, HTTPException):
            return render("error.html", title=str(err.code), message=t("error.generic")), err.code
        logger.exception("page failed")
        return render("error.html", title=t("error.title"), message=t("error.generic")), 500

    # -- operations --------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        try:
            ok = gateway.call("GET", "/healthz").ok
        except Busy:
            ok = False
        if not ok:
            return {"status": "gateway unreachable"}, 503
        return ({"status": "ready"}, 200) if store.ping() else ({"status": "session store unreachable"}, 503)

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/lang/<code>")
    def set_lang(code: str):
        if code in messages.LANGUAGES:
            g.sess["lang"] = code
        return redirect(safe_next(request.args.get("next")))

    # -- landing, accounts -------------------------------------------------------------------
    @app.get("/")
    def landing():
        return render("landing.html")

    @app.route("/register", methods=["GET", "POST"])
    @once
    def register():
        form, errors, message = dict(request.form), {}, None
        if request.method == "POST":
            body = {k: form.get(k, "").strip() for k in ("nik", "full_name", "birth_date", "email", "phone")}
            body["password"] = form.get("password", "")
            answer = api("POST", "/v1/accounts", body, key=form.get("idem"))
            if answer.status == 201:
                token = gateway.call("POST", "/v1/auth/token", {"email": body["email"], "password": body["password"]})
                if token.ok:
                    start_login(token.body["access_token"])
                    flash("register.done")
                    return redirect(url_for("applications"), 303)
                return redirect(url_for("login"), 303)
            errors = field_errors(answer)
            if answer.slug == "nik-taken":
                errors["nik"] = problem_text(answer)
            elif answer.slug == "email-taken":
                errors["email"] = problem_text(answer)
            message = t("form.fix") if errors else problem_text(answer)
        form.pop("password", None)
        return render("register.html", form=form, errors=errors, message=message)

    def start_login(token: str):
        store.rotate(g.session)  # same data under a new id; the pre-login id is deleted
        g.rotated = True
        g.sess["token"] = token

    @app.route("/login", methods=["GET", "POST"])
    def login():
        message = None
        if request.method == "POST":
            answer = gateway.call("POST", "/v1/auth/token", {"email": request.form.get("email", "").strip(),
                                                             "password": request.form.get("password", "")})
            if answer.ok:
                start_login(answer.body["access_token"])
                return redirect(safe_next(request.form.get("next")) if request.form.get("next") else url_for("applications"), 303)
            message = problem_text(answer)
        return render("login.html", message=message, email=request.form.get("email", ""),
                      next=request.values.get("next", ""))

    @app.route("/forgot", methods=["GET", "POST"])
    def forgot():
        if request.method == "POST":
            email = request.form.get("email", "").strip()
            if email:
                gateway.call("POST", "/v1/auth/password-reset", {"email": email})  # 202 for any email
                g.sess["reset_email"] = email
                flash("forgot.sent")
                return redirect(url_for("forgot_confirm"), 303)
        return render("forgot.html", email=request.form.get("email", ""))

    @app.route("/forgot/confirm", methods=["GET", "POST"])
    @once
    def forgot_confirm():
        form, errors = dict(request.form), {}
        form.setdefault("email", g.sess.get("reset_email", ""))
        if request.method == "POST":
            answer = gateway.call("POST", "/v1/auth/password-reset/confirm", {
                "email": form.get("email", "").strip(), "code": form.get("code", "").strip(),
                "new_password": form.get("new_password", "")}, idempotency_key=form.get("idem"))
            if answer.ok:
                g.sess.pop("reset_email", None)
                flash("forgot.done")
                return redirect(url_for("login"), 303)
            if answer.slug == "reset-code-invalid":
                errors["code"] = problem_text(answer)
            else:
                errors = {e: (t("f.password") if e == "new_password" else msg) for e, msg in field_errors(answer).items()}
                if not errors:
                    errors["code"] = problem_text(answer)
        form.pop("new_password", None)
        return render("forgot_confirm.html", form=form, errors=errors)

    @app.post("/logout")
    def logout():
        lang = g.lang
        store.drop(g.session)  # deleted in the store: the old cookie opens nothing on any replica
        g.session = store.load(None)
        g.sess = g.session.data
        g.sess["lang"] = lang
        g.rotated = True
        flash("logout.done")
        return redirect(url_for("landing"), 303)

    # -- applications --------------------------------------------------------------------------
    @app.get("/applications")
    @login_required
    def applications():
        answer = api("GET", "/v1/applications")
        items = sorted(answer.body["items"] if answer.ok else [], key=lambda a: a.get("created_at", ""), reverse=True)
        return render("applications.html", items=items, offices={o["office_id"]: o for o in offices()})

    @app.route("/applications/new", methods=["GET", "POST"])
    @login_required
    @once
    def new_application():
        form, errors, message = dict(request.form), {}, None
        if request.method == "POST":
            body = {"office_id": form.get("office_id", ""), "passport_type": form.get("passport_type", ""),
                    "validity_years": int(form["validity_years"]) if form.get("validity_years", "").isdigit() else 0,
                    "service_type": form.get("service_type", ""), "express": form.get("express") == "1",
                    "priority_group": form.get("priority_group") or None}
            answer = api("POST", "/v1/applications", body, key=form.get("idem"))
            if answer.status == 201:
                return redirect(url_for("documents", app_id=answer.body["application_id"]), 303)
            errors, message = field_errors(answer), problem_text(answer)
        return render("new_application.html", form=form, errors=errors, message=message, offices=offices(),
                      groups=PRIORITY_GROUPS)

    @app.get("/applications/<app_id>")
    @login_required
    def status(app_id: str):
        application = fetch_application(app_id)
        notes = api("GET", f"/v1/applications/{quote(app_id)}/notifications")
        return render("status.html", a=application, office=office_of(application["office_id"]),
                      notifications=notes.body["items"] if notes.ok else [],
                      waitlisted=waitlist_place(app_id) if application["status"] == "DRAFT" else None,
                      entered=latest_entry(app_id) if application["status"] == "DRAFT" else None)

    def waitlist_place(app_id: str) -> dict | None:
        """Where the application waits now, read from the API (the place moves as seats are offered)."""
        answer = api("GET", f"/v1/applications/{quote(app_id)}/waitlist")
        return answer.body if answer.ok and isinstance(answer.body, dict) and answer.body.get("waiting") else None

    def ballot_entries(app_id: str) -> list[dict]:
        """The entries made with this application, read back from the API (booking owns them)."""
        answer = api("GET", f"/v1/applications/{quote(app_id)}/ballot-entries")
        return (answer.body.get("items") or []) if answer.ok and isinstance(answer.body, dict) else []

    def latest_entry(app_id: str) -> dict | None:
        items = ballot_entries(app_id)
        if not items:
            return None
        e = items[-1]
        return {"ballot_id": e["ballot_id"], "date": e["ballot"]["date"], "lane": e["ballot"]["lane"],
                "draw_at": e["ballot"]["draw_at"], "outcome": e.get("outcome")}

    @app.route("/applications/<app_id>/documents", methods=["GET", "POST"])
    @login_required
    def documents(app_id: str):
        application = fetch_application(app_id)
        errors: dict[str, str] = {}
        uploads = g.sess.setdefault("uploads", {})  # idem -> (kind, bytes): a retry needs no new file choice
        if request.method == "POST":
            key, kind = request.form.get("idem", ""), request.form.get("kind", "")
            done = g.sess.setdefault("done", {})
            if key in done:
                return redirect(done[key], 303)
            upload = request.files.get("file")
            content = upload.read(MAX_UPLOAD + 1) if upload and upload.filename else None
            if content is None and key in uploads and uploads[key][0] == kind:
                content = uploads[key][1]
            if kind not in DOCUMENT_KINDS:
                abort(400)
            if not content:
                errors[kind] = t("upload.choose")
            elif len(content) > MAX_UPLOAD:
                errors[kind] = t("upload.too_large", mb=MAX_UPLOAD // (1024 * 1024))
            else:
                uploads[key] = (kind, content)
                while len(uploads) > 1:  # one pending file per session is enough to retry
                    uploads.pop(next(iter(uploads)))
                raw, ctype = gateway.multipart({"kind": kind}, {"file": ("upload", content)})
                answer = api("POST", f"/v1/applications/{quote(app_id)}/documents", raw=raw, content_type=ctype, key=key)
                uploads.pop(key, None)
                if answer.status == 201:
                    flash("upload.done", kind=t("doc." + kind))
                    done[key] = url_for("documents", app_id=app_id)
                    return redirect(done[key], 303)
                errors[kind] = problem_text(answer)
        listed = api("GET", f"/v1/applications/{quote(app_id)}/documents")
        have = {d["kind"]: d for d in (listed.body["items"] if listed.ok else [])}
        groups = required_documents(application)
        missing = [grp for grp in groups if not any(k in have for k in grp)]
        # A group of alternatives (birth certificate, marriage book or diploma) shows all of them
        # until one is there, then only what was uploaded.
        kinds = [k for grp in groups for k in ([k for k in grp if k in have] or grp)]
        labels = [t("doc." + grp[0]) if len(grp) == 1 else
                  t("docs.one_of", list=", ".join(t("doc." + k) for k in grp)) for grp in missing]
        return render("documents.html", a=application, have=have, missing="; ".join(labels), kinds=kinds,
                      errors=errors, office=office_of(application["office_id"]))

    def listing(office_id: str, day: dt.date, lane: str) -> list[dict]:
        answer = gateway.call("GET", f"/v1/offices/{quote(office_id)}/slots?" + urlencode({"date": day.isoformat(), "lane": lane}))
        return answer.body["items"] if answer.ok else []

    @app.get("/applications/<app_id>/slots")
    @login_required
    def slots(app_id: str):
        application = fetch_application(app_id)
        mode = "reschedule" if request.args.get("mode") == "reschedule" else "book"
        office = office_of(application["office_id"])
        zone = ZoneInfo(office.get("timezone") or "Asia/Jakarta")
        lanes = lanes_of(application)
        lane = request.args.get("lane") if request.args.get("lane") in lanes else lanes[0]
        today = dt.datetime.now(zone).date()
        start = today + dt.timedelta(days=1)
        days = [start + dt.timedelta(days=i) for i in range(CALENDAR_DAYS)]
        chosen = None
        if request.args.get("date"):
            try:
                chosen = dt.date.fromisoformat(request.args["date"])
            except ValueError:
                chosen = None
        listings = dict(zip(days, pool.map(lambda d: listing(application["office_id"], d, lane), days)))
        as_of = dt.datetime.now(zone)
        times = listings.get(chosen) if chosen in listings else (listing(application["office_id"], chosen, lane) if chosen else None)
        every_ballot = office_ballots(application["office_id"])
        ballots = taking_entries(every_ballot, lanes) if mode == "book" and application["status"] == "DRAFT" else []
        # Dates of this lane whose seats go by a draw not yet done: booking them is refused
        # (409 ballot-pending), so the calendar says "by ballot" instead of counting seats.
        by_ballot = {b["date"]: b for b in every_ballot
                     if b.get("lane") == lane and b.get("status") in PENDING_BALLOT_STATUSES}
        enterable = {b["ballot_id"] for b in ballots}
        cells = []
        for d in days:
            items, ballot = listings[d], by_ballot.get(d.isoformat())
            cells.append({"date": d, "open": bool(items), "remaining": sum(s["remaining"] for s in items),
                          "ballot": ballot, "enter": ballot["ballot_id"] if ballot and ballot["ballot_id"] in enterable else None})
        pad = days[0].weekday()  # Monday first, like Indonesian wall calendars
        return render("slots.html", a=application, office=office, lanes=lanes, lane=lane, cells=cells, pad=pad,
                      chosen=chosen, times=times, as_of=as_of, mode=mode, zone_abbr=as_of.strftime("%Z"),
                      ballots=ballots,
                      entered_ids={e["ballot_id"] for e in ballot_entries(app_id)} if ballots else set(),
                      chosen_ballot=by_ballot.get(chosen.isoformat()) if chosen else None)

    def office_ballots(office_id: str) -> list[dict]:
        """Every ballot the office has published (an office that releases by ballot gives those
        dates' seats by draw, not first come first served)."""
        answer = gateway.call("GET", f"/v1/offices/{quote(office_id)}/ballots")
        return (answer.body.get("items") or []) if answer.ok and isinstance(answer.body, dict) else []

    def taking_entries(every_ballot: list[dict], lanes: list[str]) -> list[dict]:
        """The ballots taking entries now for a lane this application may book."""
        now = dt.datetime.now(dt.timezone.utc)
        out = []
        for b in every_ballot:
            try:
                window = (dt.datetime.fromisoformat(b["entries_open_at"]), dt.datetime.fromisoformat(b["entries_close_at"]))
            except (KeyError, TypeError, ValueError):
                continue
            if b.get("status") == "OPEN" and b.get("lane") in lanes and window[0] <= now < window[1]:
                out.append(b)
        return sorted(out, key=lambda b: (b["date"], b["lane"]))

    @app.post("/applications/<app_id>/book")
    @login_required
    @once
    def book(app_id: str):
        slot_id, key = request.form.get("slot_id", ""), request.form.get("idem")
        back = url_for("slots", app_id=app_id, date=request.form.get("date", ""), lane=request.form.get("lane", ""))
        if not slot_id:
            flash("slots.choose_time", "warn")
            return redirect(back, 303)
        answer = api("POST", f"/v1/applications/{quote(app_id)}/appointment", {"slot_id": slot_id}, key=key,
                     headers=admission_pass(slot_id))
        if answer.slug in ("waiting-room", "admission-pass-invalid"):
            return to_the_queue(app_id, "book", slot_id)
        if answer.status == 201 or answer.slug == "appointment-exists":
            g.sess.get("queued", {}).pop(app_id, None)
            flash("book.done")
            return redirect(url_for("billing", app_id=app_id), 303)
        if answer.status == 404:
            abort(404)
        flash_problem(answer)
        if answer.slug == "documents-missing":
            return redirect(url_for("documents", app_id=app_id), 303)
        return redirect(back, 303)

    # -- the waiting room in front of booking (docs/waiting-room.md) ---------------------------
    def admission_pass(slot_id: str) -> dict:
        """The pass the office's waiting room gave this session, sent with its bookings."""
        token = g.sess.get("passes", {}).get(slot_id.split("-", 1)[0])
        return {"X-Admission-Pass": token} if token else {}

    def to_the_queue(app_id: str, action: str, slot_id: str):
        """Remember the form (same Idempotency-Key) and show the applicant their place in line."""
        g.sess.get("passes", {}).pop(slot_id.split("-", 1)[0], None)  # refused: it is no use any more
        g.sess.setdefault("queued", {})[app_id] = {
            "action": action, "slot_id": slot_id, "idem": request.form.get("idem", ""),
            "date": request.form.get("date", ""), "lane": request.form.get("lane", "")}
        g.not_done = True
        return redirect(url_for("queue", app_id=app_id), 303)

    @app.get("/applications/<app_id>/queue")
    @login_required
    def queue(app_id: str):
        pending = g.sess.get("queued", {}).get(app_id)
        if not pending:
            return redirect(url_for("slots", app_id=app_id), 303)
        office_id = pending["slot_id"].split("-", 1)[0]
        place = asked_place(office_id)
        if place is not None:  # asked already and told when to come back: another tab, or a press of "Periksa"
            answer = gateway.Answer(200, place, {})
        else:
            answer = api("POST", f"/v1/offices/{quote(office_id)}/waiting-room")
            place = answer.body if answer.ok else {}
            if answer.ok and place["status"] in ("waiting", "drawing"):
                g.sess.setdefault("room_places", {})[office_id] = {"place": place, "at": time.time()}
            else:
                g.sess.get("room_places", {}).pop(office_id, None)
        if answer.status == 404:
            abort(404)
        if answer.ok and place["status"] == "expired":
            g.sess["queued"].pop(app_id, None)
            flash("queue.expired", "warn")
            return redirect(url_for("status", app_id=app_id), 303)
        admitted = answer.status == 409 or (answer.ok and place["status"] == "admitted")  # 409: the room closed
        if answer.ok and place.get("admission_pass"):
            g.sess.setdefault("passes", {})[office_id] = place["admission_pass"]
        if not answer.ok and not admitted:
            flash_problem(answer)
            return redirect(url_for("status", app_id=app_id), 303)
        wait = int(place.get("estimated_wait_seconds") or 0)
        resp = Response(render("queue.html", office=office_of(office_id), place=place, admitted=admitted,
                               pending=pending, app_id=app_id, minutes=max(1, round(wait / 60)), seconds=wait,
                               refresh=int(place.get("poll_after_seconds") or 5),
                               refresh_ms=int(place.get("poll_after_ms") or 1000 * int(place.get("poll_after_seconds") or 5))))
        if not admitted:
            resp.headers["Retry-After"] = str(int(place.get("poll_after_seconds") or 5))
        return resp

    def asked_place(office_id: str) -> dict | None:
        """The place the room gave this session, while the time it gave to come back has not come: the
        room counts asks before that time against the account (again and again, they move the place to
        the back of the line), so several tabs or impatient presses are answered here, with the wait
        counted down, and never reach it early."""
        asked = g.sess.get("room_places", {}).get(office_id)
        if not asked:
            return None
        elapsed = time.time() - asked["at"]
        left_ms = int(asked["place"]["poll_after_ms"] - elapsed * 1000)
        if left_ms <= 0:
            g.sess["room_places"].pop(office_id, None)
            return None
        return dict(asked["place"], poll_after_ms=left_ms, poll_after_seconds=max(1, -(-left_ms // 1000)),
                    estimated_wait_seconds=max(0, int(asked["place"]["estimated_wait_seconds"] - elapsed)))

    def flash_problem(answer: gateway.Answer):
        g.sess.setdefault("flash", []).append({"kind": "error", "text": problem_text(answer)})

    @app.post("/applications/<app_id>/reschedule")
    @login_required
    @once
    def reschedule(app_id: str):
        slot_id = request.form.get("slot_id", "")
        answer = api("PUT", f"/v1/applications/{quote(app_id)}/appointment", {"slot_id": slot_id},
                     key=request.form.get("idem"), headers=admission_pass(slot_id))
        if answer.slug in ("waiting-room", "admission-pass-invalid"):
            return to_the_queue(app_id, "reschedule", slot_id)
        if answer.ok:
            flash("reschedule.done")
            return redirect(url_for("status", app_id=app_id), 303)
        if answer.status == 404:
            abort(404)
        flash_problem(answer)
        return redirect(url_for("status", app_id=app_id), 303)

    @app.post("/applications/<app_id>/waitlist")
    @login_required
    @once
    def waitlist(app_id: str):
        body = {"date": request.form.get("date", ""), "lane": request.form.get("lane", "")}
        answer = api("POST", f"/v1/applications/{quote(app_id)}/waitlist", body, key=request.form.get("idem"))
        if answer.status == 201:
            flash("waitlist.done", position=answer.body["position"], date=fmt_date(body["date"]))
            return redirect(url_for("status", app_id=app_id), 303)
        if answer.status == 404:
            abort(404)
        flash_problem(answer)
        return redirect(url_for("slots", app_id=app_id, date=body["date"], lane=body["lane"]), 303)

    @app.post("/applications/<app_id>/ballot")
    @login_required
    @once
    def enter_ballot(app_id: str):
        application = fetch_application(app_id)
        office_of(application["office_id"])  # times in the office's zone
        ballot_id = request.form.get("ballot_id", "")
        back = url_for("slots", app_id=app_id)
        if not ballot_id:
            return redirect(back, 303)
        path = f"/v1/offices/{quote(application['office_id'])}/ballots/{quote(ballot_id)}/entries"
        answer = api("POST", path, {"application_id": app_id}, key=request.form.get("idem"))
        if answer.status == 201:  # the status and slot pages read the entry back from the API
            flash("ballot.done", date=fmt_date(request.form.get("date", "")), draw=fmt_time(request.form.get("draw_at", "")))
            return redirect(url_for("status", app_id=app_id), 303)
        if answer.status == 404 and answer.slug == "application-not-found":
            abort(404)
        flash_problem(answer)
        return redirect(back, 303)

    @app.route("/applications/<app_id>/cancel", methods=["GET", "POST"])
    @login_required
    @once
    def cancel(app_id: str):
        application = fetch_application(app_id)
        if request.method == "POST":
            answer = api("DELETE", f"/v1/applications/{quote(app_id)}/appointment")
            if answer.ok:
                flash("cancel.done")
            else:
                flash_problem(answer)
            return redirect(url_for("status", app_id=app_id), 303)
        return render("cancel.html", a=application, office=office_of(application["office_id"]))

    @app.get("/applications/<app_id>/billing")
    @login_required
    def billing(app_id: str):
        application = fetch_application(app_id)
        answer = api("GET", f"/v1/applications/{quote(app_id)}/billing")
        if answer.status in (404, 409):  # 409 no-billing-yet: no appointment booked
            return render("error.html", title=t("billing.none_title"), message=t("billing.none")), answer.status
        bill = answer.body
        office = office_of(application["office_id"])
        zone = ZoneInfo(office.get("timezone") or "Asia/Jakarta")
        expires = dt.datetime.fromisoformat(bill["expires_at"]) if bill.get("expires_at") else None
        left = int((expires - dt.datetime.now(dt.timezone.utc)).total_seconds()) if expires else 0
        return render("billing.html", a=application, b=bill, left=max(0, left), office=office,
                      expires_local=expires.astimezone(zone) if expires else None)

    @app.post("/applications/<app_id>/billing/recheck")
    @login_required
    @once
    def recheck(app_id: str):
        answer = api("POST", f"/v1/applications/{quote(app_id)}/billing/recheck", {}, key=request.form.get("idem"))
        if answer.ok:
            flash("billing.recheck_" + ("paid" if answer.body.get("status") == "PAID" else "unpaid"),
                  "ok" if answer.body.get("status") == "PAID" else "warn")
        elif answer.status == 404:
            abort(404)
        else:
            flash_problem(answer)
        return redirect(url_for("billing", app_id=app_id), 303)

    @app.get("/applications/<app_id>/proof")
    @login_required
    def proof(app_id: str):
        application = fetch_application(app_id)
        if not application.get("appointment") or application["status"] not in PROOF_STATUSES:
            return render("error.html", title=t("proof.none_title"), message=t("proof.none")), 404
        me = api("GET", "/v1/me")
        qr = segno.make(application["application_id"], error="m")
        svg = qr.svg_inline(scale=5, border=2, dark="#000", light="#fff", omitsize=False,
                            title=application["application_id"])
        return render("proof.html", a=application, me=me.body if me.ok else {}, qr=Markup(svg),
                      office=office_of(application["office_id"]))

    # -- preferences -----------------------------------------------------------------------------
    @app.route("/preferences", methods=["GET", "POST"])
    @login_required
    @once
    def preferences():
        prefs = g.sess.get("prefs", {"language": g.lang, "channels": ["SMS", "EMAIL"]})
        message = None
        if request.method == "POST":
            body = {"language": request.form.get("language", "id"), "channels": request.form.getlist("channels")}
            answer = api("PUT", "/v1/me/notification-preferences", body, key=request.form.get("idem"))
            if answer.ok:
                g.sess["prefs"] = answer.body
                if answer.body["language"] in messages.LANGUAGES:
                    g.sess["lang"] = g.lang = answer.body["language"]
                flash("prefs.saved")
                return redirect(url_for("preferences"), 303)
            message = t("prefs.channels_needed") if answer.slug == "validation-error" else problem_text(answer)
            prefs = body
        return render("preferences.html", prefs=prefs, message=message)

    # -- complaints --------------------------------------------------------------------------------
    @app.route("/complaints/new", methods=["GET", "POST"])
    @once
    def complaint_new():
        form, errors, message = dict(request.form), {}, None
        logged_in = bool(g.sess.get("token"))
        if request.method == "POST":
            anonymous = not logged_in or form.get("anonymous") == "1"
            body = {"category": form.get("category", ""), "office_id": form.get("office_id", ""),
                    "description": form.get("description", "").strip(), "anonymous": anonymous}
            if form.get("application_id") and not anonymous:
                body["application_id"] = form["application_id"]
            if not body["description"]:
                errors["description"] = t("complaint.describe")
            else:
                # An anonymous report is sent without the token, so nothing ties it to the account.
                answer = gateway.call("POST", "/v1/complaints", body, token=None if anonymous else g.sess.get("token"),
                                      idempotency_key=form.get("idem"))
                if answer.status == 201:
                    g.sess["filed"] = {k: answer.body[k] for k in ("tracking_code", "access_pin", "due_at")}
                    return redirect(url_for("complaint_filed"), 303)
                errors, message = field_errors(answer), problem_text(answer)
        return render("complaint_new.html", form=form, errors=errors, message=message, offices=offices(),
                      categories=CATEGORIES)

    @app.get("/complaints/filed")
    def complaint_filed():
        filed = g.sess.pop("filed", None)  # shown once
        if not filed:
            return redirect(url_for("complaint_follow"))
        return render("complaint_filed.html", filed=filed)

    @app.route("/complaints/follow", methods=["GET", "POST"])
    def complaint_follow():
        code = (request.form.get("code") or "").strip().upper()
        pin = (request.form.get("pin") or "").strip()
        complaint, message = None, None
        if request.method == "POST":
            answer = gateway.call("GET", f"/v1/complaints/{quote(code, safe='')}", headers={"X-Access-Pin": pin})
            if answer.ok:
                complaint = answer.body
            else:
                message = t("complaint.not_found") if answer.status in (401, 403, 404, 422) else problem_text(answer)
                if answer.slug == "too-many-pin-attempts":
                    message = problem_text(answer)
        return render("complaint_follow.html", code=code, pin=pin if complaint else "", complaint=complaint,
                      message=message)

    @app.post("/complaints/evidence")
    def complaint_evidence():
        code = (request.form.get("code") or "").strip().upper()
        pin = (request.form.get("pin") or "").strip()
        upload = request.files.get("file")
        content = upload.read(MAX_UPLOAD + 1) if upload and upload.filename else b""
        if not content or len(content) > MAX_UPLOAD:
            message = t("upload.choose") if not content else t("upload.too_large", mb=5)
        else:
            raw, ctype = gateway.multipart({"kind": "EVIDENCE"}, {"file": ("upload", content)})
            answer = gateway.call("POST", f"/v1/complaints/{quote(code, safe='')}/attachments", raw=raw,
                                  content_type=ctype, headers={"X-Access-Pin": pin},
                                  idempotency_key=request.form.get("idem"))
            message = t("complaint.evidence_added") if answer.status == 201 else problem_text(answer)
        answer = gateway.call("GET", f"/v1/complaints/{quote(code, safe='')}", headers={"X-Access-Pin": pin})
        return render("complaint_follow.html", code=code, pin=pin if answer.ok else "",
                      complaint=answer.body if answer.ok else None, message=message)

    # -- the staff console (/petugas) and the waiting-room display (/antrean) --------------------------
    helpers = console.Helpers(render=render, t=t, flash=flash, once=once, store=store, problem_text=problem_text,
                              field_errors=field_errors)
    supervisor.install(app, helpers, *console.install(app, helpers))
    return app


COMPRESSIBLE = ("text/html", "text/css", "text/javascript", "application/javascript", "image/svg+xml")


def compress(resp: Response) -> None:
    """gzip pages and assets for clients that accept it: on a weak island network bytes are time."""
    if ("gzip" not in request.headers.get("Accept-Encoding", "") or resp.mimetype not in COMPRESSIBLE
            or resp.status_code < 200 or resp.status_code >= 300 or "Content-Encoding" in resp.headers):
        return
    resp.direct_passthrough = False  # static files: read them to compress them
    data = resp.get_data()
    if len(data) < 500:
        return
    resp.set_data(gzip.compress(data, compresslevel=6))
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"


# -- formatting (Indonesian conventions: Rp 650.000, 24-hour clock) -------------------------------
def fmt_money(amount: int) -> str:
    return "Rp " + f"{int(amount):,}".replace(",", ".")


def fmt_time(value) -> str:
    """A moment as the applicant's wall clock shows it (the office's zone), with the zone's name."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(g.get("zone") or "Asia/Jakarta"))
        return value.strftime("%d-%m-%Y %H:%M ") + value.strftime("%Z")
    return value.strftime("%d-%m-%Y %H:%M")


def fmt_date(value) -> str:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%d-%m-%Y")


def safe_next(target: str | None) -> str:
    """Only local paths (no open redirect)."""
    if target and re.fullmatch(r"/[A-Za-z0-9_/\-.?=&%]*", target) and not target.startswith("//"):
        return target
    return "/"
