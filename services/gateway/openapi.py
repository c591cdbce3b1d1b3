"""The OpenAPI 3 description of the public API (served at /openapi.json) and a small docs page.

Each operation is one line in OPERATIONS (route modules append theirs, with an EXTRAS entry for query
parameters, headers or a non-JSON body); enums come from schema.py, the one vocabulary the routes
check with. The codes every route can answer anyway (401, 404, 429, 503, ...) are derived in
operation(); docs/openapi.md tells the rules and how schemathesis holds the API to them.
"""
from __future__ import annotations

import functools
import re

from services.gateway import schema

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}


def obj(required: list[str] | None = None, **props) -> dict:
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def binary(description: str, *media_types: str) -> dict:
    """A 200 answer of file bytes in one of `media_types`."""
    return {"description": description,
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}}


def enum(values, **extra) -> dict:
    """An enum of the shared vocabulary (schema.py), typed so generated clients get a real enum."""
    kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    return {"type": kind, "enum": list(values), **extra}


def text(min_length: int = 1, max_length: int | None = None, **extra) -> dict:
    out = {"type": "string", "minLength": min_length, **extra}
    if max_length is not None:
        out["maxLength"] = max_length
    return out


def nullable(schema_: dict) -> dict:
    """OpenAPI 3.0 ignores `nullable` beside a bare $ref: wrap it."""
    return {"allOf": [schema_], "nullable": True} if "$ref" in schema_ else dict(schema_, nullable=True)


FILE = {"type": "string", "format": "binary", "minLength": 1, "description": "the file's bytes (not empty)"}
DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD"}
# A query value the gateway reads as absent when empty (`?date=`): the schema says so.
DATE_OR_EMPTY = {"anyOf": [DATE, {"type": "string", "maxLength": 0}], "description": "YYYY-MM-DD; empty: today"}
BANK_REFERENCE = {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$",
                  "description": "1-64 letters, digits and ._:/- (not starting with refund:)"}
DATE_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339 with offset"}
# The account rules of the booking service (services/booking/rules.py), as far as a pattern can say them;
# that a NIK encodes the birth date (and sex) no schema can say: such a NIK answers 422.
NIK = {"type": "string", "pattern": "^[0-9]{16}$"}
EMAIL = {"type": "string", "pattern": "^[^@\\s]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$", "maxLength": 254}
PHONE = {"type": "string", "pattern": "^(\\+62|62|0)8[0-9]{7,11}$"}
PASSWORD = {"type": "string", "minLength": 10, "maxLength": 200, "pattern": "[A-Za-z].*[0-9]|[0-9].*[A-Za-z]",
            "description": "at least 10 characters with a letter and a digit"}

PROBLEM = obj(["type", "title", "status", "detail"], type=S, title=S, status=I, detail=S,
              errors={"type": "array", "items": obj(field=S, message=S)})
TIMELINE_ENTRY = obj(["status", "at"], status=S, at=S, note=S)
APPOINTMENT = obj(appointment_id=S, slot_id=S, date=S, start_time=S, end_time=S, lane=S, status=S, pay_before=S,
                  rescheduled=B, queue_number=S)
BILLING_SUMMARY = obj(billing_code=S, amount=I, currency=S, expires_at=S)

