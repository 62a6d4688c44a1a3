"""Incidents API: list, one incident with its timeline and alerts, update (status, fields, note)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError

from incidents.models import Incident
from incidents.selectors import incident_list
from incidents.services import incident_update
from penguinmon.api_auth import actor_label, api_auth
from penguinmon.roles import user_can

router = Router(tags=["incidents"])


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
        "url": f"/incidents/{incident.pk}/",
    }


def _require(request, capability: str) -> None:
    if not user_can(request.user, capability):
        raise HttpError(403, f"this user's role does not allow {capability.replace('_', ' ')}")


@router.get("/incidents", response=list[IncidentOut], auth=api_auth("read"))
def list_incidents(request, status: str | None = None, limit: int = 200):
    _require(request, "view_alerts")
    if status and status not in Incident.Status.values:
        raise HttpError(
            400, f"unknown status {status!r}; use one of {', '.join(Incident.Status.values)}"
        )
    if not 1 <= limit <= 1000:
        raise HttpError(400, "limit must be between 1 and 1000")
    return [incident_out(i) for i in incident_list(status=status, limit=limit)]


@router.get("/incidents/{incident_id}", response=IncidentDetailOut, auth=api_auth("read"))
def get_incident(request, incident_id: int):
    _require(request, "view_alerts")
    incident = get_object_or_404(Incident, pk=incident_id)
    out = incident_out(incident)
    out["events"] = [
        {"at": e.at, "kind": e.kind, "actor": e.actor_label, "message": e.message}
        for e in incident.events.all()
    ]
    return out


@router.patch("/incidents/{incident_id}", response=IncidentOut, auth=api_auth("write"))
def update_incident(request, incident_id: int, payload: IncidentUpdateIn):
    _require(request, "manage_incidents")
    incident = get_object_or_404(Incident, pk=incident_id)
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
        )
    except ValidationError as exc:
        raise HttpError(
            400, "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
        ) from exc
    return incident_out(incident)
