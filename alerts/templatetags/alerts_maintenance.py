"""``{% maintenance_now service_name as window %}``: the maintenance window a service is in
right now, for pages of other apps (the services grid) to mark it without a view change."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

from alerts.models import Window
from alerts.selectors import silences_between

register = template.Library()


@register.simple_tag(takes_context=True)
def maintenance_now(context, service: str) -> Window | None:
    # One read per page render, however many services the page lists.
    cache = context.render_context
    if "alerts_windows_now" not in cache:
        now = timezone.now()
        cache["alerts_windows_now"] = silences_between(
            start=now, end=now + timedelta(microseconds=1)
        )
    for window in cache["alerts_windows_now"]:
        if window.silence.covers_service(service):
            return window
    return None