SCHEMAS = {
    "Problem": PROBLEM,
    "NewAccount": obj(["nik", "full_name", "birth_date", "email", "phone", "password"],
                      nik=NIK, full_name=text(max_length=120), birth_date=DATE, email=EMAIL, phone=PHONE,
                      password=PASSWORD),
    "AccountCreated": obj(["account_id"], account_id=S),
    "Credentials": obj(["email", "password"], email=S, password=S,
                       otp={"type": "string", "description": "staff with an authenticator app: its 6-digit code, "
                            "or one of its unused recovery codes (XXXX-XXXX-XXXX, each once)"}),
    "Token": obj(["access_token", "token_type", "expires_in"], access_token=S, token_type=S, expires_in=I),
    "Me": obj(["account_id", "full_name", "role"], account_id=S, full_name=S,
              role=enum(("APPLICANT",) + schema.STAFF_ROLES), office_id=S, nik=S),
    "Office": obj(["office_id", "name"], office_id=S, name=S, timezone=S, address=S),
    "Slot": obj(["slot_id", "office_id", "date", "start_time", "lane"], slot_id=S, office_id=S, date=S,
                start_time=S, end_time=S, lane=S, capacity=I, remaining=I),
    "Quota": obj(["date", "lane", "capacity", "reason"], date=DATE, lane=enum(schema.LANES),
                 start_time=S, capacity={"type": "integer", "minimum": 0, "maximum": 1000}, reason=text()),
    "QuotaSet": obj(office_id=S, date=S, lane=S, capacity=I, slots_changed=I),
    "NewApplication": obj(["office_id", "passport_type", "validity_years", "service_type"], office_id=text(),
                          passport_type=enum(schema.PASSPORT_TYPES), validity_years=enum(schema.VALIDITY_YEARS),
                          service_type=enum(schema.SERVICE_TYPES), express=B,
                          priority_group=enum(schema.PRIORITY_GROUPS)),
    "Application": obj(["application_id", "office_id", "status", "timeline"], application_id=S, office_id=S,
                       status=S, service_type=S, passport_type=S, validity_years=I, express=B,
                       priority_group={"type": "string", "nullable": True}, created_at=S,
                       appointment=nullable(APPOINTMENT), billing=nullable(BILLING_SUMMARY),
                       timeline={"type": "array", "items": TIMELINE_ENTRY},
                       passport_number=S, delivery=S, tracking_number=S, ready_by=S),
    "Booked": obj(["application_id", "status", "appointment", "billing"], application_id=S, status=S,
                  appointment=nullable(APPOINTMENT), billing=nullable(BILLING_SUMMARY)),
    "SlotChoice": obj(["slot_id"], slot_id=text(),
                      invitation_code={"type": "string", "description": "an OUTREACH seat: its session's code"}),
    "Reschedule": obj(["slot_id"], slot_id=text()),
    "CheckIn": obj(["application_id"], application_id=text(),
                   priority_decision=enum(schema.PRIORITY_DECISIONS,
                                          description="PRIORITY appointments: the officer's decision on the proof")),
    "CheckedIn": obj(["application_id", "queue_number"], application_id=S, queue_number=S),
    "Billing": obj(["billing_code", "amount", "currency", "status"], billing_code=S, amount=I, currency=S, status=S,
                   expires_at=S, paid_at=S, items={"type": "array", "items": obj(code=S, label=S, amount=I)},
                   refunds={"type": "array", "items": obj(reason=S, amount=I, status=S, recorded_at=S,
                                                          paid_out_at=S)}),
    "Preferences": obj(["language", "channels"], language=enum(schema.LANGUAGES),
                       channels={"type": "array", "items": enum(schema.CHANNELS), "minItems": 1,
                                 "maxItems": len(schema.CHANNELS), "uniqueItems": True}),
    "Notification": obj(["channel", "template", "status"], channel=S, template=S, language=S, status=S,
                        event_type=S, created_at=S, sent_at=S),
}

