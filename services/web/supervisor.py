"""The supervisor's pages of the staff console (/petugas/...): the head of office's own office only.
Every call goes to the gateway's public API with the supervisor's token; see docs/console.md."""
from __future__ import annotations

import datetime as dt
import hashlib
import random
from urllib.parse import quote, urlencode

from flask import Flask, abort, g, redirect, request, url_for

from services.web import charts

LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT", "OUTREACH")
BALLOT_LANES = ("REGULAR", "PRIORITY", "EXPRESS", "REPLACEMENT")
STAT_FIELDS = ("offered", "booked", "paid", "checked_in", "no_show", "issued")
COMPLAINT_STATUSES = ("OPEN", "IN_PROGRESS", "RESOLVED", "REJECTED")
QUOTA_DAYS = 14
MAX_STATEMENT = 2 * 1024 * 1024  # the gateway's limit for a bank statement
# Outcomes of statement lines the bank did not confirm (the API's reconciliation answer): listed per line.
BANK_REFUSALS = ("bank-unknown-reference", "bank-amount-mismatch", "bank-not-paid", "bank-unavailable")
# (endpoint, catalogue key) of the supervisor's pages, in the order of the navigation.
SUPERVISOR_PAGES = [("sup_quota", "console.nav.quota"), ("sup_audit", "console.nav.audit"),
                    ("sup_statistics", "console.nav.statistics"), ("sup_complaints", "console.nav.complaints"),
                    ("sup_refunds", "console.nav.refunds"), ("sup_releases", "console.nav.releases"),
                    ("sup_reschedule", "console.nav.reschedule"), ("sup_staff", "console.nav.staff")]


