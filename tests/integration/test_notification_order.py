"""Message order and staleness end to end (issue 16 bug 4): book, pay, reschedule and cancel in quick
succession through the gateway, then read each channel's sink in the order it received the messages."""
from __future__ import annotations

import datetime as dt
import mailbox
import time

import pymongo
from tests.integration.helpers import delivery_log, eventually, pay, sms_to


# What happened, in this order; every message that went out must follow it, and the last one is the
# cancellation (nothing about the seat, the payment or a date after it).
JOURNEY = ["AppointmentBooked", "PaymentSettled", "AppointmentConfirmed", "AppointmentRescheduled",
           "AppointmentCancelled"]


def mails_in_order(stack, address: str) -> list[tuple[str, str]]:
    """(event id, received at) of each mail to `address`, in the order the SMTP sink received them."""
    box = mailbox.Maildir(str(stack.run_dir / "mail"), create=True)
    found = [(m["Message-ID"].strip("<>").split(".EMAIL@")[0], m["X-Sink-Received-At"]) for m in box
             if m["To"] == address]
    return sorted(found, key=lambda f: f[1])


def settled_log(api, person, app_id):
    """The delivery log once every message of the journey is decided: SENT or SKIPPED (none pending)."""
    items = delivery_log(api, person, app_id)
    kinds = {(i["event_type"], i["channel"]) for i in items}
    if not {(t, ch) for t in JOURNEY for ch in ("EMAIL", "SMS")} <= kinds:
        return None
    return items if all(i["status"] in ("SENT", "SKIPPED") for i in items) else None


def test_book_pay_reschedule_cancel_reach_each_channel_in_order_without_stale_messages(stack, api):
    person = api.register_applicant()
    created = api.create_application(person["token"])
    assert created.status == 201, created.body
    app_id = created.body["application_id"]
    first = api.first_working_slot("TBK", "REGULAR", skip_days=4)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": first["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-{app_id}").status == 200
    # Rescheduling needs the payment applied by booking (PAID); then move and cancel at once.
    eventually(lambda: api.get(f"/v1/applications/{app_id}", token=person["token"]).body["status"] == "PAID",
               timeout_s=60, interval_s=0.1)
    other = api.first_working_slot("TBK", "REGULAR", skip_days=int((dt.date.fromisoformat(first["date"])
                                                                     - dt.date.today()).days) + 1)
    moved = api.put(f"/v1/applications/{app_id}/appointment", {"slot_id": other["slot_id"]}, token=person["token"])
    assert moved.status == 200, moved.body
    assert api.delete(f"/v1/applications/{app_id}/appointment", token=person["token"]).status == 204

    items = eventually(lambda: settled_log(api, person, app_id), timeout_s=120)
    time.sleep(2)  # a message wrongly sent late would have arrived by now
    store = pymongo.MongoClient(stack.env()["MONGO_URI"])["passport_notification"]["messages"]
    events = {m["event_id"]: m["event_type"] for m in store.find({"application_id": app_id})}
    for channel, received in (("SMS", [(t["reference"].split(":")[0], t["received_at"])
                                       for t in sms_to(stack, person["phone"])]),
                              ("EMAIL", mails_in_order(stack, person["email"]))):
        order = [events[event_id] for event_id, _at in received]
        sent = sorted((i["event_type"] for i in items if i["channel"] == channel and i["status"] == "SENT"),
                      key=JOURNEY.index)
        print(f"\n{channel} received: {order}")
        assert order == sent, (channel, order, sent)               # each SENT message once, in event order
        assert order[-1] == "AppointmentCancelled"                  # nothing stale after the cancellation
        assert len(order) == len(set(order))
        # The move was cancelled milliseconds later, inside the order hold: its date is never told.
        assert "AppointmentRescheduled" not in order
        skipped = {i["event_type"] for i in items if i["channel"] == channel and i["status"] == "SKIPPED"}
        assert not skipped & set(order) and "AppointmentCancelled" not in skipped
