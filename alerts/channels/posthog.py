"""PostHog event (the launch-time alerting path in the infrastructure seed): POST to the
capture endpoint so the delivery has a response code like every other channel."""

from __future__ import annotations

from django.conf import settings

from alerts.channels.base import Notification, TransportError, post

REQUIRED: tuple[str, ...] = ()
EVENT = "penguinmon_alert"


def validate(config: dict) -> list[str]:
    if not (config.get("api_key") or settings.POSTHOG_API_KEY):
        return ["missing 'api_key' (or set POSTHOG_API_KEY)"]
    return []


def send(config: dict, note: Notification) -> int:
    api_key = config.get("api_key") or settings.POSTHOG_API_KEY
    host = (config.get("host") or settings.POSTHOG_HOST).rstrip("/")
    if not api_key:
        raise TransportError("no PostHog api_key configured", permanent=True)
    event = {
        "api_key": api_key,
        "event": EVENT,
        "distinct_id": config.get("distinct_id") or "penguinmon",
        "properties": {k: v for k, v in note.as_dict().items() if k != "lines"},
    }
    return post(f"{host}/capture/", json=event)
