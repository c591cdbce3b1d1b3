"""The office's message rules (issues 16 and 22), on the real handlers, payload messages and templates
with a fake store: what is told, to whom, and what is never told."""
from __future__ import annotations

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import booking_pb2, common_pb2, envelope_pb2, payment_pb2
from services.notification.entrypoints.events import handlers
from services.notification.usecases.delivery import Delivery
from services.notification.usecases.messages import Messages
from services.notification.domain.delivery import RetryPolicy
from tests.unit.fakemongo import Database as FakeDb
from tests.unit.test_notification_delivery import FakeClock, FakeContacts, FlakySender

T0 = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)


def envelope(event_id: str, payload, seconds: float = 0) -> envelope_pb2.EventEnvelope:
    ts = Timestamp()
    ts.FromDatetime(T0 + dt.timedelta(seconds=seconds))
    return envelope_pb2.EventEnvelope(event_id=event_id, event_type=payload.DESCRIPTOR.name, occurred_at=ts,
                                      aggregate_id=getattr(payload, "application_id", "")
                                      or getattr(payload, "complaint_id", ""))


def setup(hold_s: float = 0.0):
    db = FakeDb()
    messages = Messages(db, FakeClock(), hold_s=hold_s)
    return db, messages, handlers(messages)


def sender_for(db, messages, failures: int = 0, cause_wait_s: float = 600):
    sender = FlakySender(failures)
    delivery = Delivery(db, messages.clock, {"SMS": sender}, FakeContacts(),
                        RetryPolicy(base_s=5, max_attempts=5, jitter=0), rand=lambda: 1.0,
                        cause_wait_s=cause_wait_s)
    return delivery, sender


def prefer(db, language: str, channels: list[str]) -> None:
    """The applicant's preferences as PUT /v1/me/notification-preferences stores them."""
    db["preferences"].docs["acc-1"] = {"_id": "acc-1", "language": language, "channels": channels}


def later(messages, seconds: float) -> None:
    messages.clock.t += dt.timedelta(seconds=seconds)


def feed(hs, event_id: str, payload, seconds: float = 0) -> None:
    hs[payload.DESCRIPTOR.name](envelope(event_id, payload, seconds), payload)


def booked(app="app-1", code="820260302000001") -> booking_pb2.AppointmentBooked:
    return booking_pb2.AppointmentBooked(
        application_id=app, account_id="acc-1", office_id="TBK", appointment_id="apt-1", slot_id="s-1",
        date="2026-03-10", start_time="09:00", lane="REGULAR", pay_before="2026-03-02T11:00:00+07:00",
        billing_code=code, amount=common_pb2.Money(amount=950000, currency="IDR"))


def test_the_billing_code_is_told_only_by_the_recorded_booking():
    """Issue 22: a BillingIssued (maybe of an attempt that never recorded its appointment) sends nothing;
    the booking message is the one 'seat held + billing code, pay before' message."""
    db, _, hs = setup()
    phantom = payment_pb2.BillingIssued(billing_code="820260302000009", application_id="app-1", account_id="acc-1",
                                        office_id="TBK", appointment_id="apt-0",
                                        amount=common_pb2.Money(amount=950000, currency="IDR"),
                                        expires_at="2026-03-02T04:00:00+00:00")
    if "BillingIssued" in hs:
        feed(hs, "e-bill", phantom)
    assert not [m for m in db["messages"].docs.values() if "820260302000009" in m["body"]]
    feed(hs, "e-book", booked())
    bodies = {m["channel"]: m["body"] for m in db["messages"].docs.values()}
    assert set(bodies) == {"EMAIL", "SMS"}
    assert all("820260302000001" in b and "Rp 950.000" in b and "11:00 WIB" in b for b in bodies.values())


def test_an_expired_billing_sends_nothing_the_cancellation_tells_it():
    """BillingExpired names a billing code (maybe one never told); booking's AppointmentCancelled with
    reason BILLING_EXPIRED is the message."""
    db, _, hs = setup()
    expired = payment_pb2.BillingExpired(billing_code="820260302000009", application_id="app-1", account_id="acc-1",
                                         office_id="TBK", appointment_id="apt-0",
                                         expired_at="2026-03-02T11:00:00+07:00")
    if "BillingExpired" in hs:
        feed(hs, "e-exp", expired)
    assert db["messages"].docs == {}


# -- order and staleness (issue 16 bug 4) ------------------------------------------------------------
def settled(code="820260302000001") -> payment_pb2.PaymentSettled:
    return payment_pb2.PaymentSettled(billing_code=code, application_id="app-1", account_id="acc-1",
                                      office_id="TBK", appointment_id="apt-1",
                                      amount=common_pb2.Money(amount=950000, currency="IDR"),
                                      paid_at="2026-03-02T10:15:00+07:00")


