"""Composition root of the notification service: `python -m services.notification`."""
from __future__ import annotations

import datetime as dt
import logging
import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc

from prometheus_client import Counter

# Importing the generated modules registers their event payload types; only registered types
# are decoded (an event type this build does not know is skipped by the consumer, counted).
from passport.v1 import (accounts_pb2, accounts_pb2_grpc, biometrics_pb2, booking_pb2,  # noqa: F401
                         booking_pb2_grpc, complaint_pb2, notification_pb2, notification_pb2_grpc, payment_pb2)
from servicekit import grpcclient, log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_float, env_int, service_address
from servicekit.consumer import EventConsumer, PermanentError
from servicekit.events import ALL_TOPICS
from servicekit.grpcserver import ServiceRunner
from servicekit.outbox import OutboxRelay

from services.notification.channels import SmsGatewaySender, SmtpSender
from services.notification.delivery import REPORTER_PREFIX, Contacts, Delivery
from services.notification.messages import CHANNELS, Messages, to_proto
from services.notification.ordering import fact_of
from services.notification.policy import RetryPolicy
from services.notification.reminders import SCHEDULES, Reminders
from services.notification.templates import (EVENT_TYPES, FACT_ONLY, INTERNAL_TYPES, LABELS, SUPERVISOR_TEMPLATES,
                                             TemplateError, fields_of, payload_dict)

NAME = "notification"
logger = logging.getLogger("notification")
NOT_ADDRESSED = Counter("notification_events_without_account_total",
                        "Events of a notified type that carry no account (e.g. anonymous complaints).",
                        ["event_type"])
NO_SUPERVISOR = Counter("notification_escalations_without_supervisor_total",
                        "Escalations for an office that has no SUPERVISOR account.", ["event_type"])


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, messages: Messages):
        self.messages = messages

    def ListNotifications(self, request, context):
        return notification_pb2.ListNotificationsResponse(
            items=[to_proto(d) for d in self.messages.for_application(request.application_id)])

    def SetPreferences(self, request, context):
        prefs = self.messages.set_preferences(request.account_id, request.language, list(request.channels))
        return notification_pb2.Preferences(account_id=request.account_id, **prefs)

    def GetPreferences(self, request, context):
        return notification_pb2.Preferences(account_id=request.account_id,
                                            **self.messages.preferences_of(request.account_id))


class OfficeZones:
    """Office id -> time zone, from the booking service's ListOffices (cached; UTC if unknown)."""

    def __init__(self, address: str):
        self.stub = booking_pb2_grpc.BookingServiceStub(grpcclient.channel(address, 5.0))
        self.zones: dict[str, ZoneInfo] = {}

    def zone_of(self, office_id: str, tries: int = 3):
        for attempt in range(tries if office_id and office_id not in self.zones else 0):
            try:
                for o in self.stub.ListOffices(booking_pb2.ListOfficesRequest()).items:
                    self.zones[o.office_id] = ZoneInfo(o.timezone)
                break
            except (grpc.RpcError, ZoneInfoNotFoundError) as exc:
                if attempt == tries - 1:
                    logger.warning("office zones unavailable, times shown in UTC: %s", exc)
                else:
                    time.sleep(0.5 * (attempt + 1))  # booking busy or starting: ask again shortly
        return self.zones.get(office_id)


class Supervisors:
    """Office id -> account ids of its SUPERVISOR(s) (head of office), from booking's ListStaff.
    Asked per event (escalations are rare); a failure raises, so the consumer retries the event."""

    def __init__(self, address: str, deadline_s: float = 3.0):
        self.stub = accounts_pb2_grpc.AccountServiceStub(grpcclient.channel(address, deadline_s))

    def of(self, office_id: str) -> list[str]:
        reply = self.stub.ListStaff(accounts_pb2.ListStaffRequest(office_id=office_id, role="SUPERVISOR"))
        return sorted({a.account_id for a in reply.items if a.account_id})


