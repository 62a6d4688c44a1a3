"""Incidents API: list, create, one incident with its timeline and alerts, update (status,
fields, note). Deployments API for CI pipelines: record (start, or a finished one), finish,
list, and the DORA figures."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from alerts.models import Alert
from incidents.models import Deployment, Incident
from incidents.selectors import deployments_in_range, dora_stats, incident_list
from incidents.services import (
    deployment_finish,
    deployment_record,
    incident_create,
    incident_create_from_alert,
    incident_update,
)
from incidents.slo.api import router as slo_router
from penguinmon.api_auth import actor_label, api_auth, require_capability
from penguinmon.api_schemas import aware
from penguinmon.roles import user_can

router = Router(tags=["incidents"])
# SLOs (incidents/slo/api.py) share the /api/v1/ prefix.
router.add_router("", slo_router)


class IncidentOut(Schema):
    id: int
    title: str
    severity: str
    status: str
    service: str
    summary: str
    started_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    alert_ids: list[int]
    caused_by_deployment_id: int | None
    url: str


class IncidentEventOut(Schema):
    at: datetime
    kind: str
    actor: str
    message: str


class IncidentDetailOut(IncidentOut):
    events: list[IncidentEventOut]


class IncidentUpdateIn(Schema):
    status: str | None = Field(None, description="open, mitigated or resolved")
    title: str | None = Field(None, min_length=1, max_length=200)
    severity: str | None = Field(None, description="critical, warning or info")
    summary: str | None = Field(None, max_length=20000)
    note: str = Field("", max_length=5000)
    caused_by_deployment_id: int | None = Field(
        None, description="the deployment that caused it; null clears it; omit to leave it"
    )


def incident_out(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "service": incident.service,
        "summary": incident.summary,
        "started_at": incident.started_at,
        "acknowledged_at": incident.acknowledged_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "alert_ids": [a.pk for a in incident.alerts.all()],
        "caused_by_deployment_id": incident.caused_by_deployment_id,
        "url": f"/incidents/{incident.pk}/",
    }


class IncidentCreateIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    severity: str = Field("warning", description="critical, warning or info")
    service: str = Field("", max_length=100)
    summary: str = Field("", max_length=20000)
    started_at: datetime | None = Field(None, description="default now; no offset means UTC")
    caused_by_deployment_id: int | None = Field(
        None, description="the deployment that caused it (counts as a change failure)"
    )


def _bad_request(exc: ValidationError) -> HttpError:
    return HttpError(400, "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items()))


def _deployment_or_400(deployment_id: int | None) -> Deployment | None:
    if deployment_id is None:
        return None
    deployment = Deployment.objects.filter(pk=deployment_id).first()
    if deployment is None:
        raise HttpError(400, f"caused_by_deployment_id: no deployment #{deployment_id}")
    return deployment


@router.get("/incidents", response=list[IncidentOut], auth=api_auth("read"))
def list_incidents(request, status: str | None = None, limit: int = 200):
    require_capability(request, "view_alerts")
    if status and status not in Incident.Status.values:
        raise HttpError(
            400, f"unknown status {status!r}; use one of {', '.join(Incident.Status.values)}"
        )
    if not 1 <= limit <= 1000:
        raise HttpError(400, "limit must be between 1 and 1000")
    return [incident_out(i) for i in incident_list(status=status, limit=limit)]


@router.post("/incidents", response={201: IncidentOut}, auth=api_auth("write"))
def create_incident(request, payload: IncidentCreateIn):
    """Open an incident by hand or from a script, optionally naming the deployment that caused it."""
    require_capability(request, "manage_incidents")
    if payload.severity not in Incident.Severity.values:
        raise HttpError(
            400,
            f"severity: unknown severity {payload.severity!r}; "
            f"use one of {', '.join(Incident.Severity.values)}",
        )
    deployment = _deployment_or_400(payload.caused_by_deployment_id)
    try:
        incident = incident_create(
            title=payload.title,
            severity=payload.severity,
            service=payload.service or (deployment.service if deployment else ""),
            summary=payload.summary,
            started_at=aware(payload.started_at),
            user=request.user,
            actor_label=actor_label(request),
            caused_by_deployment=deployment,
        )
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return Status(201, incident_out(incident))


class IncidentRef(Schema):
    id: int
    title: str
    status: str
    url: str


@router.post(
    "/alerts/{alert_id}/incident",
    response={201: IncidentRef, 200: IncidentRef},
    auth=api_auth("write"),
    # Published under the alerts API before it moved here (issue 10): same tag, id and summary.
    tags=["alerts"],
    operation_id="alerts_api_create_incident",
    summary="Create Incident",
)
def create_incident_from_alert(request, alert_id: int):
    """Open an incident from this alert (200 with the existing one if it is already linked)."""
    require_capability(request, "manage_incidents")
    alert = get_object_or_404(Alert.objects.select_related("rule", "acknowledged_by"), pk=alert_id)
    existed = alert.incidents.exclude(status="resolved").exists()
    incident = incident_create_from_alert(
        alert=alert, user=request.user, actor_label=actor_label(request)
    )
    body = {
        "id": incident.pk,
        "title": incident.title,
        "status": incident.status,
        "url": f"/incidents/{incident.pk}/",
    }
    return Status(200 if existed else 201, body)


@router.get("/incidents/{incident_id}", response=IncidentDetailOut, auth=api_auth("read"))
def get_incident(request, incident_id: int):
    require_capability(request, "view_alerts")
    incident = get_object_or_404(Incident, pk=incident_id)
    out = incident_out(incident)
    out["events"] = [
        {"at": e.at, "kind": e.kind, "actor": e.actor_label, "message": e.message}
        for e in incident.events.all()
    ]
    return out


@router.patch("/incidents/{incident_id}", response=IncidentOut, auth=api_auth("write"))
def update_incident(request, incident_id: int, payload: IncidentUpdateIn):
    require_capability(request, "manage_incidents")
    incident = get_object_or_404(Incident, pk=incident_id)
    extra = {}
    if "caused_by_deployment_id" in payload.model_fields_set:
        extra["caused_by_deployment"] = _deployment_or_400(payload.caused_by_deployment_id)
    try:
        incident_update(
            incident=incident,
            user=request.user,
            status=payload.status,
            title=payload.title,
            severity=payload.severity,
            summary=payload.summary,
            note=payload.note,
            actor_label=actor_label(request),
            **extra,
        )
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return incident_out(incident)


# --- deployments -------------------------------------------------------------------------


class DeploymentIn(Schema):
    service: str = Field(..., min_length=1, max_length=100)
    environment: str = Field("production", min_length=1, max_length=50)
    version: str = Field("", max_length=100)
    commit_sha: str = Field("", max_length=64)
    commit_at: datetime | None = Field(None, description="when the change was committed")
    started_at: datetime | None = Field(None, description="default now; no offset means UTC")
    finished_at: datetime | None = Field(
        None, description="only with a finished status; default now for one"
    )
    status: str = Field("in_progress", description="in_progress, succeeded, failed or rolled_back")
    deployed_by: str = Field("", max_length=200, description="default: the token's user")
    url: str = Field("", max_length=500, description="the CI run")
    notes: str = Field("", max_length=5000)


class DeploymentFinishIn(Schema):
    status: str = Field(..., description="succeeded, failed or rolled_back")
    finished_at: datetime | None = Field(None, description="default now")
    notes: str | None = Field(None, max_length=5000, description="appended to the notes")


class DeploymentOut(Schema):
    id: int
    service: str
    environment: str
    version: str
    commit_sha: str
    commit_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    deployed_by: str
    url: str
    notes: str
    lead_time_hours: float | None
    incident_ids: list[int]
    during_freeze: bool


class DoraOut(Schema):
    start: datetime
    end: datetime
    service: str | None
    environment: str
    deploy_frequency_per_week: float | None
    lead_time_hours: float | None
    change_failure_rate_pct: float | None
    mttr_hours: float | None
    mttr_critical_hours: float | None
    deployments: int
    in_progress: int
    finished: int
    released: int
    succeeded: int
    failed: int
    rolled_back: int
    caused_incident: int
    change_failures: int
    lead_time_samples: int
    incidents_resolved: int
    critical_incidents_resolved: int
    targets: dict[str, float]
    # Per target: met (True), missed (False) or no figure (None), as written: ≥, <, <.
    meets: dict[str, bool | None]


def deployment_out(d: Deployment) -> dict:
    return {
        "id": d.pk,
        "service": d.service,
        "environment": d.environment,
        "version": d.version,
        "commit_sha": d.commit_sha,
        "commit_at": d.commit_at,
        "started_at": d.started_at,
        "finished_at": d.finished_at,
        "status": d.status,
        "deployed_by": d.deployed_by,
        "url": d.url,
        "notes": d.notes,
        "lead_time_hours": d.lead_time_hours,
        "incident_ids": [i.pk for i in d.caused_incidents.all()],
        "during_freeze": d.during_freeze,
    }


def _require_deployer(request) -> None:
    # Whoever ships or runs the services records releases: development, operations, on-call.
    if not user_can(request.user, "record_deployments"):
        raise HttpError(
            403,
            "this user's role does not allow recording deployments (development, "
            "operations or on-call)",
        )


def _range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    end = aware(until) or timezone.now()
    start = aware(since) or end - timedelta(days=30)
    if start >= end:
        raise HttpError(400, "since must be before until")
    return start, end


@router.post("/deployments", response={201: DeploymentOut}, auth=api_auth("write"))
def record_deployment(request, payload: DeploymentIn):
    """Record a deployment from CI: at its start (status in_progress; finish it with PATCH), or
    once it is over (status succeeded / failed / rolled_back, finished_at default now)."""
    _require_deployer(request)
    try:
        deployment = deployment_record(
            user=request.user,
            actor_label=actor_label(request),
            **{
                **payload.dict(),
                "commit_at": aware(payload.commit_at),
                "started_at": aware(payload.started_at),
                "finished_at": aware(payload.finished_at),
            },
        )
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return Status(201, deployment_out(deployment))


@router.patch("/deployments/{int:deployment_id}", response=DeploymentOut, auth=api_auth("write"))
def finish_deployment(request, deployment_id: int, payload: DeploymentFinishIn):
    """Finish a running deployment (or mark one that went out as rolled back)."""
    _require_deployer(request)
    deployment = get_object_or_404(Deployment, pk=deployment_id)
    try:
        deployment_finish(
            deployment=deployment,
            status=payload.status,
            finished_at=aware(payload.finished_at),
            notes=payload.notes,
            user=request.user,
            actor_label=actor_label(request),
        )
    except ValidationError as exc:
        raise _bad_request(exc) from exc
    return deployment_out(deployment)


@router.get("/deployments", response=list[DeploymentOut], auth=api_auth("read"))
def list_deployments(
    request,
    service: str | None = None,
    environment: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
):
    """Deployments started in [since, until) (default: the last 30 days), newest first."""
    require_capability(request, "view_alerts")
    if status and status not in Deployment.Status.values:
        raise HttpError(
            400, f"unknown status {status!r}; use one of {', '.join(Deployment.Status.values)}"
        )
    if not 1 <= limit <= 1000:
        raise HttpError(400, "limit must be between 1 and 1000")
    start, end = _range(since, until)
    rows = deployments_in_range(
        start=start, end=end, service=service, environment=environment, status=status
    ).prefetch_related("caused_incidents")[:limit]
    return [deployment_out(d) for d in rows]


@router.get("/deployments/dora", response=DoraOut, auth=api_auth("read"))
def get_dora(
    request,
    service: str | None = None,
    environment: str = "production",
    since: datetime | None = None,
    until: datetime | None = None,
):
    """Deploy frequency, lead time, change failure rate and MTTR over [since, until)."""
    require_capability(request, "view_alerts")
    start, end = _range(since, until)
    stats = dora_stats(start=start, end=end, service=service, environment=environment)
    return {
        "start": start,
        "end": end,
        "service": service,
        "environment": environment,
        **{k: v for k, v in stats.items() if k != "weeks"},
    }


@router.get("/deployments/{int:deployment_id}", response=DeploymentOut, auth=api_auth("read"))
def get_deployment(request, deployment_id: int):
    require_capability(request, "view_alerts")
    return deployment_out(get_object_or_404(Deployment, pk=deployment_id))
