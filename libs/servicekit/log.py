"""JSON logs, one object per line, carrying the correlation id of the request or event at hand.

Personal data (NIK, phone, email, passwords, biometrics) must never be logged; `redact` is applied
to every structured field as a last line of defence, but callers should not pass such data at all.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time

from servicekit import tracing

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_SENSITIVE_KEYS = {"nik", "phone", "email", "password", "full_name", "access_pin", "image", "file"}
_NIK = re.compile(r"\b(\d{4})\d{8}(\d{4})\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\d)(\+?62|0)8\d{7,11}(?!\d)")


def mask_nik(nik: str) -> str:
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:] if len(nik) >= 8 else "****"


def redact_text(text: str) -> str:
    text = _NIK.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub("<phone>", text)


def redact(fields: dict) -> dict:
    out = {}
    for key, value in fields.items():
        if key in _SENSITIVE_KEYS:
            out[key] = "<redacted>"
        elif isinstance(value, str):
            out[key] = redact_text(value)
        else:
            out[key] = value
    return out


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        entry.update(tracing.log_fields())
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(redact(fields))
        if record.exc_info:
            entry["error"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def setup(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    tracing.setup(service)


def event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields) -> None:
    """Log a message with structured fields: log.event(logger, "seat held", slot_id=...)."""
    logger.log(level, msg, extra={"fields": fields})
