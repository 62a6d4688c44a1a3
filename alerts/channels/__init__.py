"""Notification channels: one module per kind, all with the same ``validate`` / ``send``.

Adding a kind means one module and one line in TRANSPORTS (and a choice on Channel.Kind).
"""

from __future__ import annotations

from alerts.channels import apprise, email, pagerduty, posthog, slack, sms, webhook
from alerts.channels.base import Notification, TransportError

TRANSPORTS = {
    "slack": slack,
    "email": email,
    "sms": sms,
    "pagerduty": pagerduty,
    "webhook": webhook,
    "posthog": posthog,
    "apprise": apprise,
}

__all__ = ["TRANSPORTS", "Notification", "TransportError"]
