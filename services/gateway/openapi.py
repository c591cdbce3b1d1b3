"""The OpenAPI 3 description of the public API (served at /openapi.json) and a small docs page.

Each operation is one line in OPERATIONS; route modules of other services append to it.
"""
from __future__ import annotations

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}


def obj(required: list[str] | None = None, **props) -> dict:
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


PROBLEM = obj(["type", "title", "status", "detail"], type=S, title=S, status=I, detail=S,
              errors={"type": "array", "items": obj(field=S, message=S)})

SCHEMAS = {
    "Problem": PROBLEM,
    "NewAccount": obj(["nik", "full_name", "birth_date", "email", "phone", "password"],
                      nik={"type": "string", "pattern": "^[0-9]{16}$"}, full_name=S,
                      birth_date={"type": "string", "format": "date"}, email=S, phone=S, password=S),
    "Credentials": obj(["email", "password"], email=S, password=S),
    "Token": obj(access_token=S, token_type=S, expires_in=I),
    "Me": obj(account_id=S, full_name=S, role=S, office_id=S, nik=S),
    "Office": obj(office_id=S, name=S, timezone=S, address=S),
    "Slot": obj(slot_id=S, office_id=S, date=S, start_time=S, end_time=S, lane=S, capacity=I, remaining=I),
    "Quota": obj(["date", "lane", "capacity", "reason"], date=S, lane=S, start_time=S, capacity=I, reason=S),
    "NewApplication": obj(["office_id", "passport_type", "validity_years", "service_type"], office_id=S,
                          passport_type={"enum": ["ORDINARY", "ELECTRONIC"]}, validity_years={"enum": [5, 10]},
                          service_type={"enum": ["NEW", "RENEWAL", "REPLACEMENT_LOST", "REPLACEMENT_DAMAGED"]},
                          express=B, priority_group={"enum": [None, "ELDERLY", "CHILD_UNDER_5", "DISABLED", "PREGNANT"]}),
    "Application": obj(application_id=S, office_id=S, status=S, service_type=S, passport_type=S,
                       validity_years=I, appointment={"type": "object", "nullable": True},
                       billing={"type": "object", "nullable": True},
                       timeline={"type": "array", "items": obj(status=S, at=S, note=S)}),
    "SlotChoice": obj(["slot_id"], slot_id=S,
                      invitation_code={"type": "string", "description": "an OUTREACH seat: its session's code"}),
    "CheckIn": obj(["application_id"], application_id=S,
                   priority_decision={"enum": ["CONFIRMED", "REFUSED"],
                                      "description": "PRIORITY appointments: the officer's decision on the proof"}),
    "Billing": obj(billing_code=S, amount=I, currency=S, status=S, expires_at=S, paid_at=S,
                   items={"type": "array", "items": obj(code=S, label=S, amount=I)}),
    "Preferences": obj(["language", "channels"], language={"enum": ["id", "en"]},
                       channels={"type": "array", "items": {"enum": ["EMAIL", "SMS"]}}),
}

# (method, path, summary, tag, roles, request schema, {status: schema or description})
OPERATIONS: list[tuple] = [
    ("post", "/v1/accounts", "Register an applicant account bound to a NIK", "Accounts", None, "NewAccount",
     {201: "account created", 409: "NIK or email taken", 422: "invalid NIK, weak password, bad email/phone"}),
    ("post", "/v1/auth/token", "Exchange email and password for an access token", "Accounts", None, "Credentials",
     {200: "Token", 401: "wrong email or password"}),
    ("get", "/v1/me", "The caller's profile (NIK masked)", "Accounts", "any", None, {200: "Me"}),
    ("put", "/v1/me/notification-preferences", "Language and channels for notifications", "Notifications", "any",
     "Preferences", {200: "Preferences"}),
    ("get", "/v1/offices", "Offices", "Offices", None, None, {200: "list of Office"}),
    ("get", "/v1/offices/{office_id}/slots", "Slots of a date (query date=YYYY-MM-DD, optional lane)", "Offices",
     None, None, {200: "list of Slot", 404: "unknown office", 422: "bad date or lane"}),
    ("put", "/v1/offices/{office_id}/quota", "Set the capacity of a date and lane (audited)", "Offices",
     "SUPERVISOR", "Quota", {200: "quota set", 403: "not the supervisor of this office"}),
    ("post", "/v1/applications", "Create an application", "Applications", "APPLICANT", "NewApplication",
     {201: "Application", 409: "active-application-exists", 422: "invalid fields"}),
    ("get", "/v1/applications", "The caller's applications", "Applications", "APPLICANT", None, {200: "list of Application"}),
    ("get", "/v1/applications/{application_id}", "One application with its timeline", "Applications", "any", None,
     {200: "Application", 404: "no such application (or not yours)"}),
    ("post", "/v1/applications/{application_id}/appointment", "Book a slot: holds the seat, issues the billing",
     "Applications", "APPLICANT", "SlotChoice",
     {201: "appointment and billing", 409: "slot-full, lane-not-allowed, slot-closed (lead time before its start)",
      422: "documents-missing, priority-proof-missing", 503: "booking-interrupted, payment- or store-unavailable (retry)"}),
    ("get", "/v1/applications/{application_id}/billing", "The billing of an application", "Payment", "APPLICANT",
     None, {200: "Billing"}),
    ("get", "/v1/applications/{application_id}/notifications", "Messages sent about an application (status "
     "RECORDED | SENT | FAILED | SKIPPED: not sent because a later event made it stale)",
     "Notifications", "APPLICANT", None, {200: "list of notifications"}),
    ("post", "/v1/offices/{office_id}/check-ins", "Check a PAID applicant in on the appointment day", "At the office",
     "OFFICER", "CheckIn", {201: "queue number", 409: "not paid, or not today", 404: "no such application here",
                            422: "priority-decision-required (a PRIORITY appointment)"}),
    ("get", "/healthz", "Process is up", "Operations", None, None, {200: "ok"}),
    ("get", "/readyz", "Gateway process can serve", "Operations", None, None, {200: "ready"}),
    ("get", "/readyz/dependencies", "Gateway can reach its services", "Operations", None, None, {200: "ready", 503: "not ready"}),
    ("get", "/metrics", "Prometheus metrics", "Operations", None, None, {200: "text exposition format"}),
]


def spec() -> dict:
    paths: dict = {}
    for method, path, summary, tag, roles, body, responses in OPERATIONS:
        op = {"summary": summary, "tags": [tag], "responses": {}}
        params = [{"name": p.strip("{}"), "in": "path", "required": True, "schema": S}
                  for p in path.split("/") if p.startswith("{")]
        if method in ("post", "put") and path.startswith("/v1"):
            params.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": S})
        if params:
            op["parameters"] = params
        if roles:
            op["security"] = [{"bearer": []}]
            op["description"] = f"Role: {roles}."
        if body:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{body}"}}}}
        for status, what in responses.items():
            if what in SCHEMAS:
                op["responses"][str(status)] = {"description": what, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{what}"}}}}
            elif status >= 400:
                op["responses"][str(status)] = {"description": what, "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}}}}
            else:
                op["responses"][str(status)] = {"description": what}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "Passport service platform API", "version": "1.0.0",
                 "description": "Public API of the gateway. Errors are application/problem+json (RFC 9457)."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS,
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
