"""The staff console (issue 17) under /petugas: the officer at the counter and the supervisor of the
office. Same process, sessions, CSRF, CSP and message catalogue as the applicant app, and like it a
plain client of the gateway's public HTTP API. The staff token lives in the session under "staff",
apart from an applicant's token, so one browser never mixes the two. See docs/console.md."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlencode

import segno
from flask import Flask, Response, abort, g, redirect, request, url_for
from markupsafe import Markup

from services.web import gateway

STAFF_ROLES = ("OFFICER", "SUPERVISOR")
LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH")
FINGERS = range(1, 11)  # ISO/IEC 19794-4 finger positions: 1-5 right thumb..little, 6-10 left
MISSING_REASONS = ("AMPUTATED", "INJURED", "BANDAGED", "UNUSABLE")
# Statuses at which the counter still has work to do for the application, in the order of the day.
CAPTURE_STATUSES = ("CHECKED_IN", "BIOMETRICS_CAPTURED")
MAX_IMAGE = 4_000_000  # the gateway's limit for photos and fingerprints


class StaffLoggedOut(Exception):
    """The gateway refused the staff token (expired, or the account was deactivated)."""


@dataclass
class Helpers:
    """What the console borrows from the applicant app's composition root (services/web/app.py)."""
    render: Callable
    t: Callable
    flash: Callable
    once: Callable
    store: object
    problem_text: Callable
    field_errors: Callable


