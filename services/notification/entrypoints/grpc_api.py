"""NotificationService over gRPC: the applicant's delivery log and notification preferences."""
from __future__ import annotations

from passport.v1 import notification_pb2, notification_pb2_grpc
from servicekit.errors import invalid

from services.notification.adapters.proto import notification_to_proto, preferences_to_proto
from services.notification.domain.errors import InvalidInput
from services.notification.usecases.messages import Messages


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, messages: Messages):
        self.messages = messages

    def ListNotifications(self, request, context):
        try:
            items = self.messages.for_application(request.application_id)
        except InvalidInput as exc:
            raise invalid(exc.detail, exc.field or None) from None
        return notification_pb2.ListNotificationsResponse(items=[notification_to_proto(d) for d in items])

    def SetPreferences(self, request, context):
        try:
            prefs = self.messages.set_preferences(request.account_id, request.language, list(request.channels))
        except InvalidInput as exc:
            raise invalid(exc.detail, exc.field or None) from None
        return preferences_to_proto(request.account_id, prefs)

    def GetPreferences(self, request, context):
        return preferences_to_proto(request.account_id, self.messages.preferences_of(request.account_id))