def rescheduled(date: str) -> booking_pb2.AppointmentRescheduled:
    return booking_pb2.AppointmentRescheduled(application_id="app-1", account_id="acc-1", office_id="TBK",
                                              appointment_id="apt-1", date=date, start_time="10:00")


def cancelled() -> booking_pb2.AppointmentCancelled:
    return booking_pb2.AppointmentCancelled(application_id="app-1", account_id="acc-1", office_id="TBK",
                                            appointment_id="apt-1", reason="APPLICANT")


def sms_sent(sender) -> list[str]:
    return [body for _to, body, _mid in sender.sent]


def test_payment_recorded_before_its_booking_is_sent_after_it():
    """payment.events may be consumed before booking.events: the channel still gets the events' order."""
    db, messages, hs = setup()
    feed(hs, "e-paid", settled(), seconds=30)    # consumed first...
    delivery, sender = sender_for(db, messages)
    delivery.cycle("SMS")
    assert sender.sent == []                      # ...but waits for the booking that told its code
    feed(hs, "e-book", booked(), seconds=0)       # ...which happened first
    delivery.cycle("SMS")
    later(messages, 1)                            # the waiting one is looked at again each second
    delivery.cycle("SMS")
    texts = sms_sent(sender)
    assert len(texts) == 2 and "ditahan" in texts[0] and "pembayaran" in texts[1]


def test_a_payment_of_a_billing_no_booking_told_is_never_sent():
    db, messages, hs = setup()
    feed(hs, "e-paid", settled("820260302000009"))
    delivery, sender = sender_for(db, messages, cause_wait_s=60)
    delivery.cycle("SMS")
    later(messages, 61)
    delivery.cycle("SMS")
    assert sender.sent == [] and db["due_sms"].docs == {}
    assert messages.status_of("e-paid:SMS")[0] == "SKIPPED"


def test_after_two_reschedules_only_the_final_date_is_told():
    db, messages, hs = setup()
    feed(hs, "e-r1", rescheduled("2026-03-12"), seconds=10)
    feed(hs, "e-r2", rescheduled("2026-03-16"), seconds=20)
    delivery, sender = sender_for(db, messages)
    delivery.cycle("SMS")
    texts = sms_sent(sender)
    assert len(texts) == 1 and "2026-03-16" in texts[0]
    assert messages.status_of("e-r1:SMS")[0] == "SKIPPED" and messages.status_of("e-r2:SMS")[0] == "SENT"


def test_booking_and_payment_news_of_a_cancelled_application_are_not_sent():
    db, messages, hs = setup(hold_s=2)
    feed(hs, "e-book", booked(), seconds=0)
    feed(hs, "e-paid", settled(), seconds=5)
    feed(hs, "e-cancel", cancelled(), seconds=9)
    delivery, sender = sender_for(db, messages)
    assert delivery.cycle("SMS") == 0             # held: an earlier event may still be on its way
    later(messages, 2)
    delivery.cycle("SMS")
    texts = sms_sent(sender)
    assert len(texts) == 1 and "dibatalkan" in texts[0]
    assert [messages.status_of(f"{e}:SMS")[0] for e in ("e-book", "e-paid", "e-cancel")] == \
        ["SKIPPED", "SKIPPED", "SENT"]
    assert [i["status"] for i in messages.for_application("app-1") if i["channel"] == "SMS"] == \
        ["SKIPPED", "SKIPPED", "SENT"]


def test_a_message_waiting_for_a_retry_holds_back_the_later_ones():
    db, messages, hs = setup()
    feed(hs, "e-book", booked(), seconds=0)
    feed(hs, "e-paid", settled(), seconds=5)
    delivery, sender = sender_for(db, messages, failures=1)
    delivery.cycle("SMS")
    assert sender.sent == []                      # the booking SMS failed: the payment SMS waits for it
    queued = db["due_sms"].docs
    # ...off the head of the queue until the retry is due (other applications' messages go first)
    assert queued["e-paid:SMS"]["due_at"] == queued["e-book:SMS"]["due_at"] == messages.clock.t + dt.timedelta(seconds=5)
    later(messages, 5)
    while delivery.cycle("SMS"):
        pass
    texts = sms_sent(sender)
    assert len(texts) == 2 and "ditahan" in texts[0] and "pembayaran" in texts[1]


