"""Proto <-> domain, one mapping per record: event envelopes and payloads in, the delivery log,
preferences and the NotificationFailed event out."""
from __future__ import annotations

import datetime as dt

from google.protobuf import json_format

from passport.v1 import notification_pb2
from servicekit.clock import rfc3339


def payload_dict(payload) -> dict:
    """A payload message as a plain dict with proto field names (empty fields included)."""
    return json_format.MessageToDict(payload, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def occurred_at(envelope) -> dt.datetime | None:
    """When the envelope's event happened (UTC), or None when the producer did not say."""
    return envelope.occurred_at.ToDatetime(tzinfo=dt.timezone.utc) if envelope.HasField("occurred_at") else None


def notification_to_proto(item: dict) -> notification_pb2.Notification:
    """One delivery-log item (usecases/messages.py `for_application`)."""
    return notification_pb2.Notification(
        notification_id=item["_id"], event_id=item["event_id"], event_type=item["event_type"],
        channel=item["channel"], template=item["template"], language=item["language"], status=item["status"],
        created_at=rfc3339(item["created_at"]), sent_at=rfc3339(item["sent_at"]) if item.get("sent_at") else "")


def preferences_to_proto(account_id: str, prefs) -> notification_pb2.Preferences:
    return notification_pb2.Preferences(account_id=account_id, language=prefs.language, channels=list(prefs.channels))


def failed_to_proto(event) -> notification_pb2.NotificationFailed:
    """domain.delivery.NotificationFailed -> its integration event payload."""
    return notification_pb2.NotificationFailed(
        notification_id=event.notification_id, event_id=event.event_id, event_type=event.event_type,
        account_id=event.account_id, application_id=event.application_id, channel=event.channel,
        attempts=event.attempts, reason=event.reason)
