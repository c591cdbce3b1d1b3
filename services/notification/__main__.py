"""Composition root of the notification service: `python -m services.notification`."""
from __future__ import annotations

from passport.v1 import booking_pb2, notification_pb2, notification_pb2_grpc, payment_pb2  # noqa: F401 (registers event types)
from servicekit import log, mongo
from servicekit.clock import Clock
from servicekit.config import GRPC_PORTS, METRICS_PORTS, env_int
from servicekit.consumer import EventConsumer
from servicekit.events import ALL_TOPICS
from servicekit.grpcserver import ServiceRunner

from services.notification.messages import Messages, to_proto

NAME = "notification"


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


def handlers(messages: Messages) -> dict:
    """Event type -> handler. Every applicant-facing fact with an account becomes messages."""
    def per_application(envelope, payload):
        messages.record(envelope, payload.account_id, payload.application_id)

    return {"AppointmentBooked": per_application, "BillingIssued": per_application}


def main() -> None:
    log.setup(NAME)
    clock = Clock()
    db = mongo.database(NAME)
    messages = Messages(db, clock)
    messages.ensure_indexes()
    runner = ServiceRunner(NAME, env_int("GRPC_PORT", GRPC_PORTS[NAME]), env_int("METRICS_PORT", METRICS_PORTS[NAME]))
    runner.add(notification_pb2_grpc.add_NotificationServiceServicer_to_server, NotificationServicer(messages),
               "passport.v1.NotificationService")
    consumer = EventConsumer(db, "notification", list(ALL_TOPICS), handlers(messages))
    runner.add_worker("consumer", consumer.run)
    runner.run()


if __name__ == "__main__":
    main()
