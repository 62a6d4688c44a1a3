"""``{{ delta|short_duration }}``: "45 s", "12 min", "3 h 05 min", "2 d 4 h" — how long an
alert has fired, readable at a glance on a phone."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def short_duration(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def age(moment: datetime | None) -> str:
    """How long ago ``moment`` was, as ``short_duration``."""
    return short_duration(timezone.now() - moment) if moment else ""


@register.filter
def firing_for(alert) -> str:
    """How long the alert has fired (until it resolved, or until now)."""
    if alert.fired_at is None:
        return ""
    return short_duration((alert.resolved_at or timezone.now()) - alert.fired_at)


@register.filter
def ack_after(alert) -> str:
    """Time from firing to acknowledgement."""
    if alert.acknowledged_at is None or alert.fired_at is None:
        return ""
    return short_duration(alert.acknowledged_at - alert.fired_at)
