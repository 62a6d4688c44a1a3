"""Email through Django's SMTP backend (EMAIL_HOST / EMAIL_PORT settings)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from alerts.channels.base import Notification, TransportError, missing_keys
from penguinmon.redact import header_value

REQUIRED = ("to",)


def validate(config: dict) -> list[str]:
    errors = missing_keys(config, REQUIRED)
    if config.get("to") and not isinstance(config["to"], list):
        errors.append("'to' must be a list of addresses")
    return errors


def subject(note: Notification) -> str:
    # Messages are rendered from label values pushed through the API: a newline in one would
    # make Django refuse the header (BadHeaderError) and the alert would never be mailed.
    if note.event in ("digest", "summary", "update"):
        return header_value(note.title)
    return header_value(
        f"[PenguinMon {note.event.upper()}] {note.severity_label} {note.service}: {note.message}"
    )


def send(config: dict, note: Notification) -> int:
    connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", 10))
    msg = EmailMessage(
        subject=subject(note),
        body=note.text(),
        to=config["to"],
        from_email=config.get("from") or settings.DEFAULT_FROM_EMAIL,
        connection=connection,
    )
    try:
        msg.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise TransportError(f"recipients refused: {exc.recipients}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:  # OSError covers timeouts and refusals
        raise TransportError(f"{exc.__class__.__name__}: {exc}") from exc
    return 250
