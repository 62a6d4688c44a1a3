"""Services, probes and hosts in the JSON API (mounted under /api/v1/ by the lead).

Reads need the "read" scope and a role allowed to view services; running a probe or editing
thresholds needs "write" and that role; changing a probe's config or location needs a staff
account too, because a config can name a command to run (smtp queue_command) or a DSN and URL
to connect to; edits are written to the audit log. Secrets in probe configs are masked in
answers. Host snapshots pushed by ``collect_host --push`` need "ingest".

A probe tagged with locations shows each location's last result (``location_results``) and its
"k of n" rule; running it "now" from a server at another location answers 409 and makes it due
at its own locations instead (a result from here would be from the wrong vantage point).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from collectors.models import Probe, Service
from collectors.monitoring.config import ConfigError, update_probe, update_service_thresholds
from collectors.monitoring.hosts import save_host_snapshot
from collectors.monitoring.probing import ProbeNotHere, run_probe
from collectors.monitoring.selectors import (
    ProbeRow,
    ServiceRow,
    hosts_list,
    probes_list,
    service_by_name,
    service_detail,
    service_row,
    services_overview,
)
from penguinmon.api_auth import actor_label, api_auth
from penguinmon.api_schemas import ErrorOut
from penguinmon.redact import mask_headers
from penguinmon.roles import user_can

router = Router(tags=["services"])


class LastRunOut(Schema):
    """When a probe (or one of its locations) runs next and what its last run found."""

    next_run_at: datetime | None
    last_run_at: datetime | None
    last_ok: bool | None
    last_degraded: bool
    last_latency_ms: float | None
    last_message: str
    consecutive_failures: int


class LocationResultOut(LastRunOut):
    location: str
    status: str  # healthy / degraded / down / unknown, or "stale" (no result for 3 intervals)
    reason: str


class ProbeOut(LastRunOut):
    id: int
    service: str
    name: str
    kind: str
    enabled: bool
    locations: list[str]
    location_overrides: dict
    fail_locations_k: int | None
    interval_seconds: int
    timeout_seconds: float
    config: dict
    status: str | None = None
    status_reason: str | None = None
    # For a probe tagged with locations: "k of n" and each location's last result.
    k_of_n: str | None = None
    location_results: list[LocationResultOut] = []
    last_details: dict


class ServiceOut(Schema):
    name: str
    display_name: str
    kind: str
    description: str
    parent: str | None
    # healthy / degraded / down; "stale" (enabled probes, none with a result in 3 intervals)
    # or "unmonitored" (no enabled probe) — never healthy without a current result.
    status: str
    status_since: datetime | None
    status_reason: str
    down_after_failures: int
    degraded_latency_ms: float
    fail_locations_k: int
    uptime_pct: dict[str, float | None]
    last_run_at: datetime | None
    latency_ms: float | None
    highlights: list[dict[str, str]]


class StatusChangeOut(Schema):
    at: datetime
    old_status: str
    new_status: str
    reason: str


class ServiceDetailOut(ServiceOut):
    probes: list[ProbeOut]
    status_changes: list[StatusChangeOut]


class RunOut(Schema):
    ok: bool
    degraded: bool
    latency_ms: float | None
    message: str
    details: dict
    probe: ProbeOut


class ServicePatch(Schema):
    down_after_failures: int | None = Field(None, ge=1, le=100)
    degraded_latency_ms: float | None = Field(None, gt=0, le=600_000)
    fail_locations_k: int | None = Field(None, ge=1, le=100)
    description: str | None = Field(None, max_length=2000)
    comment: str = Field("", max_length=1000)


class ProbePatch(Schema):
    enabled: bool | None = None
    interval_seconds: int | None = Field(None, ge=5, le=86_400)
    timeout_seconds: float | None = Field(None, ge=0.1, le=120)
    locations: list[str] | None = Field(None, max_length=20)
    location_overrides: dict[str, dict[str, Any]] | None = None
    fail_locations_k: int | None = Field(None, ge=1, le=100)
    config: dict[str, Any] | None = None
    comment: str = ""


class ProbeFilter(Schema):
    service: str | None = None
    kind: str | None = None
    enabled: bool | None = None


class HostSnapshotIn(Schema):
    cpu_percent: float | None = Field(None, ge=0, le=100)
    memory_percent: float = Field(..., ge=0, le=100)
    process_count: int = Field(..., ge=0, le=10_000_000)
    top_cpu: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    top_memory: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    disks: dict[str, float] = Field(default_factory=dict, max_length=256)


class HostOut(Schema):
    name: str
    enabled: bool
    has_worker: bool
    last_sample_at: datetime | None
    cpu_percent: float | None
    memory_percent: float | None
    process_count: int | None
    top_cpu: list
    top_memory: list
    disks: dict


_SECRET_KEY = re.compile(r"pass|secret|token|api_?key", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_CONNINFO_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)
MASK = "***"


def masked_config(config: dict) -> dict:
    """A probe config fit to show to any reader: passwords, tokens, every header value but a
    few harmless ones (Accept, User-Agent, ...) and the password part of URLs / DSNs replaced
    by ***."""
    out: dict = {}
    for key, value in config.items():
        if isinstance(value, str) and _SECRET_KEY.search(key):
            out[key] = MASK if value else value
        elif key == "headers" and isinstance(value, dict):
            out[key] = mask_headers(value)
        elif isinstance(value, str):
            out[key] = _CONNINFO_PASSWORD.sub(
                rf"\g<1>{MASK}", _URL_PASSWORD.sub(rf"\g<1>{MASK}@", value)
            )
        else:
            out[key] = value
    return out


_COMPUTED = ("service", "status", "status_reason", "k_of_n", "location_results")


def _probe_out(probe: Probe, row: ProbeRow | None = None) -> dict:
    data = {f: getattr(probe, f) for f in ProbeOut.model_fields if f not in _COMPUTED}
    data["config"] = masked_config(probe.config or {})
    data["location_overrides"] = {
        loc: masked_config(changes) if isinstance(changes, dict) else changes
        for loc, changes in (probe.location_overrides or {}).items()
    }
    computed: dict[str, Any] = {"status": None, "status_reason": None, "k_of_n": None}
    if row is not None:
        computed = {"status": row.status, "status_reason": row.reason, "k_of_n": row.k_of_n or None}
        computed["location_results"] = [
            {
                "location": loc.location,
                "status": loc.status,
                "reason": loc.reason,
                **{
                    f: getattr(loc.result, f)
                    for f in LocationResultOut.model_fields
                    if f not in ("location", "status", "reason")
                },
            }
            for loc in row.locations
        ]
    return {**data, **computed, "service": probe.service.name}


def _service_out(row: ServiceRow) -> dict:
    s = row.service
    return {
        "name": s.name,
        "display_name": s.display_name,
        "kind": s.kind,
        "description": s.description,
        "parent": s.parent.name if s.parent_id else None,
        "status": s.status,
        "status_since": s.status_since,
        "status_reason": s.status_reason,
        "down_after_failures": s.down_after_failures,
        "degraded_latency_ms": s.degraded_latency_ms,
        "fail_locations_k": s.fail_locations_k,
        "uptime_pct": row.uptime,
        "last_run_at": row.last_run_at,
        "latency_ms": row.latency_ms,
        "highlights": [{"label": k, "value": v} for k, v in row.highlights],
    }


def _service_or_404(name: str) -> Service:
    service = service_by_name(name)
    if service is None:
        raise HttpError(404, f"no service named {name!r}")
    return service


def _changes_or_400(body: Schema) -> dict:
    """The fields a PATCH body sets (its comment aside); 400 naming them when it sets none,
    422 naming any sent as null."""
    changes = body.model_dump(exclude_unset=True, exclude={"comment"})
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        # None only means "not sent"; every one of these fields always has a value.
        raise HttpError(422, "; ".join(f"{k}: may not be null" for k in nulls))
    if not changes:
        editable = [f for f in type(body).model_fields if f != "comment"]
        raise HttpError(400, f"nothing to change: send {_listed(editable)}")
    return changes


def _edited_by(request: HttpRequest, body: Schema) -> dict:
    return {"actor": request.user, "comment": body.comment, "actor_label": actor_label(request)}


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _require_role(request: HttpRequest) -> None:
    if not user_can(request.user, "view_services"):
        raise HttpError(403, "your role does not allow viewing or running services' probes")


def _require_manager(request: HttpRequest) -> None:
    if not user_can(request.user, "manage_services"):
        raise HttpError(403, "changing services and probes needs the operations or on-call role")


@router.get("/services", auth=api_auth("read"), response=list[ServiceOut])
def list_services(request):
    """Every service with status (healthy / degraded / down / stale / unmonitored), uptime % and
    highlights."""
    _require_role(request)
    return [_service_out(row) for row in services_overview()]


@router.get(
    "/services/{name}", auth=api_auth("read"), response={200: ServiceDetailOut, 404: ErrorOut}
)
def get_service(request, name: str):
    """One service: status, uptime, its probes with their last result, and status changes (90 days)."""
    _require_role(request)
    detail = service_detail(service=_service_or_404(name))
    rows = {row.probe.pk: row for row in detail.row.probes}
    return {
        **_service_out(detail.row),
        "probes": [_probe_out(p, rows.get(p.pk)) for p in detail.all_probes],
        "status_changes": [
            {"at": c.at, "old_status": c.old_status, "new_status": c.new_status, "reason": c.reason}
            for c in detail.changes
        ],
    }


@router.patch(
    "/services/{name}",
    auth=api_auth("write"),
    response={200: ServiceOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def patch_service(request, name: str, body: ServicePatch):
    """Change a service's thresholds (down after N failures, degraded latency, k of n
    locations); audited."""
    _require_manager(request)
    service = _service_or_404(name)
    changes = _changes_or_400(body)
    update_service_thresholds(service=service, changes=changes, **_edited_by(request, body))
    return _service_out(service_row(service_by_name(name)))


@router.get("/probes", auth=api_auth("read"), response=list[ProbeOut])
def list_probes(request, filters: Query[ProbeFilter]):
    """Probes with their configuration and last result; filter by service, kind, enabled."""
    _require_role(request)
    return [
        _probe_out(p)
        for p in probes_list(service=filters.service, kind=filters.kind, enabled=filters.enabled)
    ]


def _probe_or_404(probe_id: int) -> Probe:
    probe = Probe.objects.select_related("service").filter(pk=probe_id).first()
    if probe is None:
        raise HttpError(404, f"no probe with id {probe_id}")
    return probe


@router.post(
    "/probes/{probe_id}/run",
    auth=api_auth("write"),
    response={200: RunOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
)
def run_probe_now(request, probe_id: int):
    """Run a probe now (also when disabled) and record its result like a scheduled run. A
    probe that does not run at this server's location is made due at its own locations: 409."""
    _require_role(request)
    probe = _probe_or_404(probe_id)
    try:
        outcome = run_probe(probe=probe)
    except ProbeNotHere as exc:
        raise HttpError(409, str(exc)) from exc
    r = outcome.result
    return {
        "ok": r.ok,
        "degraded": r.degraded,
        "latency_ms": r.latency_ms,
        "message": r.message,
        "details": probe.last_details,
        "probe": _probe_out(probe),
    }


