"""Template context for every page: whether a critical alert would page anybody."""

from __future__ import annotations

from alerts.models import Channel
from penguinmon.roles import user_can


def paging(request) -> dict:
    """``nobody_paged`` is True when no enabled channel receives critical alerts; base.html
    shows a red banner on every page to the roles that see alerts (one EXISTS query)."""
    user = getattr(request, "user", None)
    if user is None or not user_can(user, "view_alerts"):
        return {}
    return {"nobody_paged": not Channel.objects.filter(enabled=True, on_call=True).exists()}
