"""The event envelope of PRODUCT.md: protobuf, one topic per producing service, keyed by aggregate."""
from __future__ import annotations

import uuid

from google.protobuf import any_pb2, message, symbol_database
from google.protobuf.timestamp_pb2 import Timestamp

from passport.v1 import envelope_pb2
from servicekit import log, tracing
from servicekit.clock import Clock

# Topic names per producing service (biometrics-capture publishes on biometrics.events).
TOPICS = {
    "booking": "booking.events",
    "payment": "payment.events",
    "biometrics-capture": "biometrics.events",
    "complaint": "complaint.events",
    "notification": "notification.events",
}
ALL_TOPICS = tuple(TOPICS.values())
# Which service's contract declares an event, by proto file: the only producer it may come from.
PRODUCER_OF_FILE = {
    "passport/v1/booking.proto": "booking", "passport/v1/office.proto": "booking",
    "passport/v1/accounts.proto": "booking", "passport/v1/payment.proto": "payment",
    "passport/v1/biometrics.proto": "biometrics-capture", "passport/v1/complaint.proto": "complaint",
    "passport/v1/notification.proto": "notification",
}


def home_topic(payload: message.Message) -> str | None:
    """The topic an event of this type is published on (None: not an event of a known producer)."""
    producer = PRODUCER_OF_FILE.get(payload.DESCRIPTOR.file.name)
    return TOPICS.get(producer) if producer else None


class MalformedEvent(Exception):
    """The bytes are not an envelope we can read: a poison message for the dead-letter topic."""


def new_event(producer: str, aggregate_id: str, payload: message.Message, clock: Clock,
              schema_version: int = 1) -> envelope_pb2.EventEnvelope:
    """Wrap a domain fact; its type name is the payload message's name (e.g. AppointmentBooked)."""
    occurred = Timestamp()
    occurred.FromDatetime(clock.now())
    packed = any_pb2.Any()
    packed.Pack(payload)
    return envelope_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),
        event_type=payload.DESCRIPTOR.name,
        schema_version=schema_version,
        occurred_at=occurred,
        aggregate_id=aggregate_id,
        correlation_id=log.correlation_id.get(),
        producer=producer,
        payload=packed,
        traceparent=tracing.event_created(payload.DESCRIPTOR.name, TOPICS.get(producer, "")),
    )


def decode(data: bytes) -> tuple[envelope_pb2.EventEnvelope, message.Message | None]:
    """Envelope and payload. The payload is None when its type is unknown to this process
    (a newer producer's event): consumers skip those quietly instead of failing."""
    envelope = envelope_pb2.EventEnvelope()
    try:
        envelope.ParseFromString(data)
    except message.DecodeError as exc:
        raise MalformedEvent(f"not an EventEnvelope: {exc}") from None
    if not envelope.event_id or not envelope.event_type or not envelope.payload.type_url:
        raise MalformedEvent("envelope lacks event_id, event_type or payload")
    type_name = envelope.payload.TypeName()
    try:
        cls = symbol_database.Default().GetSymbol(type_name)
    except KeyError:
        return envelope, None
    payload = cls()
    if not envelope.payload.Unpack(payload):
        raise MalformedEvent(f"payload is not a {type_name}")
    return envelope, payload