# (method, path, summary, tag, roles, request schema, {status: schema name, "list of X" or description});
# roles None: no token. The codes every route can answer anyway (401 with a token, 404 with a path
# parameter, 429/503, ...) are added by operation() below, so each line names what is particular to it.
OPERATIONS: list[tuple] = [
    ("post", "/v1/accounts", "Register an applicant account bound to a NIK", "Accounts", None, "NewAccount",
     {201: "AccountCreated", 409: "nik-taken or email-taken",
      422: "invalid NIK (it encodes the birth date), weak password, bad email/phone"}),
    ("post", "/v1/auth/token", "Exchange email and password for an access token", "Accounts", None, "Credentials",
     {200: "Token", 401: "wrong email or password; staff: otp-required, otp-invalid (wrong or replayed code), "
                         "otp-enrolment-required (STAFF_TOTP=required and no authenticator app yet)"}),
    ("get", "/v1/me", "The caller's profile (NIK masked)", "Accounts", "any", None, {200: "Me"}),
    ("put", "/v1/me/notification-preferences", "Language and channels for notifications", "Notifications", "any",
     "Preferences", {200: "Preferences"}),
    ("get", "/v1/offices", "Offices", "Offices", None, None, {200: "list of Office"}),
    ("get", "/v1/offices/{office_id}/slots", "Slots of a date (query date=YYYY-MM-DD, optional lane)", "Offices",
     None, None, {200: "list of Slot", 404: "unknown office", 422: "bad date or lane"}),
    ("put", "/v1/offices/{office_id}/quota", "Set the capacity of a date and lane (audited)", "Offices",
     "SUPERVISOR", "Quota", {200: "QuotaSet", 403: "not the supervisor of this office"}),
    ("post", "/v1/applications", "Create an application", "Applications", "APPLICANT", "NewApplication",
     {201: "Application", 404: "office-not-found", 409: "active-application-exists",
      422: "invalid fields, or a priority group the NIK's age or sex rules out"}),
    ("get", "/v1/applications", "The caller's applications", "Applications", "APPLICANT", None,
     {200: "list of Application"}),
    ("get", "/v1/applications/{application_id}", "One application with its timeline", "Applications", "any", None,
     {200: "Application", 404: "no such application (or not yours)"}),
    ("post", "/v1/applications/{application_id}/appointment", "Book a slot: holds the seat, issues the billing",
     "Applications", "APPLICANT", "SlotChoice",
     {201: "Booked", 409: "slot-full, lane-not-allowed, slot-closed (lead time before its start)",
      422: "documents-missing, priority-proof-missing", 503: "booking-interrupted, payment- or store-unavailable (retry)",
      429: "waiting-room: the office's waiting room is active and no X-Admission-Pass was sent (Link: where to take "
           "a place), or too-many-requests (Retry-After)",
      403: "admission-pass-invalid: the pass is forged, expired, another account's or another room's"}),
    ("get", "/v1/applications/{application_id}/billing", "The billing of an application", "Payment", "APPLICANT",
     None, {200: "Billing", 404: "no such application (or not yours)",
            409: "no-billing-yet: issued when an appointment is booked"}),
    ("get", "/v1/applications/{application_id}/notifications", "Messages sent about an application (status "
     "RECORDED | SENT | FAILED | SKIPPED: not sent because a later event made it stale)",
     "Notifications", "APPLICANT", None, {200: "list of Notification"}),
    ("post", "/v1/offices/{office_id}/check-ins", "Check a PAID applicant in on the appointment day", "At the office",
     "OFFICER or SUPERVISOR", "CheckIn", {201: "CheckedIn", 409: "not paid, or not today",
                                          404: "no such application here",
                                          422: "priority-decision-required (a PRIORITY appointment)"}),
    ("get", "/healthz", "Process is up", "Operations", None, None, {200: "Status"}),
    ("get", "/readyz", "Gateway process can serve", "Operations", None, None, {200: "Status"}),
    ("get", "/readyz/dependencies", "Gateway can reach its services", "Operations", None, None,
     {200: "Readiness", 503: {"description": "not ready (the checks say which dependency)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}}),
    ("get", "/metrics", "Prometheus metrics", "Operations", None, None,
     {200: {"description": "text exposition format", "content": {"text/plain": {"schema": S}}}}),
    ("get", "/openapi.json", "This document", "Operations", None, None,
     {200: {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}}}),
    ("get", "/docs", "A page listing the operations, to try them from the browser", "Operations", None, None,
     {200: {"description": "HTML", "content": {"text/html": {"schema": S}}}}),
]
SCHEMAS.update({
    "Status": obj(["status"], status=S),
    "Readiness": obj(["status", "checks"], status=enum(("ready", "not-ready")),
                     checks={"type": "object", "additionalProperties": B}),
})
EXTRAS_BASE = {
    ("get", "/v1/offices/{office_id}/slots"): {"query": [
        {"name": "date", "in": "query", "required": True, "schema": DATE},
        {"name": "lane", "in": "query", "required": False, "schema": enum(schema.LANES)}]},
}


# What the gateway's own machinery can answer, whatever the route does (problem+json each).
GENERIC = {
    400: "malformed-json or bad-request: the body cannot be parsed",
    401: "unauthenticated or token-expired: no, an invalid or an expired Bearer token",
    403: "forbidden: the token's role (or office) may not do this",
    404: "not-found: no such resource (or not yours: never 403, no enumeration)",
    409: "conflict with the resource's state; request-in-progress: the first request with this Idempotency-Key "
         "still runs (Retry-After)",
    413: "payload-too-large",
    415: "unsupported-media-type: send the content type this operation takes",
    422: "validation-error (errors[] names the fields), or a rule of the service refused it",
    429: "too-many-requests (Retry-After)",
    503: "overloaded, or a service or store is unavailable: nothing was done, retry after Retry-After",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "a retry with the same key and body gets the first answer (24 h)",
                   "schema": {"type": "string", "minLength": 1, "maxLength": schema.IDEMPOTENCY_KEY_MAX}}
# Operations with more than path parameters and a JSON body: (method, path) -> what they take.
# query/headers: OpenAPI parameter objects; content: the request body's media type.
EXTRAS: dict[tuple[str, str], dict] = dict(EXTRAS_BASE)


def query(name: str, schema_: dict, required: bool = False, description: str = "") -> dict:
    out = {"name": name, "in": "query", "required": required, "schema": schema_}
    if description:
        out["description"] = description
    return out


@functools.lru_cache(maxsize=512)
def query_parameters_of(method: str, flask_rule: str) -> tuple[dict, ...]:
    """The query parameters the document declares for a route (`/v1/offices/<office_id>/queue`);
    cached because every request asks (the routes are a fixed, small set)."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", flask_rule)
    return tuple(p for p in EXTRAS.get((method.lower(), path), {}).get("query", ()) if p.get("in", "query") == "query")


def header(name: str, schema_: dict, required: bool = False, description: str = "") -> dict:
    return dict(query(name, schema_, required, description), **{"in": "header"})


def _content(what) -> dict | None:
    """The response content for `what`: a schema name, "list of X" / "items: X[]" (the {"items": [...]}
    wrapper every list answers with), or None when `what` only describes the answer."""
    if isinstance(what, dict):
        return what.get("content")
    match = re.fullmatch(r"(?:list of |items: )(\w+?)(?:\[\])?", what)
    if what in SCHEMAS:
        ref = {"$ref": f"#/components/schemas/{what}"}
    elif match and match.group(1) in SCHEMAS:
        ref = obj(["items"], items={"type": "array", "items": {"$ref": f"#/components/schemas/{match.group(1)}"}})
    else:
        return None
    return {"application/json": {"schema": ref}}


def _idempotent_operations(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of the views wrapped by idempotency.idempotent, read from the app."""
    out = set()
    if app is None:
        return out
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions.get(rule.endpoint), "idempotent", False):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            out.update((m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def operation(entry: tuple, idempotent: bool) -> dict:
    method, path, summary, tag, roles, body, responses = entry[:7]
    extras = EXTRAS.get((method, path), {})
    op = {"summary": summary, "tags": [tag], "operationId": _operation_id(method, path), "responses": {}}
    path_params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    params = [{"name": p, "in": "path", "required": True,
               "schema": extras.get("path", {}).get(p, {"type": "string", "minLength": 1})} for p in path_params]
    params += extras.get("query", []) + extras.get("headers", [])
    if idempotent:
        params.append(IDEMPOTENCY_KEY)
    if params:
        op["parameters"] = params
    if roles:
        op["security"] = [{"bearer": []}]
        op["description"] = f"Role: {roles}."
    elif extras.get("token_optional"):
        op["security"] = [{"bearer": []}, {}]
    media = extras.get("content", "application/json")
    if body or "content" in extras:
        body_schema = {"$ref": f"#/components/schemas/{body}"} if body else extras.get("schema", {"type": "string"})
        op["requestBody"] = {"required": not extras.get("body_optional", False),
                             "content": {media: {"schema": body_schema}}}
    codes = dict(responses)
    derived = set()
    if path.startswith("/v1"):
        derived |= {429, 503}  # load shedding and unavailable services answer every /v1 route
    if roles or idempotent or extras.get("token_optional"):
        derived.add(401)  # the token is read: a bad one is always refused
    if roles and roles != "any":
        derived.add(403)
    if path_params:
        derived.add(404)
    if "requestBody" in op:
        derived |= {413, 415, 422} | ({400} if media == "application/json" else set())
    if idempotent:
        derived |= {409, 422}
    if any(p.get("required") or set(p["schema"]) - {"type", "description"} or p["schema"].get("type") != "string"
           for p in extras.get("query", [])):
        derived.add(422)  # a query parameter with a constraint: the gateway or the service checks it
    derived |= set(extras.get("also", ()))
    for status in derived:
        codes.setdefault(status, GENERIC[status])
    for status, what in sorted(codes.items()):
        answer = {"description": what if isinstance(what, str) else what["description"]}
        content = _content(what)
        if status >= 400 and not isinstance(what, dict):
            content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if status in (429, 503) or (status == 409 and idempotent):
                answer["headers"] = RETRY_AFTER
        if content:
            answer["content"] = content
        op["responses"][str(status)] = answer
    return op


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}").replace("-", "_") for w in path.strip("/").split("/")]
    return method + "_" + "_".join(words)


def null_as_absent(schema_: dict) -> dict:
    """A JSON request schema as validation.fields reads it: an optional field sent as null is absent, so
    every optional property (nested ones too) is nullable; an enum then lists null as well."""
    if schema_.get("type") != "object" or "properties" not in schema_:
        return schema_
    required = set(schema_.get("required", []))
    properties = {}
    for name, prop in schema_["properties"].items():
        prop = null_as_absent(prop)
        if name not in required:
            prop = nullable(prop)
            if "enum" in prop and None not in prop["enum"]:
                prop["enum"] = prop["enum"] + [None]
        properties[name] = prop
    return dict(schema_, properties=properties)


def spec(app=None) -> dict:
    """The document; with `app`, the Idempotency-Key header is declared exactly where a view honours it."""
    idempotent = _idempotent_operations(app)
    paths: dict = {}
    for entry in OPERATIONS:
        method, path = entry[0], entry[1]
        paths.setdefault(path, {})[method] = operation(entry, (method, path) in idempotent)
    json_bodies = {op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                   for methods in paths.values() for op in methods.values()
                   if "$ref" in op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})}
    schemas = {name: null_as_absent(s) if name in json_bodies else s for name, s in SCHEMAS.items()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Passport service platform API", "version": "1.0.0",
                 "description": "Public API of the gateway. Errors are application/problem+json (RFC 9457); "
                                "title, detail and errors[].message are in Bahasa Indonesia, or English with "
                                "Accept-Language: en (Content-Language says which); type URIs and "
                                "errors[].field never change. "
                                "A method a path does not take answers 405 with Allow."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


# A dependency-free docs page: lists every operation and lets you send requests from the browser.
DOCS_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Passport API docs</title>
<style>body{font-family:sans-serif;max-width:980px;margin:2em auto}details{border:1px solid #ccc;margin:.4em 0;padding:.4em}
summary{cursor:pointer}code{background:#f3f3f3}textarea{width:100%;height:6em}pre{background:#f7f7f7;padding:.5em;overflow:auto}</style>
</head><body><h1>Passport service platform API</h1>
<p>Bearer token: <input id="tok" size="80" placeholder="paste access_token"></p><div id="ops"></div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(spec=>{const ops=document.getElementById('ops');
for(const [path,methods] of Object.entries(spec.paths)){for(const [m,op] of Object.entries(methods)){
const d=document.createElement('details');const id=(m+path).replace(/[^a-z0-9]/gi,'_');
d.innerHTML=`<summary><b>${m.toUpperCase()}</b> <code>${path}</code> ${op.summary}</summary>
<p>${op.description||''} Responses: ${Object.entries(op.responses).map(([k,v])=>k+' '+v.description).join('; ')}</p>
<p>Path: <input id="p_${id}" size="70" value="${path}"></p>
${m==='get'?'':'<textarea id="b_'+id+'">{}</textarea>'}<button id="s_${id}">Send</button><pre id="o_${id}"></pre>`;
ops.appendChild(d);d.querySelector('button').onclick=async()=>{const h={'Content-Type':'application/json'};
const t=document.getElementById('tok').value;if(t)h['Authorization']='Bearer '+t;
const b=document.getElementById('b_'+id);const r=await fetch(document.getElementById('p_'+id).value,
{method:m.toUpperCase(),headers:h,body:b?b.value:undefined});
document.getElementById('o_'+id).textContent=r.status+'\\n'+await r.text();};}}});
</script></body></html>"""