def install(app: Flask, h, api, staff_required, page, flash_problem) -> None:
    app.jinja_env.globals["supervisor_pages"] = SUPERVISOR_PAGES
    t, flash = h.t, h.flash
    supervisor = staff_required("SUPERVISOR")

    def office() -> str:
        return quote(g.sess["staff"]["office_id"], safe="")

    def today() -> dt.date:
        """The office's today as the platform's clock has it (the date of the day's appointment list)."""
        answer = api("GET", f"/v1/offices/{office()}/appointments?page_size=1")
        try:
            return dt.date.fromisoformat(answer.body["date"])
        except (TypeError, KeyError, ValueError):
            return dt.date.today()

    def day_arg(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.args.get(name, ""))
        except ValueError:
            return default

    # -- quota calendar ------------------------------------------------------------------------------
    @app.route("/petugas/kuota", methods=["GET", "POST"])
    @supervisor
    @h.once
    def sup_quota():
        form, errors = dict(request.form), {}
        if request.method == "POST":
            if not form.get("reason", "").strip():
                errors["reason"] = t("sup.quota.reason_needed")
            capacity = form.get("capacity", "")
            if not capacity.isdigit():
                errors["capacity"] = t("sup.quota.capacity_bad")
            if not errors:
                body = {"date": form.get("date", ""), "lane": form.get("lane", ""), "capacity": int(capacity),
                        "reason": form["reason"].strip()}
                if form.get("start_time"):
                    body["start_time"] = form["start_time"]
                answer = api("PUT", f"/v1/offices/{office()}/quota", body, key=form.get("idem"))
                if answer.ok:
                    flash("sup.quota.saved", slots=answer.body["slots_changed"], date=body["date"])
                    return redirect(url_for("sup_quota", lane=body["lane"], start=body["date"]), 303)
                errors = h.field_errors(answer)
                flash_problem(answer)
        lane = request.values.get("lane") if request.values.get("lane") in LANES else "REGULAR"
        start = day_arg("start", today())
        days = [start + dt.timedelta(days=i) for i in range(QUOTA_DAYS)]
        cells = []
        for day in days:
            slots = api("GET", f"/v1/offices/{office()}/slots?" + urlencode({"date": day.isoformat(), "lane": lane}))
            items = (slots.body or {}).get("items", []) if slots.ok else []
            cells.append({"date": day, "slots": items, "capacity": sum(s["capacity"] for s in items),
                          "remaining": sum(s["remaining"] for s in items)})
        return page("quota.html", cells=cells, lane=lane, lanes=LANES, form=form, errors=errors,
                    earlier=(start - dt.timedelta(days=QUOTA_DAYS)).isoformat(),
                    later=(start + dt.timedelta(days=QUOTA_DAYS)).isoformat())

    # -- audit -----------------------------------------------------------------------------------------
    @app.get("/petugas/audit")
    @supervisor
    def sup_audit():
        end = day_arg("to", today())
        begin = day_arg("from", end)
        answer = api("GET", f"/v1/offices/{office()}/audit?" + urlencode({"from": begin.isoformat(), "to": end.isoformat()}))
        items = list(reversed(answer.body["items"])) if answer.ok else []  # newest first
        verification = None
        if request.args.get("verify") == "1":
            checked = api("GET", "/v1/audit/verify")
            verification = checked.body if checked.ok else {"ok": False, "reason": h.problem_text(checked)}
        return page("audit.html", items=items, begin=begin, end=end, verification=verification,
                    message=None if answer.ok else h.problem_text(answer))

    # -- statistics --------------------------------------------------------------------------------------
    @app.get("/petugas/statistik")
    @supervisor
    def sup_statistics():
        group = request.args.get("group") if request.args.get("group") in ("day", "month", "year") else "day"
        end = day_arg("to", today())
        begin = day_arg("from", end - dt.timedelta(days=29 if group == "day" else 364))
        answer = api("GET", f"/v1/offices/{office()}/statistics?" + urlencode(
            {"from": begin.isoformat(), "to": end.isoformat(), "group": group}))
        rows = answer.body["rows"] if answer.ok else []
        periods = [r["period"] for r in rows]
        series = [(t("stat." + f), [r[f] for r in rows]) for f in STAT_FIELDS]
        chart = charts.grouped_bars(t("sup.stats.chart", begin=begin.isoformat(), end=end.isoformat()),
                                    periods, series) if rows else None
        return page("statistics.html", rows=rows, total=answer.body["total"] if answer.ok else None, chart=chart,
                    fields=STAT_FIELDS, group=group, begin=begin, end=end, palette=charts.PALETTE,
                    message=None if answer.ok else h.problem_text(answer))

    # -- complaints -----------------------------------------------------------------------------------------
    @app.get("/petugas/pengaduan")
    @supervisor
    def sup_complaints():
        status = request.args.get("status") if request.args.get("status") in COMPLAINT_STATUSES else ""
        answer = api("GET", f"/v1/offices/{office()}/complaints" + (f"?status={status}" if status else ""))
        return page("complaints.html", items=answer.body["items"] if answer.ok else [], status=status,
                    statuses=COMPLAINT_STATUSES, message=None if answer.ok else h.problem_text(answer))

    @app.get("/petugas/pengaduan/<complaint_id>")
    @supervisor
    def sup_complaint(complaint_id: str):
        answer = api("GET", f"/v1/offices/{office()}/complaints")
        found = next((c for c in (answer.body or {}).get("items", []) if c["complaint_id"] == complaint_id), None)
        if found is None:
            abort(404)
        full = api("GET", f"/v1/complaints/{quote(found['tracking_code'], safe='')}")
        staff = api("GET", f"/v1/offices/{office()}/staff")
        return page("complaint.html", c=full.body if full.ok else found,
                    staff=(staff.body or {}).get("items", []) if staff.ok else [])

    @app.post("/petugas/pengaduan/<complaint_id>/jawab")
    @supervisor
    @h.once
    def sup_complaint_respond(complaint_id: str):
        body = {"message": request.form.get("message", "").strip(), "status": request.form.get("status", "")}
        answer = api("POST", f"/v1/complaints/{quote(complaint_id, safe='')}/responses", body)
        flash("sup.complaint.responded") if answer.ok else flash_problem(answer)
        return redirect(url_for("sup_complaint", complaint_id=complaint_id), 303)

    @app.post("/petugas/pengaduan/<complaint_id>/tugaskan")
    @supervisor
    @h.once
    def sup_complaint_assign(complaint_id: str):
        body = {"officer_account_id": request.form.get("officer_account_id", "").strip()}
        answer = api("POST", f"/v1/complaints/{quote(complaint_id, safe='')}/assignment", body)
        flash("sup.complaint.assigned") if answer.ok else flash_problem(answer)
        return redirect(url_for("sup_complaint", complaint_id=complaint_id), 303)

    # -- refunds and the bank statement ------------------------------------------------------------------
    @app.get("/petugas/refund")
    @supervisor
    def sup_refunds():
        status = request.args.get("status") if request.args.get("status") in ("PENDING", "PAID_OUT") else ""
        answer = api("GET", f"/v1/offices/{office()}/refunds" + (f"?status={status}" if status else ""))
        return page("refunds.html", items=answer.body["items"] if answer.ok else [], status=status,
                    report=g.sess.pop("reconciliation", None), message=None if answer.ok else h.problem_text(answer),
                    bank_refusals=BANK_REFUSALS)

    @app.post("/petugas/refund/<billing_code>/bayar")
    @supervisor
    @h.once
    def sup_refund_payout(billing_code: str):
        body = {"bank_reference": request.form.get("bank_reference", "").strip()}
        if request.form.get("refund_id"):
            body["refund_id"] = request.form["refund_id"]
        answer = api("POST", f"/v1/offices/{office()}/refunds/{quote(billing_code, safe='')}/payout", body,
                     key=request.form.get("idem"))
        flash("sup.refund.paid") if answer.ok else flash_problem(answer)
        return redirect(url_for("sup_refunds"), 303)

    @app.post("/petugas/refund/rekonsiliasi")
    @supervisor
    @h.once
    def sup_reconcile():
        upload = request.files.get("statement")
        content = upload.read(MAX_STATEMENT + 1) if upload and upload.filename else b""
        if not content or len(content) > MAX_STATEMENT:
            flash("upload.choose" if not content else "sup.refund.too_large", "error")
            return redirect(url_for("sup_refunds"), 303)
        answer = api("POST", f"/v1/offices/{office()}/reconciliations", raw=content, content_type="text/csv")
        if answer.ok:
            g.sess["reconciliation"] = {k: answer.body[k] for k in ("matched", "missing_ours", "missing_bank",
                                                                     "mismatched")}
            flash("sup.refund.reconciled")
        else:
            flash_problem(answer)
        return redirect(url_for("sup_refunds") + "#reconciliation", 303)

    # -- releases and ballots ----------------------------------------------------------------------------
    @app.route("/petugas/rilis", methods=["GET", "POST"])
    @supervisor
    @h.once
    def sup_releases():
        form = dict(request.form)
        if request.method == "POST":
            body = {k: form.get(k, "").strip() for k in ("date", "lane", "entries_open_at", "entries_close_at",
                                                          "draw_at")}
            zone = g.sess["staff"].get("timezone", "Asia/Jakarta")
            for k in ("entries_open_at", "entries_close_at", "draw_at"):  # datetime-local is the office's time
                if body[k]:
                    body[k] = local_to_rfc3339(body[k], zone)
            if not body["draw_at"]:
                body.pop("draw_at")
            answer = api("POST", f"/v1/offices/{office()}/ballots", body, key=form.get("idem"))
            if answer.status == 201:
                flash("sup.ballot.created")
                return redirect(url_for("sup_releases"), 303)
            flash_problem(answer)
        releases = api("GET", f"/v1/offices/{office()}/releases")
        return page("releases.html", items=(releases.body or {}).get("items", []) if releases.ok else [],
                    lanes=BALLOT_LANES, form=form)

    @app.get("/petugas/rilis/undian/<ballot_id>")
    @supervisor
    def sup_ballot(ballot_id: str):
        answer = api("GET", f"/v1/offices/{office()}/ballots/{quote(ballot_id, safe='')}/result")
        if answer.status == 404:
            abort(404)
        result = answer.body if answer.ok else None
        return page("ballot.html", ballot_id=ballot_id, result=result,
                    check=verify_draw(result) if result else None,
                    message=None if answer.ok else h.problem_text(answer))

    # -- moving a whole day ---------------------------------------------------------------------------
    @app.route("/petugas/jadwal-ulang", methods=["GET", "POST"])
    @supervisor
    @h.once
    def sup_reschedule():
        form, outcome = dict(request.form), None
        if request.method == "POST":
            body = {k: form.get(k, "").strip() for k in ("date", "to_date", "reason")}
            if not body["reason"]:
                flash("sup.quota.reason_needed", "error")
            else:
                answer = api("POST", f"/v1/offices/{office()}/day-reschedules", body, key=form.get("idem"))
                if answer.ok:
                    flash("sup.reschedule.done", moved=answer.body["moved"], cancelled=answer.body["cancelled"])
                    return redirect(url_for("sup_reschedule"), 303)
                flash_problem(answer)
        return page("reschedule.html", form=form, outcome=outcome)


    # -- staff of the office ---------------------------------------------------------------------------
    @app.route("/petugas/staf", methods=["GET", "POST"])
    @supervisor
    @h.once
    def sup_staff():
        form, errors = dict(request.form), {}
        if request.method == "POST":
            body = {"full_name": form.get("full_name", "").strip(), "email": form.get("email", "").strip()}
            answer = api("POST", f"/v1/offices/{office()}/staff", body)
            if answer.status == 201:
                g.sess["new_password"] = {"name": answer.body["full_name"], "email": answer.body["email"],
                                          "password": answer.body["temporary_password"]}
                return redirect(url_for("sup_staff"), 303)
            errors = h.field_errors(answer)
            if answer.slug == "email-taken":
                errors["email"] = h.problem_text(answer)
            flash_problem(answer)
        listed = api("GET", f"/v1/offices/{office()}/staff")
        return page("staff.html", items=(listed.body or {}).get("items", []) if listed.ok else [], form=form,
                    errors=errors, shown=g.sess.pop("new_password", None))  # the password is shown once

    @app.post("/petugas/staf/<account_id>/<action>")
    @supervisor
    @h.once
    def sup_staff_action(account_id: str, action: str):
        if action not in ("password-reset", "totp-reset", "deactivation"):
            abort(404)
        answer = api("POST", f"/v1/offices/{office()}/staff/{quote(account_id, safe='')}/{action}", {})
        if answer.ok and action == "password-reset":
            g.sess["new_password"] = {"name": answer.body["full_name"], "email": answer.body["email"],
                                      "password": answer.body["temporary_password"]}
        elif answer.ok and action == "totp-reset":
            flash("sup.staff.totp_was_reset", name=answer.body["full_name"])
        elif answer.ok:
            flash("sup.staff.deactivated", name=answer.body["full_name"])
        else:
            flash_problem(answer)
        return redirect(url_for("sup_staff"), 303)


def local_to_rfc3339(value: str, zone: str) -> str:
    """2026-12-03T09:00 typed in the office's zone -> 2026-12-03T09:00:00+07:00."""
    from zoneinfo import ZoneInfo
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # the gateway answers 422 with the field
    return moment.replace(tzinfo=ZoneInfo(zone)).isoformat() if moment.tzinfo is None else moment.isoformat()


def verify_draw(result: dict) -> dict:
    """Re-run a published draw independently of the booking service, from its published rule: the
    commitment is sha256(secret), the seed sha256(ballot_id + secret), the order
    random.Random(seed).shuffle(sorted(entry_ids))."""
    checks = []
    secret, seed = result.get("secret") or "", result.get("seed") or ""
    if result.get("commitment"):
        checks.append(("commitment", hashlib.sha256(secret.encode()).hexdigest() == result["commitment"]))
    if secret:
        checks.append(("seed", hashlib.sha256((result["ballot_id"] + secret).encode()).hexdigest() == seed))
    order = sorted(result.get("entry_ids") or [])
    random.Random(seed).shuffle(order)
    checks.append(("order", order == list(result.get("order") or [])))
    return {"ok": all(ok for _, ok in checks), "checks": checks}
