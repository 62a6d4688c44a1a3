"""Roles are Django groups; a capability says which groups may do a thing. Staff may do all.

Pages and API endpoints ask ``user_can(user, "capability")`` and never test group names
themselves, so changing who sees what is an edit to this table only.
"""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

EXECUTIVE = "executive"
OPERATIONS = "operations"
DEVELOPMENT = "development"
CUSTOMER_SUCCESS = "customer-success"
ON_CALL = "on-call"
ROLES = [EXECUTIVE, OPERATIONS, DEVELOPMENT, CUSTOMER_SUCCESS, ON_CALL]

CAPABILITIES: dict[str, frozenset[str]] = {
    "view_executive": frozenset({EXECUTIVE}),
    "view_operations": frozenset({OPERATIONS, ON_CALL}),
    "view_development": frozenset({DEVELOPMENT}),
    "view_customer_success": frozenset({CUSTOMER_SUCCESS, EXECUTIVE}),
    "view_infrastructure": frozenset({OPERATIONS, ON_CALL, DEVELOPMENT}),
    "view_alerts": frozenset({OPERATIONS, ON_CALL, DEVELOPMENT}),
    "ack_alerts": frozenset({OPERATIONS, ON_CALL}),
    "manage_incidents": frozenset({OPERATIONS, ON_CALL}),
    "record_deployments": frozenset({DEVELOPMENT, OPERATIONS, ON_CALL}),
    "view_reputation": frozenset({OPERATIONS, ON_CALL, CUSTOMER_SUCCESS}),
    "manage_reputation": frozenset({OPERATIONS, ON_CALL}),
    "view_services": frozenset({OPERATIONS, ON_CALL, DEVELOPMENT}),
    # Every role has at least one dashboard; the reports page lists only those it may see.
    "view_reports": frozenset(ROLES),
    "manage_services": frozenset({OPERATIONS, ON_CALL}),
    # Every role sees error budgets (executive tile, development freeze); the teams that run
    # or build the services set the objectives.
    "view_slos": frozenset(ROLES),
    "manage_slos": frozenset({OPERATIONS, ON_CALL, DEVELOPMENT}),
}


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_penguinmon_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._penguinmon_roles = cached
    return cached


def user_can(user, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return bool(user_roles(user) & CAPABILITIES[capability])


def capability_required(capability: str):
    """View decorator: 403 unless the logged-in user has ``capability``."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_can(request.user, capability):
                raise PermissionDenied(f"Your role does not allow {capability.replace('_', ' ')}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