def handlers(messages: Messages, zones: OfficeZones | None = None, supervisors: Supervisors | None = None,
             reminders: Reminders | None = None) -> dict:
    """Event type -> handler, for every event type that has templates, and for the silent ones whose
    facts the send-time rules need (FACT_ONLY). Other types (and types whose payload message this build
    does not know) are logged, counted and skipped by the consumer. Types in SUPERVISOR_TEMPLATES are
    also told to the office's supervisors."""
    def fact(envelope, data: dict) -> dict:
        at = envelope.occurred_at.ToDatetime(tzinfo=dt.timezone.utc) if envelope.HasField("occurred_at") \
            else messages.clock.now()
        return fact_of(envelope.event_type, envelope.event_id, at, data)

    def note(envelope, payload):
        data = payload_dict(payload)
        messages.note(envelope, data.get("application_id") or "", fact(envelope, data))

    def handle(envelope, payload):
        data = payload_dict(payload)
        application_id = data.get("application_id") or ""
        # an event that names no applicant (e.g. a refund paid out) is for the application's applicant
        account_id = data.get("account_id") or (messages.account_of(application_id) if application_id else "")
        try:
            tz = zones.zone_of(data.get("office_id") or "") if zones else None
            fields = fields_of(data, tz)
            if application_id and "service_type" not in fields and (envelope.event_type, "service_type") in LABELS:
                # what to bring depends on it (kept from the application's ApplicationCreated)
                fields["service_type"] = messages.service_type_of(application_id)
            template = SUPERVISOR_TEMPLATES.get(envelope.event_type)
            if template and supervisors is not None:
                heads = supervisors.of(data.get("office_id") or "")
                if not heads:
                    NO_SUPERVISOR.labels(envelope.event_type).inc()
                    log.event(logger, "office has no supervisor to tell", logging.WARNING,
                              event_type=envelope.event_type, office_id=data.get("office_id") or "")
                messages.record_for_supervisors(envelope, heads, fields, template)
            if not account_id and data.get("contact_channels") and data.get("complaint_id"):
                # an anonymous reporter who left a contact: only by the channels they gave, the
                # address asked of the complaint service at send time
                messages.record(envelope, REPORTER_PREFIX + data["complaint_id"], "", fields,
                                channels=list(data["contact_channels"]), language=data.get("contact_language") or "")
                return
            if not account_id:
                NOT_ADDRESSED.labels(envelope.event_type).inc()
                log.event(logger, "event carries no account; nobody to tell", event_type=envelope.event_type)
                messages.note(envelope, application_id, fact(envelope, data))
                return
            messages.record(envelope, account_id, application_id, fields, fact(envelope, data))
            if reminders is not None and envelope.event_type in SCHEDULES:
                reminders.schedule({**data, "account_id": account_id}, tz)
        except TemplateError as exc:
            raise PermanentError(str(exc)) from None

    return {**{t: note for t in FACT_ONLY},
            **{t: handle for t in EVENT_TYPES if t not in INTERNAL_TYPES and messages.templates.has(t)}}


def retry_policy() -> RetryPolicy:
    return RetryPolicy(base_s=env_float("NOTIFY_RETRY_BASE_S", 1.0),
                       max_delay_s=env_float("NOTIFY_RETRY_MAX_DELAY_S", 300.0),
                       max_attempts=env_int("NOTIFY_MAX_ATTEMPTS", 12),
                       stale_attempt_s=env_float("NOTIFY_STALE_ATTEMPT_S", 60.0))


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    messages = Messages(db, clock, hold_s=env_float("NOTIFY_ORDER_HOLD_S", 2.0))
    messages.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(notification_pb2_grpc.add_NotificationServiceServicer_to_server, NotificationServicer(messages),
               "passport.v1.NotificationService")
    booking_address = service_address("booking", GRPC_PORTS["booking"])
    reminders = Reminders(db, clock, messages, hour=env_int("NOTIFY_REMINDER_HOUR", 9))
    reminders.ensure_indexes()
    consumer = EventConsumer(db, "notification", list(ALL_TOPICS), handlers(messages, OfficeZones(booking_address),
                                                                          Supervisors(booking_address), reminders))
    runner.add_worker("reminders", reminders.worker(env_float("NOTIFY_REMINDER_POLL_S", 30.0)))
    runner.add_worker("consumer", consumer.run)
    contacts = Contacts(booking_address, env_float("CONTACT_DEADLINE_S", 3.0),
                        service_address("complaint", GRPC_PORTS["complaint"]))
    delivery = Delivery(db, clock, {"EMAIL": SmtpSender.from_env(), "SMS": SmsGatewaySender.from_env()},
                        contacts, retry_policy(), batch=env_int("NOTIFY_BATCH", 100),
                        concurrency=env_int("NOTIFY_SEND_CONCURRENCY", 8),
                        cause_wait_s=env_float("NOTIFY_CAUSE_WAIT_S", 1800.0))
    for channel in CHANNELS:
        runner.add_worker(f"delivery-{channel}", delivery.worker(channel))
    runner.add_worker("delivery-sweep", delivery.sweeper(env_float("NOTIFY_SWEEP_INTERVAL_S", 300.0)))
    runner.add_worker("outbox", OutboxRelay(db, NAME, clock).run)
    runner.run()


if __name__ == "__main__":
    main()
