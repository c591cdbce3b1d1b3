"""The booking proof an applicant shows or prints at the counter: JSON (with the QR code as SVG), or
a PNG card (`Accept: image/png` or `?format=png`). The QR code holds the application id only, which
the counter looks up; nothing personal is in it."""
from __future__ import annotations

import io

import segno
from flask import Blueprint, Response, jsonify, request
from PIL import Image, ImageDraw, ImageFont

from passport.v1 import accounts_pb2, booking_pb2
from services.gateway import auth, clients, openapi
from services.gateway.problems import Problem
from services.gateway.routes.applications import _get, application_json

bp = Blueprint("proof", __name__)
# An appointment is ahead (or the applicant is at the counter): there is something to show.
WITH_APPOINTMENT = ("AWAITING_PAYMENT", "PAID", "CHECKED_IN", "BIOMETRICS_CAPTURED")


@bp.get("/v1/applications/<application_id>/proof")
@auth.required()
def proof(application_id: str):
    app = _get(application_id)  # 404 for anyone else's application
    if app.status not in WITH_APPOINTMENT or not app.HasField("appointment"):
        raise Problem(409, "no-appointment", f"the application is {app.status}: it has no appointment to show",
                      params={"status": app.status})
    account = clients.call(clients.accounts().GetAccount, accounts_pb2.GetAccountRequest(account_id=app.account_id))
    offices = clients.call(clients.booking().ListOffices, booking_pb2.ListOfficesRequest()).items
    office = next((o for o in offices if o.office_id == app.office_id), None)
    appointment = application_json(app)["appointment"]
    card = {"application_id": app.application_id, "full_name": account.full_name, "nik": account.nik_masked,
            "office_id": app.office_id, "office_name": office.name if office else app.office_id,
            "office_address": office.address if office else "", "status": app.status,
            "date": appointment["date"], "start_time": appointment["start_time"],
            "end_time": appointment["end_time"], "lane": appointment["lane"],
            "queue_number": appointment.get("queue_number")}
    qr = segno.make(app.application_id, error="m")
    if request.args.get("format") == "png" or request.accept_mimetypes.best_match(
            ["application/json", "image/png"]) == "image/png":
        return Response(card_png(card, qr), mimetype="image/png",
                        headers={"Content-Disposition": f'inline; filename="proof-{app.application_id}.png"'})
    return jsonify(dict(card, qr_svg=qr.svg_inline(scale=4, dark="#000", light="#fff")))


def card_png(card: dict, qr) -> bytes:
    """A printable card: who, where, when, which lane, and the QR code at the right."""
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=5, border=2)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    width, column = 760, 760 - code.width - 48  # the text column ends before the QR code
    title, text, small = (ImageFont.load_default(size) for size in (22, 18, 14))
    rows = [("Nama / Name", card["full_name"]), ("NIK", card["nik"]), ("Kantor / Office", card["office_name"]),
            ("Tanggal / Date", card["date"]), ("Jam / Time", f"{card['start_time']}-{card['end_time']}"),
            ("Jalur / Lane", card["lane"]), ("Nomor permohonan / Application", card["application_id"])]
    lines = [(label, _wrap(value, text, column)) for label, value in rows]
    height = max(60 + sum(22 + 22 * len(v) for _, v in lines), 60 + code.height + 40) + 16
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 16), "Bukti Janji Temu / Appointment proof", fill="black", font=title)
    y = 60
    for label, values in lines:
        draw.text((20, y), label, fill="#444", font=small)
        for value in values:
            draw.text((20, y + 18), value, fill="black", font=text)
            y += 22
        y += 22
    image.paste(code, (width - code.width - 20, 60))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _wrap(value: str, font, width: int) -> list[str]:
    """Words in lines no wider than `width` pixels."""
    lines, line = [], ""
    for word in value.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines or [""]


openapi.SCHEMAS["Proof"] = openapi.obj(
    application_id=openapi.S, full_name=openapi.S, nik={"type": "string", "description": "masked"},
    office_id=openapi.S, office_name=openapi.S, office_address=openapi.S, status=openapi.S, date=openapi.S,
    start_time=openapi.S, end_time=openapi.S, lane=openapi.S, queue_number={"type": "string", "nullable": True},
    qr_svg={"type": "string", "description": "SVG of a QR code holding the application id"})
openapi.OPERATIONS.append(
    ("get", "/v1/applications/{application_id}/proof",
     "The booking proof to show or print at the counter: JSON with an SVG QR code of the application id, or a "
     "PNG card (Accept: image/png or ?format=png)", "Applications", "any", None,
     {200: {"description": "the proof: JSON, or the PNG card", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Proof"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}}}}, 404: "no such application (or not yours)", 409: "no-appointment"}))
openapi.EXTRAS[("get", "/v1/applications/{application_id}/proof")] = {
    "query": [openapi.query("format", openapi.enum(("json", "png")), description="png: the printable card")]}
