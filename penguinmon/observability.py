"""Optional Sentry and PostHog. Both are off unless configured and never block a request."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def init_observability(*, sentry_dsn: str, environment: str) -> None:
    if not sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    # The SDK sends from a background thread with its own queue, so a slow Sentry never
    # delays a request; shutdown_timeout bounds the flush at exit.
    sentry_sdk.init(
        dsn=sentry_dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.0,
        send_default_pii=False,
        shutdown_timeout=2,
    )


_posthog_client = None


def posthog_client():
    """The shared PostHog client, or None when POSTHOG_API_KEY is unset."""
    global _posthog_client
    from django.conf import settings

    if not settings.POSTHOG_API_KEY:
        return None
    if _posthog_client is None:
        from posthog import Posthog

        # Posthog queues events and sends them from its own thread (sync_mode=False).
        _posthog_client = Posthog(
            settings.POSTHOG_API_KEY, host=settings.POSTHOG_HOST, timeout=5, max_retries=2
        )
    return _posthog_client


def capture_event(*, distinct_id: str, event: str, properties: dict | None = None) -> None:
    client = posthog_client()
    if client is None:
        return
    try:
        client.capture(event, distinct_id=distinct_id, properties=properties or {})
    except Exception:  # analytics must never break the caller
        log.warning("posthog capture failed", exc_info=True)