@router.patch(
    "/probes/{probe_id}",
    auth=api_auth("write"),
    response={200: ProbeOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def patch_probe(request, probe_id: int, body: ProbePatch):
    """Enable/disable a probe or change its interval, timeout, locations (and their config
    overrides and k of n) or config; audited."""
    _require_manager(request)
    probe = _probe_or_404(probe_id)
    changes = _changes_or_400(body)
    if {"config", "locations", "location_overrides"} & changes.keys() and not request.user.is_staff:
        raise HttpError(
            403,
            "changing a probe's config, locations or overrides needs a staff account "
            "(or Django admin)",
        )
    try:
        update_probe(probe=probe, changes=changes, **_edited_by(request, body))
    except ConfigError as exc:
        raise HttpError(400, str(exc)) from exc
    return _probe_out(probe)


@router.get("/hosts", auth=api_auth("read"), response=list[HostOut])
def list_hosts(request):
    """Sampled hosts with their latest CPU, memory, disks and top processes."""
    _require_role(request)
    return hosts_list()


@router.post(
    "/hosts/{name}/snapshot", auth=api_auth("ingest"), response={200: HostOut, 400: ErrorOut}
)
def post_host_snapshot(request, name: str, body: HostSnapshotIn):
    """Latest top processes and totals of a host that pushes with ``collect_host --push``."""
    if not name or len(name) > 200:
        raise HttpError(400, "host name must be 1-200 characters")
    return save_host_snapshot(
        name=name, snapshot={**body.model_dump(), "last_sample_at": timezone.now()}
    )
