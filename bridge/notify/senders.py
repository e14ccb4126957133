"""Delivery: a signed generic webhook, Slack and Teams incoming webhooks, e-mail over SMTP.

Webhook payload (``Content-Type: application/json``)::

    {"source": "bridge", "subject": "...", "text": "...", "summary": false,
     "events": [{"kind": "error", "mapping": "...", "key": "error:12", "title": "...", "detail": "...",
                 "action": "bridge retry 12", "at": "2026-...Z"}]}

Signed like common webhook providers do: ``X-Bridge-Timestamp`` (Unix seconds) and
``X-Bridge-Signature: sha256=<hex>``, the HMAC-SHA256 under the shared secret of ``<timestamp>.<body>``;
a receiver recomputes it over the raw body and rejects old timestamps (replays).

Errors raised here never carry a URL (Slack's and Teams' URLs are secrets): :class:`DeliveryError` names
the target and the HTTP status or the exception type only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from bridge.errors import BridgeError
from bridge.logging import register_secret
from bridge.notify.config import EmailTarget, SlackTarget, TeamsTarget, WebhookTarget, read_credential
from bridge.notify.dispatch import Message, Sender


class DeliveryError(BridgeError):
    """A notification target refused or could not be reached (the message names no URL)."""


def payload(message: Message) -> dict[str, Any]:
    return {
        "source": "bridge",
        "subject": message.subject,
        "text": message.text,
        "summary": message.summary,
        "events": [
            {
                "kind": e.kind,
                "mapping": e.mapping,
                "key": e.key,
                "title": e.title,
                "detail": e.detail,
                "action": e.action,
                "at": e.at.isoformat().replace("+00:00", "Z"),
            }
            for e in message.events
        ],
    }


def signature(secret: SecretStr, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.get_secret_value().encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _post(name: str, url: SecretStr | str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    target = url.get_secret_value() if isinstance(url, SecretStr) else url
    try:
        response = requests.post(target, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"{name}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryError(f"{name}: HTTP {response.status_code}")


class WebhookSender:
    def __init__(
        self, target: WebhookTarget, secret: SecretStr, *, timeout: float = 10.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.name = target.name or "webhook"
        self.url = target.url
        self.secret = secret
        self.timeout = timeout
        self.clock = clock

    def send(self, message: Message) -> None:
        body = json.dumps(payload(message), sort_keys=True).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "bridge-notify",
            "X-Bridge-Timestamp": timestamp,
            "X-Bridge-Signature": signature(self.secret, timestamp, body),
        }
        _post(self.name, self.url, body, headers, self.timeout)


class ChatSender:
    """Slack and Teams incoming webhooks both take ``{"text": ...}`` (Slack mrkdwn, Teams markdown)."""

    def __init__(self, name: str, url: SecretStr, *, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout

    def send(self, message: Message) -> None:
        text = f"*{message.subject}*\n{message.text}"
        body = json.dumps({"text": text}).encode()
        _post(self.name, self.url, body, {"Content-Type": "application/json"}, self.timeout)


class EmailSender:
    def __init__(self, target: EmailTarget, password: SecretStr | None) -> None:
        self.name = target.name or f"email {target.host}"
        self.target = target
        self.password = password

    def send(self, message: Message) -> None:
        t = self.target
        mail = EmailMessage()
        mail["From"] = t.sender
        mail["To"] = ", ".join(t.to)
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        try:
            if t.tls == "implicit":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=t.timeout_seconds, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(t.host, t.port, timeout=t.timeout_seconds)
            with client:
                if t.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if t.username and self.password is not None:
                    client.login(t.username, self.password.get_secret_value())
                client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}") from None


def build_senders(targets: list[Any], environ: dict[str, str] | None = None) -> list[Sender]:
    """A sender per configured target, secrets read from their credential files (and taught to the log
    redaction, so they never appear in a log line)."""
    senders: list[Sender] = []
    for target in targets:
        if isinstance(target, WebhookTarget):
            secret = read_credential(target.secret_credential, environ)
            register_secret(secret)
            senders.append(WebhookSender(target, secret))
        elif isinstance(target, SlackTarget | TeamsTarget):
            url = read_credential(target.url_credential, environ)
            register_secret(url)
            # urllib3's debug log writes the host and the path apart: the path is where the secret is
            parts = urlsplit(url.get_secret_value())
            register_secret(parts.path + (f"?{parts.query}" if parts.query else ""))
            register_secret(parts.path)
            senders.append(ChatSender(target.name or target.kind, url))
        elif isinstance(target, EmailTarget):
            password = read_credential(target.password_credential, environ) if target.password_credential else None
            register_secret(password)
            senders.append(EmailSender(target, password))
    return senders
