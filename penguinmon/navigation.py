"""The top navigation: each entry shows only to users whose role may open it."""

from __future__ import annotations

from penguinmon.roles import user_can

NAV = [
    ("Executive", "/dashboard/executive/", "view_executive"),
    ("Operations", "/dashboard/operations/", "view_operations"),
    ("Development", "/dashboard/development/", "view_development"),
    ("Customer success", "/dashboard/customer-success/", "view_customer_success"),
    ("Infrastructure", "/dashboard/system/infrastructure/", "view_infrastructure"),
    ("Services", "/services/", "view_services"),
    ("Alerts", "/alerts/", "view_alerts"),
    ("Incidents", "/incidents/", "view_alerts"),
    ("SLOs", "/dashboard/slos/", "view_slos"),
    ("Reputation", "/reputation/", "view_reputation"),
    ("Reports", "/dashboard/reports/", "view_reports"),
]


def nav_items(user, path: str) -> list[dict]:
    if not user.is_authenticated:
        return []
    return [
        {"label": label, "url": url, "active": path.startswith(url)}
        for label, url, cap in NAV
        if user_can(user, cap)
    ]
