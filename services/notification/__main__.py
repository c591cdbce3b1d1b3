"""Composition root of the notification service: `python -m services.notification`. Only wiring:
the rules are in domain/, the store and peers in adapters/, what the service does in usecases/, how
it is called (gRPC, Kafka, loops) in entrypoints/."""
from __future__ import annotations

# Importing the generated modules registers their event payload types; only registered types
# are decoded (an event type this build does not know is skipped by the consumer, counted).
from passport.v1 import (accounts_pb2, biometrics_pb2, booking_pb2, complaint_pb2, notification_pb2,  # noqa: F401
                         notification_pb2_grpc, payment_pb2)
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int, service_address
from servicekit.consumer import EventConsumer
from servicekit.grpcserver import ServiceRunner
from servicekit.kafka_access import CONSUMES
from servicekit.lease import WindowLease
from servicekit.outbox import OutboxRelay

from services.notification import config
from services.notification.adapters.channels import SmsGatewaySender, SmtpSender
from services.notification.adapters.peers import Contacts, OfficeZones, Supervisors
from services.notification.domain.message import CHANNELS
from services.notification.entrypoints.events import handlers
from services.notification.entrypoints.grpc_api import NotificationServicer
from services.notification.entrypoints.workers import delivery_loop, reminder_loop, sweep_loop
from services.notification.usecases.delivery import Delivery
from services.notification.usecases.messages import Messages
from services.notification.usecases.reminders import Reminders

NAME = "notification"


def main() -> None:
    log.setup(NAME)
    settings = config.load()
    clock = Clock()
    db = mongo.database(NAME)
    messages = Messages(db, clock, hold_s=settings.order_hold_s)
    messages.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(notification_pb2_grpc.add_NotificationServiceServicer_to_server, NotificationServicer(messages),
               "passport.v1.NotificationService")
    booking_address = service_address("booking", GRPC_PORTS["booking"])
    reminders = Reminders(db, clock, messages, hour=settings.reminder_hour)
    reminders.ensure_indexes()
    consumer = EventConsumer(db, "notification", list(CONSUMES["notification"]),
                             handlers(messages, OfficeZones(booking_address), Supervisors(booking_address), reminders,
                                      settings.web_base_url))
    runner.add_worker("reminders", reminder_loop(reminders, settings.reminder_poll_s))
    runner.add_worker("consumer", consumer.run)
    contacts = Contacts(booking_address, settings.contact_deadline_s,
                        service_address("complaint", GRPC_PORTS["complaint"]))
    delivery = Delivery(db, clock, {"EMAIL": SmtpSender.from_env(), "SMS": SmsGatewaySender.from_env()},
                        contacts, settings.retry, batch=settings.batch, concurrency=settings.send_concurrency,
                        cause_wait_s=settings.cause_wait_s)
    for channel in CHANNELS:
        runner.add_worker(f"delivery-{channel}", delivery_loop(delivery, channel))
    sweep_every = settings.sweep_interval_s
    lease = WindowLease(db, "notification-sweep", window_s=max(1, int(sweep_every)), clock=clock)
    runner.add_worker("delivery-sweep", sweep_loop(delivery, lease, sweep_every))
    runner.add_worker("outbox", OutboxRelay(db, NAME, clock).run)
    runner.run()


if __name__ == "__main__":
    main()
