"""Biometrics at the counter: face photo, fingerprints, interview (OFFICER of the application's office).

The biometrics-capture service decides (office, check-in, checks); the gateway parses multipart
uploads and renders the answers. A failing photo answers 422 problem+json WITH the checks, so the
officer sees which check failed and may retry with `override_reason`.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from passport.v1 import biometrics_pb2
from services.gateway import auth, clients, openapi, schema
from services.gateway.idempotency import idempotent
from services.gateway.problems import BASE, Problem, texts
from services.gateway.validation import fields, file_content, json_body

bp = Blueprint("biometrics", __name__)
MAX_IMAGE_BYTES = 4_000_000  # below gRPC's 4 MiB message limit


def _upload(required: bool = True) -> bytes:
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise Problem(415, "unsupported-media-type", "send multipart/form-data with the image in the field `file`")
    upload = request.files.get("file")
    if upload is None and not required:
        return b""
    return file_content(upload, MAX_IMAGE_BYTES, "image")


def _checks(result) -> list[dict]:
    return [{"name": c.name, "passed": c.passed, "value": c.value, "threshold": c.threshold} for c in result.checks]


def _result(result, what: str):
    body = {"accepted": result.accepted, "checks": _checks(result)}
    if result.accepted:
        body.update({"capture_id": result.capture_id, "overridden": result.overridden,
                     "status": status_json(result.status)})
        return jsonify(body), 201
    failed = [c["name"] for c in body["checks"] if not c["passed"]]
    title, detail = texts("checks-failed", 422, f"the {what} failed these checks: {', '.join(failed)}"
                          + ("; retake it, or give override_reason to accept it anyway" if what == "photo" else
                             "; rescan it, or record the finger as missing with a reason"))
    body.update({"type": BASE + "checks-failed", "title": title, "status": 422, "detail": detail})
    resp = jsonify(body)
    resp.status_code = 422
    resp.mimetype = "application/problem+json"
    return resp


def status_json(s) -> dict:
    return {"photo_accepted": s.photo_accepted, "fingers_captured": list(s.fingers_captured),
            "fingers_missing": list(s.fingers_missing),
            "fingers_required": list(s.fingers_required), "complete": s.complete,
            "interview_outcome": s.interview_outcome or None,
            # every required finger recorded missing: a supervisor must approve it (issue 16)
            "missing_fingers_approval_required": s.missing_fingers_approval_required}


@bp.post("/v1/applications/<application_id>/biometrics/photo")
@auth.required("OFFICER")
@idempotent
def capture_photo(application_id: str):
    image = _upload()
    reason = (request.form.get("override_reason") or "").strip()
    if len(reason) > 500:
        raise Problem(422, "validation-error", "override_reason is at most 500 characters",
                      [{"field": "override_reason", "message": "at most 500 characters"}])
    result = clients.call(clients.biometrics().CapturePhoto, biometrics_pb2.CapturePhotoRequest(
        caller=auth.current().caller(), application_id=application_id, image=image, override_reason=reason))
    return _result(result, "photo")


@bp.post("/v1/applications/<application_id>/biometrics/fingerprints")
@auth.required("OFFICER")
@idempotent
def capture_fingerprint(application_id: str):
    missing = (request.form.get("missing_reason") or "").strip()
    image = _upload(required=not missing)
    raw_finger = (request.form.get("finger") or "").strip()
    if not raw_finger.isdigit() or not 1 <= int(raw_finger) <= 10:
        raise Problem(422, "unknown-finger-position", "finger must be an ISO finger position 1-10",
                      [{"field": "finger", "message": "finger must be 1-10"}])
    result = clients.call(clients.biometrics().CaptureFingerprint, biometrics_pb2.CaptureFingerprintRequest(
        caller=auth.current().caller(), application_id=application_id, finger=int(raw_finger), image=image,
        missing_reason=missing))
    return _result(result, "fingerprint")


@bp.get("/v1/applications/<application_id>/biometrics")
@auth.required("OFFICER", "SUPERVISOR")
def capture_status(application_id: str):
    s = clients.call(clients.biometrics().GetCaptureStatus, biometrics_pb2.GetCaptureStatusRequest(
        caller=auth.current().caller(), application_id=application_id))
    return jsonify({"application_id": s.application_id, **status_json(s)})


@bp.get("/v1/applications/<application_id>/biometrics/photo")
@auth.required("OFFICER", "SUPERVISOR")
def get_photo(application_id: str):
    photo = clients.call(clients.biometrics().GetPhoto, biometrics_pb2.GetPhotoRequest(
        caller=auth.current().caller(), application_id=application_id))
    return Response(photo.image, mimetype=photo.content_type,
                    headers={"Cache-Control": "no-store", "X-Content-SHA256": photo.sha256,
                             "Content-Disposition": "inline"})


@bp.post("/v1/applications/<application_id>/interview")
@auth.required("OFFICER")
@idempotent
def record_interview(application_id: str):
    body = json_body()
    values = fields(body, {"outcome": (str, True, schema.INTERVIEW_OUTCOMES), "notes": (str, False),
                           "bap": (dict, False)})
    request_pb = biometrics_pb2.RecordInterviewRequest(
        caller=auth.current().caller(), application_id=application_id, outcome=values["outcome"],
        notes=values["notes"] or "")
    if values["bap"]:
        bap = fields(values["bap"], {"report_number": (str, False), "police_report_number": (str, False),
                                     "circumstances": (str, False), "force_majeure": (bool, False)})
        request_pb.bap.CopyFrom(biometrics_pb2.ExaminationReport(
            report_number=bap["report_number"] or "", police_report_number=bap["police_report_number"] or "",
            circumstances=bap["circumstances"] or "", force_majeure=bool(bap["force_majeure"])))
    record = clients.call(clients.biometrics().RecordInterview, request_pb)
    return jsonify({"application_id": record.application_id, "outcome": record.outcome, "notes": record.notes,
                    "recorded_at": record.recorded_at}), 200


O = openapi
CHECK = O.obj(["name", "passed", "value", "threshold"], name=O.S, passed=O.B, value={"type": "number"},
              threshold=O.S)
openapi.SCHEMAS.update({
    "PhotoUpload": O.obj(["file"], file=O.FILE,
                         override_reason={"type": "string", "maxLength": 500}),
    "FingerprintUpload": O.obj(["finger"], finger={"type": "integer", "minimum": 1, "maximum": 10},
                               file=O.FILE,
                               missing_reason=O.enum(schema.MISSING_FINGER_REASONS)),
    "CaptureResult": O.obj(accepted=O.B, capture_id=O.S, overridden=O.B,
                           checks={"type": "array", "items": CHECK}, status={"type": "object"}),
    "InterviewRecord": O.obj(application_id=O.S, outcome=O.S, notes=O.S, recorded_at=O.S),
    "Interview": O.obj(["outcome"], outcome=O.enum(schema.INTERVIEW_OUTCOMES), notes=O.S,
                       bap=O.obj(report_number=O.S, police_report_number=O.S, circumstances=O.S,
                                 force_majeure=O.B)),
    "CaptureStatus": O.obj(application_id=O.S, photo_accepted=O.B, complete=O.B,
                           interview_outcome={"type": "string", "nullable": True},
                           fingers_captured={"type": "array", "items": O.I},
                           fingers_missing={"type": "array", "items": O.I},
                           fingers_required={"type": "array", "items": O.I},
                           missing_fingers_approval_required=O.B),
})
openapi.OPERATIONS.extend([
    ("post", "/v1/applications/{application_id}/biometrics/photo",
     "Capture the face photo (multipart: file, override_reason); runs the automatic checks", "Biometrics",
     "OFFICER", "PhotoUpload",
     {201: "CaptureResult", 404: "no such application at your office", 409: "not-checked-in",
      422: "checks failed (body has the checks) or not an image"}),
    ("post", "/v1/applications/{application_id}/biometrics/fingerprints",
     "Capture one finger (multipart: finger 1-10, file) or record it missing with a reason", "Biometrics",
     "OFFICER", "FingerprintUpload",
     {201: "CaptureResult", 404: "no such application at your office", 409: "not-checked-in",
      422: "quality checks failed, wrong format, size or colour depth"}),
    ("get", "/v1/applications/{application_id}/biometrics", "What has been captured", "Biometrics",
     "OFFICER or SUPERVISOR", None, {200: "CaptureStatus"}),
    ("get", "/v1/applications/{application_id}/biometrics/photo", "The accepted photo (decrypted; audited)",
     "Biometrics", "OFFICER or SUPERVISOR", None, {200: O.binary("the photo", "image/jpeg", "image/png"), 404: "no photo"}),
    ("post", "/v1/applications/{application_id}/interview", "Record the interview outcome", "Biometrics",
     "OFFICER", "Interview", {200: "InterviewRecord", 409: "biometrics-incomplete, missing-fingers-need-approval or "
                              "interview-already-recorded", 422: "bap-required (approving a lost or damaged "
                              "passport replacement) or bad input"}),
])
openapi.EXTRAS.update({
    ("post", "/v1/applications/{application_id}/biometrics/photo"): {"content": "multipart/form-data"},
    ("post", "/v1/applications/{application_id}/biometrics/fingerprints"): {"content": "multipart/form-data"},
})
