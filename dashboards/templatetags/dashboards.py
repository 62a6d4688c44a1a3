"""Template helpers for dashboard panels: figure JSON in a script tag, and cell formatting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def figure_script(figure: dict | None, element_id: str) -> str:
    """Like ``json_script`` but serialised with orjson (figures are the bulk of a page)."""
    if figure is None:
        return ""
    text = orjson.dumps(
        figure, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    ).decode()
    return format_html(
        '<script id="{}" type="application/json">{}</script>',
        "fig-" + element_id,
        mark_safe(text.translate(_ESCAPES)),
    )


@register.filter
def cell(value: Any) -> str:
    """A table cell as a person reads it: local times, thousands separators, few decimals."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:,.1f}"
        return f"{value:,.2f}"
    return str(value)


@register.filter
def status_class(value: Any) -> str:
    """CSS class for a status or severity word from another app (good/warning/critical, ERROR…)."""
    word = str(value or "").lower()
    return {"error": "critical", "ok": "good", "listed": "critical"}.get(word, word)


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def div60(value: float | None) -> float | None:
    """Seconds as minutes (error budgets of availability SLOs are kept in seconds)."""
    return None if value is None else value / 60.0
