"""Channel adapters: EMAIL over SMTP, SMS through an HTTP SMS gateway, and a webhook.

Each adapter's `send(to, rendered, message_id)` returns when the provider accepted the message and
raises `SendError(permanent=...)` otherwise: permanent errors (recipient refused, 4xx) are not
retried, everything else (connection refused, timeouts, 5xx, 429) is.
"""
from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate

from servicekit.config import env, env_bool, env_float, env_int

from services.notification.domain.delivery import SendError
from services.notification.domain.templates import Rendered

__all__ = ["SendError", "mask_recipient", "SmtpSender", "SmsGatewaySender", "WebhookSender"]


def mask_recipient(to: str) -> str:
    """For logs: a***@example.id, 0812****5678."""
    if "@" in to:
        local, _, domain = to.partition("@")
        return f"{local[:1]}***@{domain}"
    return to[:4] + "****" + to[-4:] if len(to) > 8 else "****"


class SmtpSender:
    channel = "EMAIL"

    def __init__(self, host: str, port: int, sender: str, user: str = "", password: str = "",
                 starttls: bool = False, timeout_s: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout_s = user, password, starttls, timeout_s

    @classmethod
    def from_env(cls) -> "SmtpSender":
        return cls(env("SMTP_HOST", "127.0.0.1"), env_int("SMTP_PORT", 2525),
                   env("SMTP_FROM", "no-reply@imigrasi.example"), env("SMTP_USER", ""),
                   env("SMTP_PASSWORD", ""), env_bool("SMTP_STARTTLS", False), env_float("SMTP_TIMEOUT_S", 10.0))

    def send(self, to: str, rendered: Rendered, message_id: str) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = rendered.subject
        msg["Date"] = formatdate(localtime=False)
        # Stable per (event, channel): a recipient's mail system can also drop a duplicate.
        msg["Message-ID"] = f"<{message_id.replace(':', '.')}@notification.passport>"
        msg.set_content(rendered.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused:
            raise SendError("recipient refused", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"smtp {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(type(exc).__name__) from None


class HttpJsonSender:
    """POST a JSON document with a bearer token; 2xx is accepted."""

    def __init__(self, url: str, token: str = "", timeout_s: float = 10.0):
        self.url, self.token, self.timeout_s = url, token, timeout_s

    def post(self, document: dict) -> None:
        req = urllib.request.Request(self.url, data=json.dumps(document).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise SendError(f"http {exc.code}", permanent=permanent) from None
        except (urllib.error.URLError, OSError) as exc:
            raise SendError(type(exc).__name__) from None


class SmsGatewaySender(HttpJsonSender):
    """SMS_GATEWAY_URL receives {to, message, reference}; the reference lets the gateway dedupe."""
    channel = "SMS"

    @classmethod
    def from_env(cls) -> "SmsGatewaySender":
        return cls(env("SMS_GATEWAY_URL", "http://127.0.0.1:8025/messages"), env("SMS_GATEWAY_TOKEN", ""),
                   env_float("SMS_TIMEOUT_S", 10.0))

    def send(self, to: str, rendered: Rendered, message_id: str) -> None:
        self.post({"to": to, "message": rendered.body, "reference": message_id})


class WebhookSender(HttpJsonSender):
    """Push adapter: a URL receives {reference, account_id, subject, message}. Not wired yet:
    preferences offer EMAIL and SMS only (see docs/notification.md)."""
    channel = "WEBHOOK"

    def send(self, to: str, rendered: Rendered, message_id: str) -> None:
        self.post({"reference": message_id, "account_id": to, "subject": rendered.subject,
                   "message": rendered.body})
