"""`make demo`: the applicant journey against the running local stack, step by step, as a client
app would drive it (plain HTTP to the gateway)."""
from __future__ import annotations

import json
import os
import sys
import time

from deploy.local.client import Api
from deploy.local.stack import DEMO_STAFF

STEP = 0


def step(title: str, reply=None, show=None):
    global STEP
    STEP += 1
    print(f"\n[{STEP}] {title}")
    if reply is not None:
        print(f"    -> HTTP {reply.status}")
        body = show(reply.body) if show else reply.body
        for line in json.dumps(body, indent=2, ensure_ascii=False).splitlines():
            print("    " + line)


def main() -> int:
    api = Api(os.environ.get("GATEWAY_URL", f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}"))
    if api.get("/readyz/dependencies").status != 200:
        print("the stack is not running or not ready: run `make up` first", file=sys.stderr)
        return 1
    person = api.register_applicant()
    step("Register an applicant (NIK, email, phone, password)",
         api.get("/v1/me", token=person["token"]))
    offices = api.get("/v1/offices")
    step("List offices", offices, lambda b: [f"{o['office_id']}: {o['name']} ({o['timezone']})" for o in b["items"]])
    slot = api.first_working_slot("TBK", "REGULAR")
    slots = api.get(f"/v1/offices/TBK/slots?date={slot['date']}&lane=REGULAR")
    step(f"Slots of Tanjung Balai Karimun on {slot['date']} (REGULAR lane)", slots,
         lambda b: [f"{s['start_time']}-{s['end_time']} remaining {s['remaining']}/{s['capacity']}" for s in b["items"]])
    created = api.create_application(person["token"])
    step("Create an application: electronic passport, 10 years, new", created,
         lambda b: {k: b[k] for k in ("application_id", "status", "passport_type", "validity_years")})
    app_id = created.body["application_id"]
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    step(f"Book {slot['date']} {slot['start_time']}: the seat is held and a billing code issued", booked)
    billing = api.get(f"/v1/applications/{app_id}/billing", token=person["token"])
    step("The billing with its items (PP 45/2024)", billing)
    for _ in range(40):
        messages = api.get(f"/v1/applications/{app_id}/notifications", token=person["token"])
        if len(messages.body["items"]) >= 4:
            break
        time.sleep(0.5)
    step("Notifications recorded from the events", messages,
         lambda b: [f"{m['event_type']} via {m['channel']} ({m['language']}): {m['status']}" for m in b["items"]])
    view = api.get(f"/v1/applications/{app_id}", token=person["token"])
    step("The application and its timeline", view,
         lambda b: {"status": b["status"], "timeline": b["timeline"]})
    officer = next(s for s in DEMO_STAFF if s["role"] == "OFFICER")
    print(f"\nDone. Staff can follow up with {officer['email']} / {officer['password']}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