def install(app: Flask, h: Helpers) -> None:
    render, t, flash = h.render, h.t, h.flash

    def staff() -> dict:
        return g.sess.get("staff") or {}

    def api(method: str, path: str, body=None, key: str | None = None, **kw) -> gateway.Answer:
        answer = gateway.call(method, path, body, token=staff().get("token"), idempotency_key=key, **kw)
        if answer.status == 401 and staff():
            g.sess.pop("staff", None)  # deactivated or expired: signed out on this very request
            raise StaffLoggedOut()
        return answer

    def staff_required(*roles: str):
        def wrap(view):
            @functools.wraps(view)
            def inner(*args, **kwargs):
                who = staff()
                if not who.get("token"):
                    return redirect(url_for("console_login", next=request.path))
                if roles and who.get("role") not in roles:
                    abort(403)
                g.zone = who.get("timezone") or "Asia/Jakarta"
                return view(*args, **kwargs)
            return inner
        return wrap

    def page(template: str, **ctx):
        return render("console/" + template, staff=staff(), **ctx)

    def flash_problem(answer: gateway.Answer):
        g.sess.setdefault("flash", []).append({"kind": "error", "text": h.problem_text(answer)})

    @app.errorhandler(StaffLoggedOut)
    def staff_logged_out(_err):
        flash("console.signed_out", "warn")
        return redirect(url_for("console_login"))

    # -- sign in / out ---------------------------------------------------------------------------
    def signed_in(token: str):
        """The session of a staff token, or None when the account is not staff."""
        me = gateway.call("GET", "/v1/me", token=token)
        if not (me.ok and me.body.get("role") in STAFF_ROLES):
            return None
        offices = gateway.call("GET", "/v1/offices")
        office = next((o for o in (offices.body or {}).get("items", [])
                       if o["office_id"] == me.body.get("office_id")), {})
        h.store.rotate(g.session)  # a session id seen before sign-in is not reused
        g.rotated = True
        g.sess["staff"] = {"token": token, "role": me.body["role"], "name": me.body["full_name"],
                           "account_id": me.body["account_id"], "office_id": me.body.get("office_id", ""),
                           "office_name": office.get("name", me.body.get("office_id", "")),
                           "timezone": office.get("timezone", "Asia/Jakarta")}
        target = request.form.get("next", "")
        return redirect(target if target.startswith("/petugas") else url_for("console_today"), 303)

    def credentials() -> dict:
        body = {"email": request.form.get("email", "").strip(), "password": request.form.get("password", "")}
        otp = request.form.get("otp", "").strip().replace(" ", "")
        return {**body, "otp": otp} if otp else body

    def enrolment_page(uri: str, secret: str, message=None):
        """The QR code of a new TOTP secret (an SVG drawn here: nothing leaves for another host) and
        the confirm form; the secret is in the page only (and its form, to draw it again after a
        mistyped code), never in the session or a log. The gateway trusts only its own copy."""
        svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff", omitsize=False,
                                                     title=t("console.totp.qr"))
        return page("totp.html", qr=Markup(svg), uri=uri, secret=secret,
                    grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                    email=request.form.get("email", "").strip(), message=message, next=request.values.get("next", ""))

    @app.route("/petugas/login", methods=["GET", "POST"])
    def console_login():
        message, need_otp = None, False
        if request.method == "POST":
            answer = gateway.call("POST", "/v1/auth/token", credentials())
            if answer.ok:
                done = signed_in(answer.body["access_token"])
                if done:
                    return done
                message = t("console.not_staff")
            elif answer.slug == "otp-enrolment-required":  # production: enrol before the first sign-in
                start = gateway.call("POST", "/v1/auth/totp/enrolment", credentials())
                if start.ok:
                    return enrolment_page(start.body["otpauth_uri"], start.body["secret"], t("console.totp.required"))
                message = h.problem_text(start)
            else:
                message, need_otp = h.problem_text(answer), answer.slug in ("otp-required", "otp-invalid")
        return page("login.html", message=message, email=request.form.get("email", ""), need_otp=need_otp,
                    next=request.values.get("next", ""))

    @app.route("/petugas/2fa", methods=["GET", "POST"])
    def console_totp():
        """Enrol an authenticator app: the password again, then the QR code and its first code."""
        message = None
        if request.method == "POST":
            answer = gateway.call("POST", "/v1/auth/totp/enrolment", credentials())
            if answer.ok:
                return enrolment_page(answer.body["otpauth_uri"], answer.body["secret"])
            message = h.problem_text(answer)
        return page("totp_start.html", message=message, email=request.form.get("email", ""))

    @app.post("/petugas/2fa/konfirmasi")
    def console_totp_confirm():
        answer = gateway.call("POST", "/v1/auth/totp/enrolment/confirm", {**credentials(), "otp": credentials().get("otp", "")})
        if answer.ok:
            done = signed_in(answer.body["access_token"])
            if done:
                # The recovery codes are in this page only: never in the session, a flash or a log.
                return page("totp_codes.html", codes=answer.body.get("recovery_codes", []), target=done.location)
        uri, secret = request.form.get("uri", ""), request.form.get("secret", "")
        if answer.slug in ("otp-invalid", "invalid-credentials", "validation-error") and uri.startswith("otpauth://totp/") \
                and secret.isalnum() and len(uri) < 512:
            return enrolment_page(uri, secret, h.problem_text(answer))
        return page("totp_start.html", message=h.problem_text(answer), email=request.form.get("email", ""))

    @app.post("/petugas/logout")
    def console_logout():
        g.sess.pop("staff", None)
        flash("console.logged_out")
        return redirect(url_for("console_login"), 303)

    # -- today's queue -----------------------------------------------------------------------------
    @app.get("/petugas")
    @staff_required()
    def console_today():
        who = staff()
        lane = request.args.get("lane", "")
        page_no = request.args.get("page", "1")
        # No date: the gateway's "today" of the office (the platform's one clock, not this process's).
        params = {"page": page_no if page_no.isdigit() else "1", "page_size": "50"}
        if request.args.get("date"):
            params["date"] = request.args["date"]
        if lane in LANES:
            params["lane"] = lane
        listing = api("GET", f"/v1/offices/{quote(who['office_id'])}/appointments?" + urlencode(params))
        rows = listing.body if listing.ok else {"items": [], "total": 0, "page": 1, "page_size": 50,
                                                 "date": params.get("date", "")}
        calls = api("GET", f"/v1/offices/{quote(who['office_id'])}/queue")
        return page("today.html", day=rows.get("date") or params.get("date", ""), lane=lane, lanes=LANES, rows=rows,
                    message=None if listing.ok else h.problem_text(listing),
                    calls=(calls.body or {}).get("items", [])[:8] if calls.ok else [], desk=g.sess.get("desk", ""))

    @app.get("/petugas/cari")
    @staff_required()
    def console_search():
        q = request.args.get("q", "").strip()
        items, message = [], None
        if q:
            answer = api("GET", f"/v1/offices/{quote(staff()['office_id'])}/applications?" + urlencode({"q": q}))
            if answer.ok:
                items = answer.body["items"]
                message = None if items else t("console.search_none", q=q)
            else:
                message = t("console.search_short") if answer.status == 422 else h.problem_text(answer)
        if len(items) == 1 and request.args.get("go") == "1":  # a scanned QR code or billing code: open it
            return redirect(url_for("console_application", app_id=items[0]["application_id"]))
        return page("search.html", q=q, items=items, message=message)

    @app.post("/petugas/panggil")
    @staff_required()
    @h.once
    def console_call_next():
        who, desk = staff(), request.form.get("desk", "").strip()[:40]
        g.sess["desk"] = desk
        answer = api("POST", f"/v1/offices/{quote(who['office_id'])}/queue/next", {"desk": desk} if desk else {},
                     key=request.form.get("idem"))
        if answer.status == 404:
            flash("console.queue_empty", "warn")
            return redirect(url_for("console_today"), 303)
        if not answer.ok:
            flash_problem(answer)
            return redirect(url_for("console_today"), 303)
        number = answer.body["number"]
        flash("console.called", number=number, desk=desk or "-")
        app_id = application_of_number(who, number)
        if app_id:
            return redirect(url_for("console_application", app_id=app_id), 303)
        return redirect(url_for("console_today"), 303)

    def application_of_number(who: dict, number: str) -> str | None:
        """The application holding a queue number today (the queue call answers the number only)."""
        for page_no in range(1, 11):
            answer = api("GET", f"/v1/offices/{quote(who['office_id'])}/appointments?"
                         + urlencode({"page": page_no, "page_size": 200}))
            if not answer.ok:
                return None
            for row in answer.body["items"]:
                if row.get("queue_number") == number:
                    return row["application_id"]
            if page_no * 200 >= answer.body.get("total", 0):
                return None
        return None

    @app.post("/petugas/antrean/<number>/<action>")
    @staff_required()
    @h.once
    def console_queue_again(number: str, action: str):
        if action not in ("recall", "skip"):
            abort(404)
        desk = g.sess.get("desk", "")
        answer = api("POST", f"/v1/offices/{quote(staff()['office_id'])}/queue/{quote(number, safe='')}/{action}",
                     {"desk": desk} if desk else {})
        if answer.ok:
            flash("console." + action + "ed", number=number)
        else:
            flash_problem(answer)
        return redirect(url_for("console_today"), 303)

    # -- one application at the counter ------------------------------------------------------------
    def application(app_id: str) -> dict:
        answer = api("GET", f"/v1/applications/{quote(app_id, safe='')}")
        if answer.status in (403, 404, 422):
            abort(404)  # another office's application reads as not found, never as forbidden
        if not answer.ok:
            abort(502)
        if answer.body.get("office_id") != staff().get("office_id"):
            abort(404)
        return answer.body

    @app.get("/petugas/permohonan/<app_id>")
    @staff_required()
    def console_application(app_id: str):
        a = application(app_id)
        row = next((r for r in (api("GET", f"/v1/offices/{quote(a['office_id'])}/applications?"
                                    + urlencode({"q": app_id})).body or {}).get("items", [])
                    if r["application_id"] == app_id), {})
        docs = api("GET", f"/v1/applications/{quote(app_id)}/documents")
        bio = None
        if a["status"] not in ("DRAFT", "AWAITING_PAYMENT", "PAID", "EXPIRED", "CANCELLED", "NO_SHOW"):
            answer = api("GET", f"/v1/applications/{quote(app_id)}/biometrics")
            bio = answer.body if answer.ok else None
        step = step_of(a, bio)
        # The last capture's checks are shown while capturing (and right after it); later steps drop them.
        checks = g.sess.setdefault("checks", {})
        if step not in ("photo", "fingers", "interview"):
            checks.pop(app_id, None)
        last = checks.get(app_id)
        return page("application.html", a=a, row=row, docs=(docs.body or {}).get("items", []) if docs.ok else [],
                    bio=bio, last=last, fingers=FINGERS, missing_reasons=MISSING_REASONS, step=step)

    def step_of(a: dict, bio: dict | None) -> str:
        """The counter's next step for this application: the page opens its form with the focus on its
        first field (autofocus; redirects carry no #fragment, since a fragment target disables autofocus)."""
        status = a["status"]
        if status == "PAID":
            return "checkin"
        if status in CAPTURE_STATUSES and bio is not None:
            if not bio.get("photo_accepted"):
                return "photo"
            if not bio.get("complete"):
                return "fingers"
            if not bio.get("interview_outcome"):
                return "interview"
            return "wait"
        return {"APPROVED": "issue", "ISSUED": "handover"}.get(status, "done")

    @app.post("/petugas/permohonan/<app_id>/check-in")
    @staff_required()
    @h.once
    def console_check_in(app_id: str):
        a = application(app_id)
        body = {"application_id": app_id}
        if request.form.get("priority_decision") in ("CONFIRMED", "REFUSED"):
            body["priority_decision"] = request.form["priority_decision"]
        answer = api("POST", f"/v1/offices/{quote(a['office_id'])}/check-ins", body, key=request.form.get("idem"))
        if answer.status == 201:
            return redirect(url_for("console_ticket", app_id=app_id, number=answer.body["queue_number"]), 303)
        flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    @app.get("/petugas/permohonan/<app_id>/tiket/<number>")
    @staff_required()
    def console_ticket(app_id: str, number: str):
        a = application(app_id)
        if (a.get("appointment") or {}).get("queue_number") != number:
            abort(404)
        return page("ticket.html", a=a, number=number)

    @app.get("/petugas/permohonan/<app_id>/dokumen/<doc_id>")
    @staff_required()
    def console_document(app_id: str, doc_id: str):
        answer = api("GET", f"/v1/applications/{quote(app_id, safe='')}/documents/{quote(doc_id, safe='')}")
        if not answer.ok:
            abort(404)
        return binary(answer)

    @app.get("/petugas/permohonan/<app_id>/foto")
    @staff_required()
    def console_photo(app_id: str):
        answer = api("GET", f"/v1/applications/{quote(app_id, safe='')}/biometrics/photo")
        if not answer.ok:
            abort(404)
        return binary(answer)

    def binary(answer: gateway.Answer) -> Response:
        ctype = next((v for k, v in answer.headers.items() if k.lower() == "content-type"), "application/octet-stream")
        if ctype.split(";")[0] not in ("image/jpeg", "image/png", "application/pdf"):
            ctype = "application/octet-stream"
        resp = Response(answer.content, mimetype=ctype)
        resp.headers["Content-Disposition"] = "inline"
        return resp

    def image_upload() -> bytes | None:
        upload = request.files.get("file")
        content = upload.read(MAX_IMAGE + 1) if upload and upload.filename else b""
        return content or None

    def remember_checks(app_id: str, what: str, answer: gateway.Answer, extra: dict | None = None):
        checks = (answer.body or {}).get("checks") or []
        g.sess.setdefault("checks", {})[app_id] = {"what": what, "accepted": answer.status == 201,
                                                   "checks": checks, **(extra or {})}
        while len(g.sess["checks"]) > 20:
            g.sess["checks"].pop(next(iter(g.sess["checks"])))

    @app.post("/petugas/permohonan/<app_id>/foto")
    @staff_required("OFFICER")
    @h.once
    def console_capture_photo(app_id: str):
        content = image_upload()
        if content is None or len(content) > MAX_IMAGE:
            flash("upload.choose" if content is None else "console.image_too_large", "error")
            return redirect(url_for("console_application", app_id=app_id), 303)
        fields = {}
        reason = request.form.get("override_reason", "").strip()[:500]
        if reason:
            fields["override_reason"] = reason
        raw, ctype = gateway.multipart(fields, {"file": ("photo", content)})
        answer = api("POST", f"/v1/applications/{quote(app_id, safe='')}/biometrics/photo", raw=raw,
                     content_type=ctype, key=request.form.get("idem"))
        if answer.status == 404:
            abort(404)
        remember_checks(app_id, "photo", answer)
        if answer.status == 201:
            flash("console.photo_ok")
        elif answer.slug != "checks-failed":
            flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    @app.post("/petugas/permohonan/<app_id>/sidik-jari")
    @staff_required("OFFICER")
    @h.once
    def console_capture_finger(app_id: str):
        finger = request.form.get("finger", "")
        missing = request.form.get("missing_reason", "")
        content = image_upload()
        if not missing and content is None:
            flash("console.finger_choose", "error")
            return redirect(url_for("console_application", app_id=app_id), 303)
        fields = {"finger": finger}
        if missing:
            fields["missing_reason"] = missing
        files = {"file": ("finger", content)} if content and not missing else {}
        raw, ctype = gateway.multipart(fields, files)
        answer = api("POST", f"/v1/applications/{quote(app_id, safe='')}/biometrics/fingerprints", raw=raw,
                     content_type=ctype, key=request.form.get("idem"))
        if answer.status == 404:
            abort(404)
        remember_checks(app_id, "finger", answer, {"finger": finger})
        if answer.status == 201:
            flash("console.finger_ok", finger=t("finger." + finger) if finger.isdigit() else finger)
        elif answer.slug != "checks-failed":
            flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    @app.post("/petugas/permohonan/<app_id>/wawancara")
    @staff_required("OFFICER")
    @h.once
    def console_interview(app_id: str):
        f = request.form
        body = {"outcome": f.get("outcome", ""), "notes": f.get("notes", "").strip()}
        bap = {k: f.get("bap_" + k, "").strip() for k in ("report_number", "police_report_number", "circumstances")}
        if any(bap.values()) or f.get("bap_force_majeure"):
            body["bap"] = {**{k: v for k, v in bap.items() if v}, "force_majeure": f.get("bap_force_majeure") == "1"}
        answer = api("POST", f"/v1/applications/{quote(app_id, safe='')}/interview", body, key=f.get("idem"))
        if answer.ok:
            flash("console.interview_ok")
        elif answer.status == 404:
            abort(404)
        else:
            flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    @app.post("/petugas/permohonan/<app_id>/terbit")
    @staff_required()
    @h.once
    def console_issue(app_id: str):
        f = request.form
        body = {"passport_number": f.get("passport_number", "").strip().upper(), "delivery": f.get("delivery", "")}
        if f.get("address", "").strip():
            body["address"] = f["address"].strip()
        answer = api("POST", f"/v1/applications/{quote(app_id, safe='')}/issuance", body, key=f.get("idem"))
        if answer.ok:
            flash("console.issued")
        elif answer.status == 404:
            abort(404)
        else:
            flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    @app.post("/petugas/permohonan/<app_id>/serah")
    @staff_required()
    @h.once
    def console_handover(app_id: str):
        tracking = request.form.get("tracking_number", "").strip()
        answer = api("POST", f"/v1/applications/{quote(app_id, safe='')}/handover",
                     {"tracking_number": tracking} if tracking else {}, key=request.form.get("idem"))
        if answer.ok:
            flash("console.shipped" if answer.body["status"] == "SHIPPED" else "console.collected")
        elif answer.status == 404:
            abort(404)
        else:
            flash_problem(answer)
        return redirect(url_for("console_application", app_id=app_id), 303)

    # -- the waiting-room display (public: numbers only) -----------------------------------------
    @app.get("/antrean/<office_id>")
    def queue_display(office_id: str):
        answer = gateway.call("GET", f"/v1/offices/{quote(office_id, safe='')}/queue")
        if answer.status in (404, 422):
            abort(404)
        items = (answer.body or {}).get("items", []) if answer.ok else []
        offices = gateway.call("GET", "/v1/offices")
        office = next((o for o in (offices.body or {}).get("items", []) if o["office_id"] == office_id),
                      {"office_id": office_id, "name": office_id, "timezone": "Asia/Jakarta"})
        g.zone = office.get("timezone") or "Asia/Jakarta"
        called = [c for c in items if c["action"] in ("CALLED", "RECALLED")]
        return render("console/display.html", office=office, current=called[0] if called else None,
                      recent=called[1:9], refresh_s=5)

    return api, staff_required, page, flash_problem
