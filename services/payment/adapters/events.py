"""Domain events -> their proto messages on payment.events, in envelopes (one mapping for all:
each dataclass names its proto message and shares its field names)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from passport.v1 import common_pb2, payment_pb2
from servicekit import events as envelopes
from servicekit.clock import Clock, rfc3339

from services.payment.domain import events
from services.payment.domain.billing import CURRENCY

TOPIC = envelopes.TOPICS["payment"]
PRODUCER = "payment"


def to_proto(event: events.Event):
    fields = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "amount":
            value = common_pb2.Money(amount=value, currency=CURRENCY)
        elif isinstance(value, dt.datetime):
            value = rfc3339(value)
        fields[f.name] = value
    return getattr(payment_pb2, type(event).__name__)(**fields)


def envelopes_of(facts: list[events.Event], clock: Clock) -> list:
    return [envelopes.new_event(PRODUCER, e.application_id, to_proto(e), clock) for e in facts]
