"""Alerts API: the feed, one alert with its timeline and deliveries, acknowledge, notes,
silences, rules. Writes need the ``write`` scope and the token user's role capability
(ack_alerts). "Incident from alert" is an incidents write: incidents/api.py."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from alerts import selectors, services
from alerts.models import SEVERITY_LABELS, Alert, AlertRule, Silence, parse_weekdays
from penguinmon.api_auth import actor_label, api_auth, require_capability
from penguinmon.api_schemas import aware, json_response

router = Router(tags=["alerts"])


class AlertOut(Schema):
    id: int
    rule: str
    rule_id: int
    state: str
    severity: str
    severity_label: str
    service: str
    message: str
    labels: dict
    value: float | None
    last_value: float | None
    started_at: datetime
    fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    runbook_url: str
    false_positive: bool
    url: str


class EventOut(Schema):
    at: datetime
    kind: str
    from_state: str
    to_state: str
    actor: str
    message: str


class DeliveryOut(Schema):
    id: int
    channel: str
    kind: str
    event: str
    attempt: int
    status: str
    response_code: int | None
    error: str
    created_at: datetime


class AlertDetailOut(AlertOut):
    escalation_chain: list[dict]
    escalation_step: int
    events: list[EventOut]
    deliveries: list[DeliveryOut]


class FeedParams(Schema):
    hours: int = Field(24, ge=1, le=24 * 90, description="How far back the feed reaches.")
    severity: str | None = Field(None, description="ERROR/WARNING/INFO or critical/warning/info")
    service: str | None = None
    state: str | None = None
    limit: int = Field(200, ge=1, le=500)


class AckIn(Schema):
    comment: str = Field("", max_length=500)


class NoteIn(Schema):
    text: str = Field(..., min_length=1, max_length=5000)


class SilenceIn(Schema):
    matchers: dict[str, str] = Field(
        default_factory=dict, description='Label equality matchers, e.g. {"service": "smtp"}'
    )
    everything: bool = Field(
        False, description="Whole-platform maintenance: no matchers, matches every alert."
    )
    repeat: Literal["once", "weekly"] = "once"
    starts_at: datetime | None = Field(
        None, description="One-off: the start (default now). Weekly: first day it applies."
    )
    ends_at: datetime | None = Field(
        None, description="One-off: the end. Weekly: repeat until (optional)."
    )
    duration_minutes: int | None = Field(
        None,
        ge=1,
        le=60 * 24 * 90,
        description="One-off: instead of ends_at. Weekly: length of each occurrence.",
    )
    weekdays: list[str | int] = Field(
        default_factory=list, description='Weekly: e.g. ["sat", "sun"] or [5, 6] (0 = Monday).'
    )
    local_start: time | None = Field(None, description='Weekly: wall-clock start, e.g. "02:00".')
    timezone: str = Field(
        "UTC", max_length=64, description="Weekly: IANA zone, e.g. Europe/Berlin."
    )
    comment: str = Field(..., min_length=1, max_length=500)


class SilencePatch(Schema):
    """Only the fields given change; the result is validated as a whole."""

    matchers: dict[str, str] | None = None
    everything: bool | None = None
    repeat: Literal["once", "weekly"] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    duration_minutes: int | None = Field(None, ge=1, le=60 * 24 * 90)
    weekdays: list[str | int] | None = None
    local_start: time | None = None
    timezone: str | None = Field(None, max_length=64)
    comment: str | None = Field(None, min_length=1, max_length=500)


class WindowRef(Schema):
    starts_at: datetime
    ends_at: datetime


class SilenceOut(Schema):
    id: int
    matchers: dict
    everything: bool
    repeat: str
    starts_at: datetime
    ends_at: datetime | None
    weekdays: list[str]
    local_start: str | None
    duration_minutes: int | None
    timezone: str
    schedule: str
    comment: str
    created_by: str | None
    active: bool
    next_window: WindowRef | None


class WindowOut(Schema):
    silence_id: int
    starts_at: datetime
    ends_at: datetime
    matchers: dict
    everything: bool
    recurring: bool
    schedule: str
    comment: str
    created_by: str | None


class RuleOut(Schema):
    id: int
    name: str
    metric: str
    label_filters: dict
    aggregation: str
    window_seconds: int
    comparator: str
    threshold: float
    for_seconds: int
    k_of_n: list[int]
    severity: str
    service: str
    parent_service: str
    runbook_url: str
    enabled: bool
    description: str
    repeat_interval_minutes: int | None
    repeat_interval_effective_minutes: int | None
    notify_limit_minutes: int
    on_no_data: str


def alert_out(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "rule": alert.rule.name,
        "rule_id": alert.rule_id,
        "state": alert.state,
        "severity": alert.severity,
        "severity_label": alert.severity_label,
        "service": alert.service,
        "message": alert.message,
        "labels": alert.labels,
        "value": alert.value,
        "last_value": alert.last_value,
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
        "resolved_at": alert.resolved_at,
        "runbook_url": alert.rule.runbook_url,
        "false_positive": alert.false_positive,
        "url": f"/alerts/{alert.pk}/",
    }


def _get_alert(alert_id: int) -> Alert:
    return get_object_or_404(Alert.objects.select_related("rule", "acknowledged_by"), pk=alert_id)


# The feed's columns, in the order _feed_item reads them.
FEED_FIELDS = (
    "id",
    "rule__name",
    "rule_id",
    "state",
    "severity",
    "service",
    "message",
    "labels",
    "value",
    "last_value",
    "started_at",
    "fired_at",
    "acknowledged_at",
    f"acknowledged_by__{get_user_model().USERNAME_FIELD}",
    "resolved_at",
    "rule__runbook_url",
    "false_positive",
)


def _feed_item(row: tuple) -> dict:
    """One feed row as ``alert_out`` gives it (same keys, values and order)."""
    (pk, rule, rule_id, state, severity, service, message, labels, value, last_value) = row[:10]
    started, fired, acked, acked_by, resolved, runbook, false_positive = row[10:]
    return {
        "id": pk,
        "rule": rule,
        "rule_id": rule_id,
        "state": state,
        "severity": severity,
        "severity_label": SEVERITY_LABELS.get(severity, severity.upper()),
        "service": service,
        "message": message,
        "labels": labels,
        "value": value,
        "last_value": last_value,
        "started_at": started,
        "fired_at": fired,
        "acknowledged_at": acked,
        "acknowledged_by": acked_by,
        "resolved_at": resolved,
        "runbook_url": runbook,
        "false_positive": false_positive,
        "url": f"/alerts/{pk}/",
    }


@router.get("/alerts", response=list[AlertOut], auth=api_auth("read"))
def list_alerts(request, params: Query[FeedParams]):
    """The alert feed: the last ``hours`` (and everything still open), newest first."""
    require_capability(request, "view_alerts")
    try:
        rows = selectors.alerts_feed_values(
            FEED_FIELDS,
            since=timezone.now() - timedelta(hours=params.hours),
            severity=params.severity,
            service=params.service,
            state=params.state,
            limit=params.limit,
        )
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    # Built from the columns and encoded directly: every value already has its AlertOut type
    # (tests/alerts/test_api.py checks the body against the schema), and validating up to 500
    # objects against it cost more than the query (issue 13's speed goal for this route).
    return json_response([_feed_item(row) for row in rows])


@router.get("/alerts/{alert_id}", response=AlertDetailOut, auth=api_auth("read"))
def get_alert(request, alert_id: int):
    require_capability(request, "view_alerts")
    alert = _get_alert(alert_id)
    out = alert_out(alert)
    out["escalation_chain"] = alert.escalation_chain
    out["escalation_step"] = alert.escalation_step
    out["events"] = [
        {
            "at": e.at,
            "kind": e.kind,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "actor": e.actor_label,
            "message": e.message,
        }
        for e in alert.events.all()
    ]
    out["deliveries"] = [
        {
            "id": d.pk,
            "channel": d.channel.name,
            "kind": d.channel.kind,
            "event": d.event,
            "attempt": d.attempt,
            "status": d.status,
            "response_code": d.response_code,
            "error": d.error,
            "created_at": d.created_at,
        }
        for d in selectors.alert_deliveries(alert)
    ]
    return out


@router.post("/alerts/{alert_id}/ack", response={200: AlertOut, 409: dict}, auth=api_auth("write"))
def ack_alert(request, alert_id: int, payload: AckIn | None = None):
    """Acknowledge a firing alert: notifications repeat no more and escalation stops."""
    require_capability(request, "ack_alerts")
    alert = _get_alert(alert_id)
    try:
        services.alert_acknowledge(
            alert=alert,
            user=request.user,
            actor_label=actor_label(request),
            comment=payload.comment if payload else "",
        )
    except services.AlertActionError as exc:
        return Status(409, {"error": str(exc)})
    return Status(200, alert_out(alert))


@router.post("/alerts/{alert_id}/notes", response={201: EventOut}, auth=api_auth("write"))
def add_note(request, alert_id: int, payload: NoteIn):
    require_capability(request, "ack_alerts")
    alert = _get_alert(alert_id)
    try:
        event = services.alert_add_note(
            alert=alert, user=request.user, text=payload.text, actor_label=actor_label(request)
        )
    except ValidationError as exc:
        raise HttpError(400, "; ".join(exc.messages)) from exc
    return Status(
        201,
        {
            "at": event.at,
            "kind": event.kind,
            "from_state": "",
            "to_state": "",
            "actor": event.actor_label,
            "message": event.message,
        },
    )


def silence_out(s) -> dict:
    upcoming = s.next_window()
    return {
        "id": s.pk,
        "matchers": s.matchers,
        "everything": s.everything,
        "repeat": s.repeat,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "weekdays": s.weekday_names,
        "local_start": f"{s.local_start:%H:%M}" if s.local_start else None,
        "duration_minutes": s.duration_minutes,
        "timezone": s.timezone,
        "schedule": s.schedule,
        "comment": s.comment,
        "created_by": s.created_by.get_username() if s.created_by else None,
        "active": s.is_active(),
        "next_window": (
            {"starts_at": upcoming.starts_at, "ends_at": upcoming.ends_at} if upcoming else None
        ),
    }


def _validation_error(exc: ValidationError) -> HttpError:
    if hasattr(exc, "message_dict"):
        text = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.message_dict.items())
    else:
        text = "; ".join(exc.messages)
    return HttpError(400, text)


def _weekdays(values) -> list[int]:
    try:
        return parse_weekdays(values)
    except ValueError as exc:
        raise HttpError(400, f"weekdays: {exc}") from exc


@router.get("/silences", response=list[SilenceOut], auth=api_auth("read"))
def list_silences(request, include_expired: bool = False):
    """Silences and maintenance windows, one-off and weekly (not yet ended unless asked)."""
    require_capability(request, "view_alerts")
    qs = Silence.objects.select_related("created_by")
    if not include_expired:
        qs = qs.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
    return [silence_out(s) for s in qs[:500]]


@router.get("/silences/windows", response=list[WindowOut], auth=api_auth("read"))
def list_windows(request, start: datetime | None = None, end: datetime | None = None):
    """Every window in force between ``start`` (default now) and ``end`` (default 7 days
    later), weekly ones expanded to their occurrences, in time order."""
    require_capability(request, "view_alerts")
    start = aware(start) or timezone.now()
    end = aware(end) or start + timedelta(days=7)
    if end <= start:
        raise HttpError(400, "end must be after start")
    if end - start > timedelta(days=400):
        raise HttpError(400, "ask for at most 400 days at a time")
    return [
        {
            "silence_id": w.pk,
            "starts_at": w.starts_at,
            "ends_at": w.ends_at,
            "matchers": w.matchers,
            "everything": w.everything,
            "recurring": w.recurring,
            "schedule": w.schedule,
            "comment": w.comment,
            "created_by": w.created_by.get_username() if w.created_by else None,
        }
        for w in selectors.silences_between(start=start, end=end)
    ]


@router.get("/silences/{silence_id}", response=SilenceOut, auth=api_auth("read"))
def get_silence(request, silence_id: int):
    require_capability(request, "view_alerts")
    return silence_out(
        get_object_or_404(Silence.objects.select_related("created_by"), pk=silence_id)
    )


@router.post("/silences", response={201: SilenceOut}, auth=api_auth("write"))
def create_silence(request, payload: SilenceIn):
    """A silence / maintenance window. One-off: give ``ends_at`` or ``duration_minutes``.
    Weekly: ``repeat="weekly"`` with ``weekdays``, ``local_start``, ``duration_minutes`` and
    ``timezone`` (``ends_at`` = repeat until, optional)."""
    require_capability(request, "ack_alerts")
    start = aware(payload.starts_at) or timezone.now()
    end = aware(payload.ends_at)
    if payload.repeat == "once":
        if payload.ends_at is None and payload.duration_minutes is None:
            raise HttpError(400, "give ends_at or duration_minutes")
        end = end or start + timedelta(minutes=payload.duration_minutes)
        schedule = {}
    else:
        schedule = {
            "repeat": "weekly",
            "weekdays": _weekdays(payload.weekdays),
            "local_start": payload.local_start,
            "duration_minutes": payload.duration_minutes,
            "timezone": payload.timezone,
        }
    try:
        silence = services.silence_create(
            matchers=payload.matchers,
            everything=payload.everything,
            starts_at=start,
            ends_at=end,
            comment=payload.comment,
            user=request.user,
            actor_label=actor_label(request),
            **schedule,
        )
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    return Status(201, silence_out(silence))


@router.patch("/silences/{silence_id}", response={200: SilenceOut}, auth=api_auth("write"))
def update_silence(request, silence_id: int, payload: SilencePatch):
    """Edit a silence: only the fields given change (audited with before/after)."""
    require_capability(request, "ack_alerts")
    silence = get_object_or_404(Silence.objects.select_related("created_by"), pk=silence_id)
    fields = payload.dict(exclude_unset=True)
    if not fields:
        raise HttpError(400, "nothing to change")
    if "weekdays" in fields:
        fields["weekdays"] = _weekdays(fields["weekdays"] or [])
    for name in ("starts_at", "ends_at"):
        if name in fields:
            fields[name] = aware(fields[name])
    for name in ("everything", "repeat", "timezone", "comment", "matchers", "starts_at"):
        if name in fields and fields[name] is None:
            raise HttpError(400, f"{name} cannot be null")
    try:
        services.silence_update(
            silence=silence, user=request.user, actor_label=actor_label(request), **fields
        )
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    return Status(200, silence_out(silence))


@router.post(
    "/silences/{silence_id}/expire", response={200: SilenceOut, 409: dict}, auth=api_auth("write")
)
def expire_silence(request, silence_id: int):
    """End a silence now (a weekly one stops repeating)."""
    require_capability(request, "ack_alerts")
    silence = get_object_or_404(Silence.objects.select_related("created_by"), pk=silence_id)
    try:
        services.silence_expire(
            silence=silence, user=request.user, actor_label=actor_label(request)
        )
    except services.AlertActionError as exc:
        return Status(409, {"error": str(exc)})
    return Status(200, silence_out(silence))


@router.get("/rules", response=list[RuleOut], auth=api_auth("read"))
def list_rules(request, enabled: bool | None = None):
    require_capability(request, "view_alerts")
    qs = AlertRule.objects.all()
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    return [
        {
            "id": r.pk,
            "name": r.name,
            "metric": r.metric,
            "label_filters": r.label_filters,
            "aggregation": r.aggregation,
            "window_seconds": r.window_seconds,
            "comparator": r.comparator,
            "threshold": r.threshold,
            "for_seconds": r.for_seconds,
            "k_of_n": [r.k_of_n_k, r.k_of_n_n],
            "severity": r.severity,
            "service": r.service,
            "parent_service": r.parent_service,
            "runbook_url": r.runbook_url,
            "enabled": r.enabled,
            "description": r.description,
            "repeat_interval_minutes": r.repeat_interval_minutes,
            "repeat_interval_effective_minutes": (
                int(r.repeat_interval().total_seconds() // 60) if r.repeat_interval() else None
            ),
            "notify_limit_minutes": r.notify_limit_minutes,
            "on_no_data": r.on_no_data,
        }
        for r in qs
    ]