# -- words that fit the applicant (issue 16 bugs 3, 5, 7) -----------------------------------------
def created(service_type: str, app="app-1") -> booking_pb2.ApplicationCreated:
    return booking_pb2.ApplicationCreated(application_id=app, account_id="acc-1", office_id="TBK",
                                          service_type=service_type)


def test_only_renewals_and_damaged_replacements_are_told_to_bring_the_old_passport():
    for service_type, ind, eng in (("NEW", None, None), ("REPLACEMENT_LOST", "kepolisian", "police"),
                                   ("RENEWAL", "paspor lama", "old passport"),
                                   ("REPLACEMENT_DAMAGED", "paspor yang rusak", "damaged passport")):
        db, messages, hs = setup()
        feed(hs, "e-new", created(service_type))
        feed(hs, "e-paid", settled(), seconds=10)
        prefer(db, "id", ["SMS"])
        confirmed = booking_pb2.AppointmentConfirmed(application_id="app-1", account_id="acc-1", office_id="TBK",
                                                     appointment_id="apt-1", date="2026-03-10", start_time="09:00",
                                                     lane="REGULAR", paid_at="2026-03-02T10:15:00+07:00")
        feed(hs, "e-conf", confirmed, seconds=11)
        prefer(db, "en", ["SMS"])
        feed(hs, "e-paid-en", settled(), seconds=12)
        paid = db["messages"].docs["e-paid:SMS"]["body"]
        paid_en = db["messages"].docs["e-paid-en:SMS"]["body"]
        conf = db["messages"].docs["e-conf:SMS"]["body"]
        for body in (paid, conf, paid_en):
            assert "lama" not in body or service_type == "RENEWAL", (service_type, body)
            assert "old passport" not in body or service_type == "RENEWAL", (service_type, body)
            assert "KTP" in body
        if ind:
            assert ind in paid and ind in conf and eng in paid_en


def test_interview_result_is_words_in_the_applicants_language_never_the_code():
    from passport.v1 import biometrics_pb2
    db, messages, hs = setup()
    for i, outcome in enumerate(("APPROVED", "REJECTED")):
        prefer(db, ("id", "en")[i], ["SMS", "EMAIL"])
        feed(hs, f"e-int-{i}", biometrics_pb2.InterviewCompleted(application_id="app-1", account_id="acc-1",
                                                                 office_id="TBK", outcome=outcome))
    docs = db["messages"].docs
    assert "disetujui" in docs["e-int-0:SMS"]["body"] and "disetujui" in docs["e-int-0:EMAIL"]["subject"]
    assert "not approved" in docs["e-int-1:SMS"]["body"]
    assert not any(code in m["body"] + m["subject"] for m in docs.values() for code in ("APPROVED", "REJECTED"))


def test_passport_issued_says_pickup_or_pos_delivery():
    db, messages, hs = setup()
    for delivery in ("PICKUP", "POS"):
        feed(hs, f"e-{delivery}", booking_pb2.PassportIssued(application_id="app-1", account_id="acc-1",
                                                             office_id="TBK", passport_number_masked="X*****67",
                                                             delivery=delivery))
    pickup, pos = db["messages"].docs["e-PICKUP:SMS"]["body"], db["messages"].docs["e-POS:SMS"]["body"]
    assert "ambil di kantor" in pickup and "Pos" not in pickup
    assert "Pos Indonesia" in pos and "ambil" not in pos and "diambil" not in pos


def test_complaint_messages_give_the_tracking_code_never_the_id_or_pin():
    from passport.v1 import complaint_pb2
    db, messages, hs = setup()
    events = [complaint_pb2.ComplaintFiled(complaint_id="5f0c-internal", office_id="TBK", category="SERVICE",
                                           account_id="acc-1", first_response_due_at="2026-03-05T10:00:00Z",
                                           tracking_code="ADU-7K3M9Q"),
              complaint_pb2.ComplaintResponded(complaint_id="5f0c-internal", office_id="TBK", category="SERVICE",
                                               account_id="acc-1", status="IN_PROGRESS", response_id="r-1",
                                               tracking_code="ADU-7K3M9Q"),
              complaint_pb2.ComplaintResolved(complaint_id="5f0c-internal", office_id="TBK", category="SERVICE",
                                              account_id="acc-1", status="RESOLVED", tracking_code="ADU-7K3M9Q")]
    for i, ev in enumerate(events):
        feed(hs, f"e-c{i}", ev)
    docs = db["messages"].docs
    assert len(docs) == 6
    assert all("ADU-7K3M9Q" in m["body"] and "5f0c-internal" not in m["body"] + m["subject"] for m in docs.values())


