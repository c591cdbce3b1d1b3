"""The reminder the day before a paid appointment (issue 16), through the real stack: paying schedules it
for 09:00 office time the day before; when it is due, the applicant gets it on each channel."""
from __future__ import annotations

import datetime as dt

import pymongo
from tests.integration.helpers import eventually, mails_to, pay, sms_to



def test_paid_appointment_gets_a_reminder_the_day_before_at_nine_office_time(stack, api):
    person = api.register_applicant()
    created = api.create_application(person["token"], service_type="RENEWAL")
    assert created.status == 201, created.body
    app_id = created.body["application_id"]
    slot = api.first_working_slot("TBK", "REGULAR", skip_days=5)
    booked = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert booked.status == 201, booked.body
    assert pay(api, booked.body["billing"], f"BANK-{app_id}").status == 200

    pending = pymongo.MongoClient(stack.env()["MONGO_URI"], tz_aware=True)["passport_notification"]["reminders"]
    key = f"{app_id}:{slot['date']}"
    entry = eventually(lambda: pending.find_one({"_id": key}))
    day_before = dt.date.fromisoformat(slot["date"]) - dt.timedelta(days=1)
    # TBK keeps WIB (UTC+7): 09:00 WIB is 02:00 UTC
    assert entry["due_at"] == dt.datetime.combine(day_before, dt.time(2, 0), dt.timezone.utc)

    # The day before comes (the store's due time moved, as the clock would): the reminder goes out once.
    pending.update_one({"_id": key}, {"$set": {"due_at": dt.datetime.now(dt.timezone.utc)}})
    texts = eventually(lambda: [t["message"] for t in sms_to(stack, person["phone"]) if "pengingat" in t["message"]],
                       timeout_s=120)
    assert len(texts) == 1 and f"besok {slot['date']}" in texts[0] and "paspor lama" in texts[0]
    assert eventually(lambda: [m for m in mails_to(stack, person["email"]) if m["subject"].startswith("Pengingat")])
    eventually(lambda: pending.find_one({"_id": key}) is None)
