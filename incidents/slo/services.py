"""Writes of SLOs: create, update, delete, each keeping the SLO's burn-rate alert rules in step
in the same transaction, and the freeze flag of deployments."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.burn_rate import delete_burn_rate_rules, sync_burn_rate_rules
from collectors.models import Service
from incidents.slo.models import SLO

FIELDS = (
    "name",
    "description",
    "sli_kind",
    "route",
    "threshold_ms",
    "objective_pct",
    "window",
    "burn_alerts",
    "enabled",
)


def owner_key(slo: SLO) -> str:
    return f"slo:{slo.pk}"


def sync_rules(slo: SLO) -> None:
    spec = slo.spec
    sli: dict[str, Any] = {"kind": spec.kind, "service": spec.service}
    if spec.route:
        sli["route"] = spec.route
    if spec.threshold_ms is not None:
        sli["threshold_ms"] = spec.threshold_ms
    sync_burn_rate_rules(
        owner=owner_key(slo),
        slo_name=slo.name,
        sli=sli,
        objective_pct=slo.objective_pct,
        windows=slo.burn_windows(),
        enabled=slo.enabled,
    )


def _service(name) -> Service:
    if not isinstance(name, str) or not name:
        raise ValidationError({"service": "the name of a service"})
    service = Service.objects.filter(name=name).first()
    if service is None:
        raise ValidationError({"service": f"unknown service {name!r}"})
    return service


def _save(slo: SLO) -> SLO:
    slo.full_clean()
    with transaction.atomic():
        slo.save()
        sync_rules(slo)
    return slo


def slo_create(*, service: str, **fields: Any) -> SLO:
    """Validate and create an SLO (``service`` by name) with its burn-rate rules."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "not a field of an SLO"})
    slo = SLO(service=_service(service), **{k: v for k, v in fields.items() if v is not None})
    if fields.get("threshold_ms") is None:
        slo.threshold_ms = None
    return _save(slo)


def slo_update(*, slo: SLO, service: str | None = None, **fields: Any) -> SLO:
    """Change the given fields (others stay); the rules follow."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "not a field of an SLO"})
    if service is not None:
        slo.service = _service(service)
    for key, value in fields.items():
        setattr(slo, key, value)
    return _save(slo)


def slo_delete(*, slo: SLO) -> None:
    with transaction.atomic():
        delete_burn_rate_rules(owner=owner_key(slo))
        slo.delete()
