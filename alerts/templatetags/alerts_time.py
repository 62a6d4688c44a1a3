"""``{{ delta|short_duration }}``: "45 s", "12 min", "3 h 05 min", "2 d 4 h" — how long an
alert has fired, readable at a glance on a phone."""

from __future__ import annotations

from datetime import timedelta

from django import template

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