# -- messages that were missing (issue 16) ----------------------------------------------------------
def test_refund_recorded_and_paid_out_reach_the_applicant():
    db, messages, hs = setup()
    feed(hs, "e-book", booked())
    feed(hs, "e-refund", payment_pb2.RefundRecorded(refund_id="refund:820260302000001", billing_code="820260302000001",
                                                    application_id="app-1", account_id="acc-1", office_id="TBK",
                                                    appointment_id="apt-1", reason="OFFICE_CANCELLED",
                                                    amount=common_pb2.Money(amount=950000, currency="IDR")), 60)
    # RefundPaidOut names no account: the applicant is known from the application's earlier events
    feed(hs, "e-paidout", payment_pb2.RefundPaidOut(refund_id="refund:820260302000001", billing_code="820260302000001",
                                                    application_id="app-1", office_id="TBK", reason="OFFICE_CANCELLED",
                                                    amount=common_pb2.Money(amount=950000, currency="IDR"),
                                                    paid_out_at="2026-03-09T03:00:00Z"), 120)
    docs = db["messages"].docs
    assert "kantor imigrasi membatalkan" in docs["e-refund:SMS"]["body"] and "Rp 950.000" in docs["e-refund:SMS"]["body"]
    assert docs["e-paidout:SMS"]["account_id"] == "acc-1" and "sudah dikembalikan" in docs["e-paidout:SMS"]["body"]
    assert "09-03-2026 03:00" in docs["e-paidout:EMAIL"]["body"]


def test_biometrics_captured_is_told():
    from passport.v1 import biometrics_pb2
    db, messages, hs = setup()
    feed(hs, "e-bio", biometrics_pb2.BiometricsCaptured(application_id="app-1", account_id="acc-1", office_id="TBK",
                                                        outcome="CAPTURED", fingers_captured=[1, 2]))
    assert "sidik jari sudah direkam" in db["messages"].docs["e-bio:SMS"]["body"]
    assert "wawancara" in db["messages"].docs["e-bio:EMAIL"]["body"]


# -- the reminder the day before (issue 16) -----------------------------------------------------------
def test_reminder_moment_is_the_day_before_at_the_hour_in_the_office_zone():
    from zoneinfo import ZoneInfo
    from services.notification.domain.reminders import due_at
    wib, wita = ZoneInfo("Asia/Jakarta"), ZoneInfo("Asia/Makassar")
    now = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # 10:00 WIB on 2 March
    assert due_at("2026-03-10", "09:00", wib, 9, now) == dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.timezone.utc)
    assert due_at("2026-03-10", "09:00", wita, 18, now) == dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.timezone.utc)
    assert due_at("2026-03-03", "08:00", wib, 9, now) == now          # booked late: at once
    assert due_at("2026-03-02", "08:00", wib, 9, now) is None         # already started: never


def reminders_for(db, messages, hour: int = 9):
    from services.notification.usecases.reminders import Reminders
    reminders = Reminders(db, messages.clock, messages, hour=hour)
    return reminders, handlers(messages, reminders=reminders)


def confirmed_on(date: str) -> booking_pb2.AppointmentConfirmed:
    return booking_pb2.AppointmentConfirmed(application_id="app-1", account_id="acc-1", office_id="TBK",
                                            appointment_id="apt-1", date=date, start_time="09:00", lane="REGULAR",
                                            paid_at="2026-03-02T10:15:00+07:00")


def test_a_paid_appointment_is_reminded_once_the_day_before():
    db, messages, _ = setup()
    reminders, hs = reminders_for(db, messages)
    feed(hs, "e-created", created("RENEWAL"))
    feed(hs, "e-book", booked(), seconds=1)
    feed(hs, "e-conf", confirmed_on("2026-03-10"), seconds=2)
    feed(hs, "e-conf", confirmed_on("2026-03-10"), seconds=2)          # redelivered: still one reminder
    assert reminders.run_due() == 0                                     # 2 March: not yet
    messages.clock.t = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.timezone.utc)  # 9 March 09:00 WIB
    assert reminders.run_due() == 1 and reminders.run_due() == 0
    sms = db["messages"].docs["reminder:app-1:2026-03-10:SMS"]["body"]
    assert "besok 2026-03-10 pukul 09:00" in sms and "paspor lama" in sms


