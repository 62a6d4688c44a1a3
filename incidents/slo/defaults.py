"""The SLOs from the seeds, created on first start (the data migration) and again after a
database flush while no SLO exists: 003 asks for 99.9% uptime and 99.9% login success; 000
sets API p95 < 200 ms as the performance target ("95% of requests under 200 ms")."""

from __future__ import annotations

from alerts.burn_rate import DEFAULT_WINDOWS, sync_burn_rate_rules
from alerts.models import AlertRule
from collectors.models import Service
from incidents.slo.models import SLO, default_burn_alerts

LOGIN_ROUTE = "/v1/auth/login"

# name, service, sli_kind, route, threshold_ms, objective_pct, description
DEFAULT_SLOS = [
    ("API availability", "api", "availability", "", None, 99.9, "Seed 002/003: 99.9% uptime."),
    (
        "Login success",
        "api",
        "success_ratio",
        LOGIN_ROUTE,
        None,
        99.9,
        "Seed 003: 99.9% of logins succeed (non-5xx).",
    ),
    (
        "API latency",
        "api",
        "latency",
        "",
        200.0,
        95.0,
        "Seed 000: API p95 < 200 ms, as 95% of requests under 200 ms.",
    ),
]


def ensure_default_slos(slo_model, service_model, rule_model) -> None:
    """Create the defaults (and their burn-rate rules) while no SLO exists; skip an SLO whose
    service is missing. Takes model classes so the data migration can pass historical ones."""
    if slo_model.objects.exists():
        return
    for name, service_name, kind, route, threshold, objective, description in DEFAULT_SLOS:
        service = service_model.objects.filter(name=service_name).first()
        if service is None:
            continue
        slo = slo_model.objects.create(
            name=name,
            service=service,
            sli_kind=kind,
            route=route,
            threshold_ms=threshold,
            objective_pct=objective,
            window="30d",
            description=description,
            burn_alerts=default_burn_alerts(),
        )
        sli = {"kind": kind, "service": service_name}
        if route:
            sli["route"] = route
        if threshold is not None:
            sli["threshold_ms"] = threshold
        sync_burn_rate_rules(
            owner=f"slo:{slo.pk}",
            slo_name=name,
            sli=sli,
            objective_pct=objective,
            windows=DEFAULT_WINDOWS,
            rule_model=rule_model,
        )


def create_default_slos(sender, **kwargs) -> None:
    """post_migrate: after a flush (tests, a reset database) the defaults come back."""
    ensure_default_slos(SLO, Service, AlertRule)
