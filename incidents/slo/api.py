"""SLOs in the JSON API: list, create, one, update, delete (``write`` to change), each with its
budget figures; a service's freeze state for CI scripts; OpenSLO import and export."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from collectors.models import Service
from incidents.slo import openslo
from incidents.slo.models import SLO
from incidents.slo.selectors import (
    SloStatus,
    frozen_services,
    service_freeze,
    slo_list,
    slo_status,
    slo_statuses,
)
from incidents.slo.services import slo_create, slo_delete, slo_update
from penguinmon.api_auth import api_auth, require_capability

router = Router(tags=["slos"])


def _bad_request(exc: ValidationError) -> HttpError:
    if hasattr(exc, "message_dict"):
        return HttpError(
            400, "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
        )
    return HttpError(400, "; ".join(exc.messages))


class BurnAlertIn(Schema):
    severity: str = Field(..., description="page (critical) or ticket (warning)")
    factor: float
    long_seconds: int
    short_seconds: int


class SloIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    service: str = Field(..., description="a service's name")
    sli_kind: str = Field(..., description="availability, success_ratio or latency")
    objective_pct: float = Field(..., description="strictly between 0 and 100, e.g. 99.9")
    window: str = Field("30d", description="28d, 30d or month (calendar month)")
    route: str = Field("", max_length=200, description="one route only; empty: all")
    threshold_ms: float | None = Field(None, description="latency SLIs: good when this fast")
    description: str = ""
    burn_alerts: list[BurnAlertIn] | None = Field(
        None, description="default: the workbook's 14.4×/6× page and 3×/1× ticket windows"
    )
    enabled: bool = True


class SloPatchIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    service: str | None = None
    sli_kind: str | None = None
    objective_pct: float | None = None
    window: str | None = None
    route: str | None = Field(None, max_length=200)
    threshold_ms: float | None = None
    description: str | None = None
    burn_alerts: list[BurnAlertIn] | None = None
    enabled: bool | None = None


class BudgetOut(Schema):
    window_start: datetime
    window_end: datetime
    unit: str
    events_total: float
    events_bad: float
    sli_pct: float | None
    budget_total: float
    budget_consumed: float
    budget_remaining: float
    budget_total_minutes: float | None
    budget_consumed_minutes: float | None
    budget_remaining_minutes: float | None
    budget_consumed_pct: float | None
    budget_remaining_pct: float | None
    burn_rates: dict[str, float | None]
    budget_exhausted: bool
    budget_exhausted_at: datetime | None


class SloOut(Schema):
    id: int
    name: str
    service: str
    description: str
    sli_kind: str
    route: str
    threshold_ms: float | None
    objective_pct: float
    window: str
    burn_alerts: list[dict[str, Any]]
    enabled: bool
    frozen: bool
    url: str
    budget: BudgetOut


def budget_out(status: SloStatus) -> dict:
    b = status.budget
    return {
        "window_start": b.window_start,
        "window_end": b.window_end,
        "unit": b.unit,
        "events_total": b.counts.total,
        "events_bad": b.counts.bad,
        "sli_pct": b.sli_pct,
        "budget_total": b.budget_total,
        "budget_consumed": b.consumed,
        "budget_remaining": b.remaining,
        "budget_total_minutes": b.in_minutes(b.budget_total),
        "budget_consumed_minutes": b.in_minutes(b.consumed),
        "budget_remaining_minutes": b.in_minutes(b.remaining),
        "budget_consumed_pct": b.consumed_pct,
        "budget_remaining_pct": b.remaining_pct,
        "burn_rates": b.burn_rates,
        "budget_exhausted": b.exhausted,
        "budget_exhausted_at": b.exhausted_at,
    }


def slo_out(status: SloStatus, *, frozen: bool) -> dict:
    slo = status.slo
    return {
        "id": slo.pk,
        "name": slo.name,
        "service": slo.service.name,
        "description": slo.description,
        "sli_kind": slo.sli_kind,
        "route": slo.route,
        "threshold_ms": slo.threshold_ms,
        "objective_pct": slo.objective_pct,
        "window": slo.window,
        "burn_alerts": slo.burn_alerts,
        "enabled": slo.enabled,
        "frozen": frozen,
        "url": f"/dashboard/slos/{slo.pk}/",
        "budget": budget_out(status),
    }


def _one(slo: SLO) -> dict:
    status = slo_status(slo)
    return slo_out(status, frozen=service_freeze(slo.service.name).frozen)


@router.get("/slos", response=list[SloOut], auth=api_auth("read"))
def list_slos(request, service: str | None = None):
    require_capability(request, "view_slos")
    slos = slo_list()
    if service:
        slos = [s for s in slos if s.service.name == service]
    statuses = slo_statuses(slos)
    frozen = frozen_services(statuses.values())
    return [slo_out(statuses[s.pk], frozen=s.service.name in frozen) for s in slos]


@router.post("/slos", response={201: SloOut}, auth=api_auth("write"))
def create_slo(request, payload: SloIn):
    """Create an SLO; its burn-rate alert rules are generated with it."""
    require_capability(request, "manage_slos")
    data = payload.dict()
    if data["burn_alerts"] is None:
        data.pop("burn_alerts")
    try:
        slo = slo_create(**data)
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return Status(201, _one(slo))


@router.get("/slos/openslo", auth=api_auth("read"))
def export_openslo(request, service: str | None = None):
    """Every SLO (or one service's) as OpenSLO v1 YAML documents (an SLI and an SLO each)."""
    require_capability(request, "view_slos")
    slos = slo_list()
    if service:
        slos = [s for s in slos if s.service.name == service]
    return HttpResponse(openslo.dump(slos), content_type="application/yaml")


class ImportOut(Schema):
    created: list[str]
    updated: list[str]


@router.post("/slos/openslo", response=ImportOut, auth=api_auth("write"))
def import_openslo(request):
    """Create or update (by name) SLOs from OpenSLO v1 YAML in the request body, all or nothing."""
    require_capability(request, "manage_slos")
    try:
        result = openslo.load(request.body.decode("utf-8", errors="replace"))
    except openslo.OpenSloError as exc:
        raise HttpError(400, str(exc)) from exc
    return {"created": result.created, "updated": result.updated}


@router.get("/slos/{int:slo_id}", response=SloOut, auth=api_auth("read"))
def get_slo(request, slo_id: int):
    """One SLO with its budget figures and whether its service is frozen (for CI scripts)."""
    require_capability(request, "view_slos")
    return _one(get_object_or_404(SLO.objects.select_related("service"), pk=slo_id))


@router.patch("/slos/{int:slo_id}", response=SloOut, auth=api_auth("write"))
def update_slo(request, slo_id: int, payload: SloPatchIn):
    require_capability(request, "manage_slos")
    slo = get_object_or_404(SLO.objects.select_related("service"), pk=slo_id)
    data = payload.dict(exclude_unset=True)
    try:
        slo = slo_update(slo=slo, **data)
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return _one(slo)


@router.delete("/slos/{int:slo_id}", response={204: None}, auth=api_auth("write"))
def delete_slo(request, slo_id: int):
    require_capability(request, "manage_slos")
    slo_delete(slo=get_object_or_404(SLO, pk=slo_id))
    return Status(204, None)


class FreezeSloOut(Schema):
    id: int
    name: str
    budget_remaining_pct: float | None


class FreezeOut(Schema):
    service: str
    frozen: bool
    reason: str
    exhausted_slos: list[FreezeSloOut]


@router.get("/services/{name}/freeze", response=FreezeOut, auth=api_auth("read"))
def get_freeze(request, name: str):
    """Is the service in reliability freeze (an SLO of it has no error budget left)? For a CI
    script to ask before deploying."""
    require_capability(request, "view_slos")
    if not Service.objects.filter(name=name).exists():
        raise HttpError(404, f"unknown service {name!r}")
    freeze = service_freeze(name)
    exhausted = [
        {"id": s.slo.pk, "name": s.slo.name, "budget_remaining_pct": s.budget.remaining_pct}
        for s in freeze.exhausted
    ]
    reason = (
        "error budget exhausted: " + ", ".join(s["name"] for s in exhausted)
        if freeze.frozen
        else "every SLO of the service has error budget left"
    )
    return {"service": name, "frozen": freeze.frozen, "reason": reason, "exhausted_slos": exhausted}
