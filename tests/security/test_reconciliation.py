"""A supervisor's reconciliation file is not the bank's word: a line settles only when the bank's
signed status API confirms it (same billing code and amount). A made-up reference is refused and
the billing stays unpaid; a payment the bank really holds settles; who uploaded which file (its
SHA-256) is in the hash-chained audit."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from deploy.local import bank_simulator
from deploy.local.stack import DEMO_STAFF
from tests.integration.helpers import booked_applicant, eventually

SUPERVISOR = next(s for s in DEMO_STAFF if s["role"] == "SUPERVISOR" and s["office_id"] == "TBK")

HEADER = "bank_reference,billing_code,amount,paid_at\n"


def upload(api, token: str, text: str):
    reply = api.request("POST", "/v1/offices/TBK/reconciliations", raw=text.encode(), content_type="text/csv",
                        token=token)
    assert reply.status == 200, reply.body
    return {i["bank_reference"]: (kind, i["outcome"]) for kind, items in reply.body.items() for i in items}


def billing_status(api, person, app_id) -> str:
    return api.get(f"/v1/applications/{app_id}/billing", token=person["token"]).body["status"]


def test_a_made_up_reference_is_refused_and_a_real_one_settles(api, stack):
    person, app_id, booking = booked_applicant(api)
    billing = booking["billing"]
    token = api.login(SUPERVISOR["email"], SUPERVISOR["password"])
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    fake = f"FAKE-{uuid.uuid4().hex[:12]}"
    forged = HEADER + f"{fake},{billing['billing_code']},{billing['amount']},{now}\n"
    assert upload(api, token, forged)[fake] == ("mismatched", "bank-unknown-reference")
    assert billing_status(api, person, app_id) == "UNPAID"
    assert api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] not in ("PAID", "CONFIRMED")

    # The bank really holds a payment (its notification was lost): the same upload path settles it.
    real = bank_simulator.new_payment(billing["billing_code"], billing["amount"], f"REAL-{uuid.uuid4().hex[:12]}")
    bank_simulator.record_payment(bank_simulator.state_path(stack.env()["BANK_SIMULATOR_STATE"]), real)
    statement = HEADER + f"{real['bank_reference']},{billing['billing_code']},{billing['amount']},{real['paid_at']}\n"
    assert upload(api, token, statement)[real["bank_reference"]] == ("missing_ours", "SETTLED")
    assert billing_status(api, person, app_id) == "PAID"

    today = dt.date.today()
    wanted = {hashlib.sha256(forged.encode()).hexdigest(): 1, hashlib.sha256(statement.encode()).hexdigest(): 0}

    def audited():
        listed = api.get(f"/v1/offices/TBK/audit?from={today - dt.timedelta(days=1)}&to={today + dt.timedelta(days=1)}",
                         token=token)
        assert listed.status == 200, listed.body
        runs = {e["details"]["statement_sha256"]: e for e in listed.body["items"] if e["action"] == "STATEMENT_RECONCILED"}
        return {d: runs[d] for d in wanted} if set(wanted) <= set(runs) else None
    runs = eventually(audited)
    for digest, refused in wanted.items():
        assert runs[digest]["actor_role"] == "SUPERVISOR" and runs[digest]["actor_account_id"]
        assert runs[digest]["details"]["refused"] == refused
