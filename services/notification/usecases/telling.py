"""Telling about an event: who is told (the applicant, an anonymous reporter by the contact they
left, the office's supervisors) and what the send-time rules keep of it (its fact)."""
from __future__ import annotations

import logging

from servicekit import log

from services.notification import metrics
from services.notification.domain.message import REPORTER_PREFIX, Event
from services.notification.domain.ordering import fact_of
from services.notification.domain.reminders import SCHEDULES
from services.notification.domain.templates import (DEFAULT_WEB_BASE_URL, LABELS, SUPERVISOR_TEMPLATES, fields_of,
                                                    link_fields)

logger = logging.getLogger("notification")


class TellAboutEvent:
    """`zones` (office id -> tz), `supervisors` (office id -> account ids) and `reminders` are optional:
    without them times show in UTC, nobody on staff is told and nothing is scheduled. `web_base_url`:
    the applicant web app, for the links in messages (the booking proof)."""

    def __init__(self, messages, zones=None, supervisors=None, reminders=None,
                 web_base_url: str = DEFAULT_WEB_BASE_URL):
        self.messages, self.zones, self.supervisors, self.reminders = messages, zones, supervisors, reminders
        self.web_base_url = web_base_url

    def fact(self, event: Event) -> dict:
        return fact_of(event.event_type, event.event_id, event.at(self.messages.clock.now()), event.data)

    def note(self, event: Event) -> None:
        """An event that tells nobody still counts for the rules of its application's later messages."""
        self.messages.note(event, event.application_id, self.fact(event))

    def tell(self, event: Event) -> None:
        """Raises TemplateError when a template needs a field the event lacks (nothing recorded)."""
        data, application_id = event.data, event.application_id
        # an event that names no applicant (e.g. a refund paid out) is for the application's applicant
        account_id = data.get("account_id") or (self.messages.account_of(application_id) if application_id else "")
        tz = self.zones.zone_of(event.office_id) if self.zones else None
        fields = {**fields_of(data, tz), **link_fields(application_id, self.web_base_url)}
        if application_id and "service_type" not in fields and (event.event_type, "service_type") in LABELS:
            # what to bring depends on it (kept from the application's ApplicationCreated)
            fields["service_type"] = self.messages.service_type_of(application_id)
        template = SUPERVISOR_TEMPLATES.get(event.event_type)
        if template and self.supervisors is not None:
            heads = self.supervisors.of(event.office_id)
            if not heads:
                metrics.NO_SUPERVISOR.labels(event.event_type).inc()
                log.event(logger, "office has no supervisor to tell", logging.WARNING,
                          event_type=event.event_type, office_id=event.office_id)
            self.messages.record_for_supervisors(event, heads, fields, template)
        if not account_id and data.get("contact_channels") and data.get("complaint_id"):
            # an anonymous reporter who left a contact: only by the channels they gave, the
            # address asked of the complaint service at send time
            self.messages.record(event, REPORTER_PREFIX + data["complaint_id"], "", fields,
                                 channels=list(data["contact_channels"]), language=data.get("contact_language") or "")
            return
        if not account_id:
            metrics.NOT_ADDRESSED.labels(event.event_type).inc()
            log.event(logger, "event carries no account; nobody to tell", event_type=event.event_type)
            self.messages.note(event, application_id, self.fact(event))
            return
        self.messages.record(event, account_id, application_id, fields, self.fact(event))
        if self.reminders is not None and event.event_type in SCHEDULES:
            self.reminders.schedule({**data, "account_id": account_id}, tz)
