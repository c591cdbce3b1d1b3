"""Validation of JSON bodies at the edge, with messages a person can act on."""
from __future__ import annotations

import datetime as dt

from flask import request

from services.gateway.problems import Problem
from services.gateway.schema import INT64

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", dict: "an object"}


def json_body(optional: bool = False) -> dict:
    """The request's JSON object; `optional`: an empty body is an empty object."""
    if optional and not request.get_data():
        return {}
    if not request.is_json:
        raise Problem(415, "unsupported-media-type", "send a JSON body with Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "malformed-json", "the request body is not valid JSON")
    if not isinstance(body, dict):
        raise Problem(422, "validation-error", "the request body must be a JSON object")
    return body


def fields(body: dict, spec: dict) -> dict:
    """spec: name -> (type, required[, allowed values or a range]). None is allowed for optional fields.
    Integers always fit a proto int64; give schema.INT32 for an int32 field."""
    errors, out = [], {}
    for name, rule in spec.items():
        kind, required = rule[0], rule[1]
        allowed = rule[2] if len(rule) > 2 else None
        value = body.get(name)
        if value is None:
            if required:
                errors.append({"field": name, "message": f"{name} is required"})
            out[name] = None
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors.append({"field": name, "message": f"{name} must be {_TYPE_NAMES[kind]}"})
            continue
        bounds = allowed if isinstance(allowed, range) else INT64
        if kind is int and value not in bounds:
            errors.append({"field": name, "message": f"{name} must be from {bounds.start} to {bounds.stop - 1}"})
            continue
        if allowed is not None and not isinstance(allowed, range) and value not in allowed:
            errors.append({"field": name, "message": f"{name} must be one of {', '.join(map(str, allowed))}"})
            continue
        out[name] = value
    if errors:
        raise Problem(422, "validation-error", "some fields are missing or invalid", errors)
    return out


def iso_date(value: str | None, name: str) -> str:
    """`value` if it is empty or a real YYYY-MM-DD date; 422 naming `name` otherwise."""
    if value:
        try:
            if len(value) != 10:
                raise ValueError(value)
            dt.date.fromisoformat(value)
        except ValueError:
            raise Problem(422, "validation-error", f"{name} must be a date YYYY-MM-DD",
                          [{"field": name, "message": f"{name} must be a date YYYY-MM-DD"}]) from None
    return value or ""


def file_content(upload, max_bytes: int, what: str) -> bytes:
    """The bytes of the multipart field `file` (`upload`, or None when absent): 422 when missing or
    empty, 413 above `max_bytes` (read no further than that)."""
    if upload is None:
        raise Problem(422, "validation-error", f"the {what} is required", [{"field": "file", "message": "file is required"}])
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Problem(413, "payload-too-large", f"{what}s are at most {max_bytes} bytes")
    if not data:
        raise Problem(422, "validation-error", "the uploaded file is empty", [{"field": "file", "message": "file is empty"}])
    return data