def test_no_reminder_for_a_cancelled_or_moved_appointment():
    db, messages, _ = setup()
    reminders, hs = reminders_for(db, messages)
    feed(hs, "e-book", booked(), seconds=1)
    feed(hs, "e-conf", confirmed_on("2026-03-10"), seconds=2)
    feed(hs, "e-move", rescheduled("2026-03-16"), seconds=3)
    messages.clock.t = dt.datetime(2026, 3, 9, 2, 0, tzinfo=dt.timezone.utc)
    assert reminders.run_due() == 0                                     # 10 March is not the date any more
    messages.clock.t = dt.datetime(2026, 3, 15, 2, 0, tzinfo=dt.timezone.utc)
    feed(hs, "e-cancel", cancelled(), seconds=4)
    assert reminders.run_due() == 0                                     # the 16th was cancelled
    assert not [k for k in db["messages"].docs if k.startswith("reminder:")]
    assert db["reminders"].docs == {}


def test_a_complaint_answer_reaches_an_anonymous_reporter_only_by_the_contact_they_left():
    from passport.v1 import complaint_pb2
    db, messages, hs = setup()
    with_contact = complaint_pb2.ComplaintResponded(complaint_id="c-anon", office_id="TBK", category="SERVICE",
                                                    status="IN_PROGRESS", response_id="r-1", tracking_code="ADU-1",
                                                    contact_channels=["SMS"])
    without = complaint_pb2.ComplaintResponded(complaint_id="c-anon-2", office_id="TBK", category="SERVICE",
                                               status="IN_PROGRESS", response_id="r-2", tracking_code="ADU-2")
    feed(hs, "e-with", with_contact)
    feed(hs, "e-without", without)
    assert set(db["messages"].docs) == {"e-with:SMS"}
    doc = db["messages"].docs["e-with:SMS"]
    assert doc["account_id"] == "complaint:c-anon" and "ADU-1" in doc["body"] and doc["group"] == "c-anon"


def test_the_reporter_contact_is_asked_of_the_complaint_service_at_send_time():
    from services.notification.adapters.peers import Contacts

    class Stub:
        def __init__(self):
            self.asked = []

        def GetReporterContact(self, request):
            self.asked.append(request.complaint_id)
            from passport.v1 import complaint_pb2
            return complaint_pb2.ReporterContact(phone="081234567890")

    contacts = Contacts.__new__(Contacts)
    contacts.stub, contacts.reporters = None, Stub()
    assert contacts.address_of("complaint:c-anon", "SMS") == "081234567890"
    assert contacts.reporters.asked == ["c-anon"]


def test_held_back_messages_do_not_crowd_out_other_applications():
    db, messages, hs = setup()
    for i in range(3):  # three applications whose first SMS fails and whose second one is held back
        feed(hs, f"e-book-{i}", booked(app=f"app-{i}", code=f"82026030200000{i}"), seconds=i)
        feed(hs, f"e-paid-{i}", payment_pb2.PaymentSettled(billing_code=f"82026030200000{i}", application_id=f"app-{i}",
                                                           account_id="acc-1", paid_at="2026-03-02T10:15:00+07:00"),
             seconds=10 + i)
    delivery, sender = sender_for(db, messages, failures=3)
    delivery.batch = 3
    delivery.cycle("SMS")
    assert sender.sent == []
    feed(hs, "e-other", booked(app="app-9", code="820260302000009"), seconds=20)
    delivery.cycle("SMS")                          # the held ones are not due: the new one goes at once
    assert len(sender.sent) == 1 and "820260302000009" in sender.sent[0][1]


def test_an_entry_read_light_for_ordering_is_read_whole_when_its_turn_comes():
    """The order walk reads other open entries of an application with a projection (no body); the one
    whose turn comes is read whole by `_id` before it is sent."""
    db, messages, hs = setup()
    feed(hs, "e-book", booked(), seconds=0)
    feed(hs, "e-paid", settled(), seconds=5)
    queue_ = db["due_sms"]
    whole = queue_.find

    def find(query=None, projection=None):
        docs = whole(query)
        return type(docs)({k: v for k, v in d.items() if k in projection} for d in docs) if projection else docs
    queue_.find = find
    delivery, sender = sender_for(db, messages)
    delivery.batch = 1                             # the due batch holds the booking message only
    delivery.cycle("SMS")
    texts = sms_sent(sender)
    assert len(texts) == 2 and "ditahan" in texts[0] and "pembayaran" in texts[1]


def test_an_anonymous_reporter_is_answered_in_the_language_they_filed_in():
    from passport.v1 import complaint_pb2
    db, messages, hs = setup()
    feed(hs, "e-en", complaint_pb2.ComplaintResolved(complaint_id="c-en", office_id="TBK", category="SERVICE",
                                                     status="RESOLVED", tracking_code="ADU-3",
                                                     contact_channels=["EMAIL"], contact_language="en"))
    doc = db["messages"].docs["e-en:EMAIL"]
    assert doc["language"] == "en" and "resolved" in doc["subject"] and "ADU-3" in doc["subject"]
