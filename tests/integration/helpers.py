"""What many stack tests need, in one place: polling, an applicant with an application or a
booking, and a service's metric as Prometheus serves it."""
from __future__ import annotations

import time
import urllib.request


def wait_for(predicate, timeout_s: float = 45, interval_s: float = 0.5):
    """The first truthy value of `predicate` within the time, else its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return predicate()


def applicant_with_application(api, office_id: str = "TBK"):
    person = api.register_applicant()
    reply = api.create_application(person["token"], office_id=office_id)
    assert reply.status == 201, reply.body
    return person, reply.body["application_id"]


def booked_applicant(api, skip_days: int = 4, office_id: str = "TBK"):
    """An applicant whose application holds a seat; returns (person, application id, booking body)."""
    person, app_id = applicant_with_application(api, office_id)
    slot = api.first_working_slot(office_id, "REGULAR", skip_days=skip_days)
    reply = api.post(f"/v1/applications/{app_id}/appointment", {"slot_id": slot["slot_id"]}, token=person["token"])
    assert reply.status == 201, reply.body
    return person, app_id, reply.body


def metric(stack, service: str, name: str, replica: int = 0, **labels) -> float:
    """The sum of a metric's samples with these labels, scraped from one service process."""
    url = f"http://127.0.0.1:{stack.ports.metrics(service, replica)}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
