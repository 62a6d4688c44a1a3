"""API for incident updates, postmortems and the status page's components.

Reading needs ``view_alerts`` (and a read token), writing ``manage_incidents`` (and a write
token). Bad input is a 400 naming the field; a postmortem on an open incident or an update on
a resolved one is a 409 (the request is fine, the incident is not in the state for it)."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from alerts.models import Channel
from incidents.models import Incident, IncidentUpdate, Postmortem
from incidents.postmortem_services import postmortem_list, postmortem_save
from incidents.status_page import public_status
from incidents.updates import update_post
from penguinmon.api_auth import actor_label, api_auth, require_capability

router = Router(tags=["incidents"])


def _error(exc: ValidationError) -> HttpError:
    messages = exc.message_dict
    code = 409 if set(messages) == {"incident"} else 400
    return HttpError(code, "; ".join(f"{k}: {', '.join(v)}" for k, v in messages.items()))


# --- updates -----------------------------------------------------------------------------------


class UpdateIn(Schema):
    status: str = Field(..., description="investigating, identified, monitoring or resolved")
    message: str = Field(..., min_length=1, max_length=5000)
    public: bool = False
    public_title: str = Field("", max_length=200, description="needed for the first public one")
    channel_ids: list[int] = Field(default_factory=list, description="stakeholder channels")


class UpdateOut(Schema):
    id: int
    incident_id: int
    status: str
    message: str
    public: bool
    author: str
    created_at: datetime
    channels: list[str]


def update_out(u: IncidentUpdate) -> dict:
    return {
        "id": u.pk,
        "incident_id": u.incident_id,
        "status": u.status,
        "message": u.message,
        "public": u.public,
        "author": u.author_label,
        "created_at": u.created_at,
        "channels": [c.name for c in u.channels.all()],
    }


@router.get("/incidents/{int:incident_id}/updates", response=list[UpdateOut], auth=api_auth("read"))
def list_updates(request, incident_id: int):
    require_capability(request, "view_alerts")
    incident = get_object_or_404(Incident, pk=incident_id)
    return [update_out(u) for u in incident.updates.prefetch_related("channels")]


@router.post(
    "/incidents/{int:incident_id}/updates", response={201: UpdateOut}, auth=api_auth("write")
)
def post_update(request, incident_id: int, payload: UpdateIn):
    require_capability(request, "manage_incidents")
    incident = get_object_or_404(Incident, pk=incident_id)
    channels = list(Channel.objects.filter(pk__in=payload.channel_ids))
    missing = sorted(set(payload.channel_ids) - {c.pk for c in channels})
    if missing:
        raise HttpError(400, f"channel_ids: no channel {', '.join(f'#{m}' for m in missing)}")
    try:
        update = update_post(
            incident=incident,
            user=request.user,
            status=payload.status,
            message=payload.message,
            public=payload.public,
            public_title=payload.public_title,
            channels=channels,
            actor_label=actor_label(request),
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    return Status(201, update_out(update))


# --- postmortems -------------------------------------------------------------------------------


class ActionIn(Schema):
    id: int | None = Field(None, description="an existing action; omit to add one")
    title: str = Field(..., max_length=300)
    owner: str = Field(..., max_length=150)
    due_on: date
    status: str = "open"
    link: str = Field("", max_length=500)


class ActionOut(Schema):
    id: int
    title: str
    owner: str
    due_on: date
    status: str
    link: str
    overdue: bool


class PostmortemIn(Schema):
    summary: str = Field(..., max_length=20000)
    impact_notes: str | None = None
    timeline: str | None = Field(None, description="omit on create to keep the pre-filled one")
    five_whys: list[str] | None = None
    root_cause: str | None = None
    contributing_factors: str | None = None
    what_went_well: str | None = None
    review_meeting_on: date | None = None
    actions: list[ActionIn] | None = Field(None, description="the whole list; omit to keep")


class PostmortemOut(Schema):
    id: int
    incident_id: int
    incident_title: str
    severity: str
    summary: str
    impact: dict
    impact_notes: str
    timeline: str
    five_whys: list[str]
    root_cause: str
    contributing_factors: str
    what_went_well: str
    review_meeting_on: date | None
    actions: list[ActionOut]
    created_at: datetime
    updated_at: datetime
    markdown_url: str


def postmortem_out(pm: Postmortem) -> dict:
    return {
        "id": pm.pk,
        "incident_id": pm.incident_id,
        "incident_title": pm.incident.title,
        "severity": pm.incident.severity,
        **pm.written(),
        "impact": pm.impact,
        "five_whys": pm.five_whys,
        "actions": [{**a.written(), "overdue": a.is_overdue()} for a in pm.actions.all()],
        "created_at": pm.created_at,
        "updated_at": pm.updated_at,
        "markdown_url": f"/incidents/{pm.incident_id}/postmortem.md",
    }


@router.get(
    "/incidents/{int:incident_id}/postmortem", response=PostmortemOut, auth=api_auth("read")
)
def get_postmortem(request, incident_id: int):
    require_capability(request, "view_alerts")
    pm = get_object_or_404(Postmortem.objects.select_related("incident"), incident_id=incident_id)
    return postmortem_out(pm)


def _save(request, incident_id: int, payload: PostmortemIn) -> tuple[Postmortem, bool]:
    require_capability(request, "manage_incidents")
    incident = get_object_or_404(Incident, pk=incident_id)
    created = not Postmortem.objects.filter(incident=incident).exists()
    text = {
        k: getattr(payload, k) for k in Postmortem.TEXT_FIELDS if getattr(payload, k) is not None
    }
    extra = {}
    if "review_meeting_on" in payload.model_fields_set:
        extra["review_meeting_on"] = payload.review_meeting_on
    try:
        pm = postmortem_save(
            incident=incident,
            user=request.user,
            summary=payload.summary,
            five_whys=payload.five_whys,
            actions=[a.dict() for a in payload.actions] if payload.actions is not None else None,
            actor_label=actor_label(request),
            **extra,
            **text,
        )
    except ValidationError as exc:
        raise _error(exc) from exc
    return Postmortem.objects.select_related("incident").get(pk=pm.pk), created


@router.put(
    "/incidents/{int:incident_id}/postmortem",
    response={200: PostmortemOut, 201: PostmortemOut},
    auth=api_auth("write"),
)
def put_postmortem(request, incident_id: int, payload: PostmortemIn):
    """Write the postmortem of a resolved incident, or change it (the same body)."""
    pm, created = _save(request, incident_id, payload)
    return Status(201 if created else 200, postmortem_out(pm))


@router.post(
    "/incidents/{int:incident_id}/postmortem",
    response={200: PostmortemOut, 201: PostmortemOut},
    auth=api_auth("write"),
)
def post_postmortem(request, incident_id: int, payload: PostmortemIn):
    pm, created = _save(request, incident_id, payload)
    return Status(201 if created else 200, postmortem_out(pm))


class PostmortemSummaryOut(Schema):
    id: int
    incident_id: int
    incident_title: str
    severity: str
    review_meeting_on: date | None
    actions_total: int
    actions_open: int
    actions_overdue: int
    url: str


@router.get("/postmortems", response=list[PostmortemSummaryOut], auth=api_auth("read"))
def list_postmortems(request, overdue: bool = False):
    """Every postmortem with its action counts; ``overdue=true``: only those with overdue ones."""
    require_capability(request, "view_alerts")
    rows = postmortem_list()
    if overdue:
        rows = rows.filter(actions_overdue__gt=0)
    return [
        {
            "id": p.pk,
            "incident_id": p.incident_id,
            "incident_title": p.incident.title,
            "severity": p.incident.severity,
            "review_meeting_on": p.review_meeting_on,
            "actions_total": p.actions_total,
            "actions_open": p.actions_open,
            "actions_overdue": p.actions_overdue,
            "url": f"/incidents/{p.incident_id}/postmortem/",
        }
        for p in rows
    ]


# --- status components ------------------------------------------------------------------------


class ComponentOut(Schema):
    id: int
    name: str
    description: str
    status: str
    uptime_90d_pct: float | None
    daily_uptime_pct: list[float | None]


@router.get("/status", response=list[ComponentOut], auth=api_auth("read"))
def status_components(request):
    """The public status page's components (same data and cache as /status/); public data,
    so any read token may see it."""
    return [
        {
            "id": c["id"],
            "name": c["name"],
            "description": c["description"],
            "status": c["status"],
            "uptime_90d_pct": c["uptime_pct"],
            "daily_uptime_pct": [d.uptime_pct for d in c["days"]],
        }
        for c in public_status()["components"]
    ]
