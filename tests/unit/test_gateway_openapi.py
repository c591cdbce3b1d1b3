"""The OpenAPI document and the gateway agree without a running stack: every route is documented
(and nothing else), the Idempotency-Key header is declared exactly where it is honoured, the codes
the gateway's own machinery answers are declared, enums come from services/gateway/schema.py, and
a method a path does not take answers 405 problem+json with Allow."""
from __future__ import annotations

import re

import pytest

from services.gateway import openapi, schema
from services.gateway.app import create_app

APP = create_app()
SPEC = openapi.spec(APP)
OPERATIONS = [(method, path, op) for path, methods in SPEC["paths"].items() for method, op in methods.items()]


def flask_operations() -> set[tuple[str, str]]:
    out = set()
    for rule in APP.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        out.update((m.lower(), path) for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_every_route_is_documented_and_every_documented_operation_is_routed():
    documented = {(method, path) for method, path, _ in OPERATIONS}
    assert flask_operations() == documented


def test_idempotency_key_is_declared_exactly_where_a_view_honours_it():
    honoured = {(m, p) for m, p, _ in OPERATIONS
                if getattr(APP.view_functions[APP.url_map.bind("x").match(
                    re.sub(r"\{\w+\}", "x", p), method=m.upper())[0]], "idempotent", False)}
    declared = {(m, p) for m, p, op in OPERATIONS
                if any(q["name"] == "Idempotency-Key" for q in op.get("parameters", []))}
    assert declared == honoured and ("post", "/v1/applications") in declared
    key = next(q for q in SPEC["paths"]["/v1/applications"]["post"]["parameters"] if q["name"] == "Idempotency-Key")
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": schema.IDEMPOTENCY_KEY_MAX}


@pytest.mark.parametrize("method,path,op", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_the_gateways_own_answers_are_declared(method, path, op):
    codes = set(op["responses"])
    if path.startswith("/v1"):
        assert {"429", "503"} <= codes
    if "security" in op:
        assert "401" in codes
    if "{" in path:
        assert "404" in codes
    if "requestBody" in op:
        assert {"413", "415", "422"} <= codes
    for status, answer in op["responses"].items():
        if status.startswith("4") and path.startswith("/v1"):
            assert list(answer["content"]) == ["application/problem+json"]


def test_required_query_parameters_are_declared():
    slots = {q["name"]: q for q in SPEC["paths"]["/v1/offices/{office_id}/slots"]["get"]["parameters"]}
    assert slots["date"]["required"] and slots["date"]["schema"]["format"] == "date"
    assert slots["lane"]["schema"]["enum"] == list(schema.LANES)
    stats = {q["name"]: q for q in SPEC["paths"]["/v1/offices/{office_id}/complaint-statistics"]["get"]["parameters"]}
    assert stats["month"]["required"]


def test_enums_come_from_the_one_vocabulary():
    props = SPEC["components"]["schemas"]["NewApplication"]["properties"]
    assert props["passport_type"]["enum"] == list(schema.PASSPORT_TYPES)
    assert props["service_type"]["enum"] == list(schema.SERVICE_TYPES)
    assert props["priority_group"]["enum"] == list(schema.PRIORITY_GROUPS) + [None]  # optional: null is absent
    assert props["priority_group"]["nullable"] and "nullable" not in props["passport_type"]
    assert SPEC["components"]["schemas"]["Waitlist"]["properties"]["lane"]["enum"] == list(schema.LANES)
    assert SPEC["components"]["schemas"]["NewComplaint"]["properties"]["category"]["enum"] == \
        list(schema.COMPLAINT_CATEGORIES)


def test_an_undeclared_method_answers_405_with_allow():
    resp = APP.test_client().open("/v1/offices", method="DELETE")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert resp.get_json()["type"].endswith("/method-not-allowed")


def test_a_number_no_proto_field_can_carry_is_a_422_not_a_500():
    with APP.test_request_context():  # schemathesis found PUT .../quota with capacity 4.9e17 answered 500
        from services.gateway.problems import Problem
        from services.gateway.validation import fields
        with pytest.raises(Problem) as refused:
            fields({"capacity": 496336417612382400}, {"capacity": (int, True, schema.INT32)})
        assert refused.value.status == 422 and refused.value.errors[0]["field"] == "capacity"
        with pytest.raises(Problem):
            fields({"amount": 2 ** 63}, {"amount": (int, True)})
        assert fields({"capacity": 1000}, {"capacity": (int, True, schema.INT32)}) == {"capacity": 1000}
        assert fields({"validity_years": 10}, {"validity_years": (int, True, (5, 10))}) == {"validity_years": 10}


@pytest.mark.parametrize("url, fields_named", [
    # schemathesis found ?status=&assignee=<65 characters> answered 200: the route read both leniently
    ("/v1/offices/TBK/complaints?status=&assignee=" + "0" * 65, {"status", "assignee"}),
    ("/v1/offices/TBK/appointments?page=0&lane=VIP", {"page", "lane"}),
    ("/v1/offices/TBK/refunds?limit=ten", {"limit"}),
    ("/v1/offices/TBK/statistics?from=2026-02-30", {"from", "to"}),
    ("/v1/offices/TBK/applications?q=ab", {"q"}),
])
def test_a_query_the_document_rejects_is_a_422_naming_each_parameter(url, fields_named):
    resp = APP.test_client().get(url)  # refused before any service is called: none runs here
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert {e["field"] for e in resp.get_json()["errors"]} == fields_named


def test_a_query_the_document_accepts_goes_on_to_the_route():
    # an empty date is documented as today; the route then asks for credentials
    for url in ("/v1/offices/TBK/appointments?date=&page=2", "/v1/offices/TBK/complaints?status=OPEN&assignee=me"):
        resp = APP.test_client().get(url)
        assert resp.status_code == 401, (url, resp.get_json())
