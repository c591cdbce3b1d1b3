"""Validation of JSON bodies at the edge, with messages a person can act on."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

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
    if value and not is_iso_date(value):
        raise Problem(422, "validation-error", f"{name} must be a date YYYY-MM-DD",
                      [{"field": name, "message": f"{name} must be a date YYYY-MM-DD"}])
    return value or ""


def is_iso_date(value: str) -> bool:
    """A real calendar date written YYYY-MM-DD (fromisoformat alone also takes 20261203)."""
    try:
        return len(value) == 10 and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


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


def query_parameters(declared: Sequence[dict]) -> None:
    """Check the request's query against the parameters /openapi.json declares for its operation
    (required, type, enum, length, pattern, date, bounds), so a route can never accept what its
    contract rejects. Routes still read and convert their values."""
    errors = []
    for parameter in declared:
        name = parameter["name"]
        if name not in request.args:
            if parameter.get("required"):
                errors.append({"field": name, "message": f"{name} is required"})
            continue
        problem = _query_value_problem(request.args[name], parameter["schema"])
        if problem:
            errors.append({"field": name, "message": f"{name} {problem}"})
    if errors:
        raise Problem(422, "validation-error", "some query parameters are missing or invalid", errors)


def _query_value_problem(value: str, rule: dict) -> str | None:
    """Why `value` does not fit the JSON Schema subset query parameters use, or None."""
    if "anyOf" in rule:
        problems = [_query_value_problem(value, option) for option in rule["anyOf"]]
        return None if None in problems else problems[0]
    if rule.get("type") == "integer":
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            return "must be a whole number"
        number = int(value)
        low, high = rule.get("minimum", INT64.start), rule.get("maximum", INT64.stop - 1)
        return None if low <= number <= high else f"must be from {low} to {high}"
    if "enum" in rule and value not in map(str, rule["enum"]):
        return "must be one of " + ", ".join(map(str, rule["enum"]))
    if len(value) < rule.get("minLength", 0):
        return f"must be at least {rule['minLength']} characters"
    if "maxLength" in rule and len(value) > rule["maxLength"]:
        return f"must be at most {rule['maxLength']} characters" if rule["maxLength"] else "must be empty"
    if "pattern" in rule and not re.search(rule["pattern"], value):
        return "has the wrong format"
    if rule.get("format") == "date" and not is_iso_date(value):
        return "must be a date YYYY-MM-DD"
    return None
