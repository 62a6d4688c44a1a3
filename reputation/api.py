"""JSON API: list IPs with scores, one IP's history, trigger a check, rotate to backup."""

from __future__ import annotations

import ipaddress
from datetime import datetime

from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from penguinmon.api_auth import actor_label, api_auth, require_capability
from reputation import selectors, services
from reputation.models import CheckRun, SendingIP

router = Router(tags=["reputation"])


class IPRow(Schema):
    id: int
    ip: str
    provider: str
    pool: str
    score: int | None
    blocklists: list[str]
    major_listed: bool
    daily_volume: int
    status: str
    active: bool
    last_checked: datetime | None


class ListFilters(Schema):
    provider: str | None = None
    pool: SendingIP.Pool | None = None
    status: SendingIP.Status | None = None
    active: bool | None = None
    sort: str = Field("score", pattern="^-?(" + "|".join(selectors.SORT_KEYS) + ")$")


class CheckRequest(Schema):
    ips: list[str] | None = Field(
        None, description="addresses to check; omit for every IP and domain"
    )


class RotateRequest(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


def _ip_or_404(address: str) -> SendingIP:
    try:
        normalized = str(ipaddress.ip_address(address))
    except ValueError:
        raise HttpError(400, f"{address!r} is not an IPv4 or IPv6 address") from None
    ip = SendingIP.objects.filter(address=normalized).first()
    if ip is None:
        raise HttpError(404, f"no sending IP {normalized}")
    return ip


@router.get("/reputation/ips", response=list[IPRow], auth=api_auth("read"))
def list_ips(request, filters: Query[ListFilters]):
    """Every sending IP with its score and the blocklists it is on now (worst first)."""
    require_capability(request, "view_reputation")
    return selectors.ip_reputation_table(
        sort=filters.sort.lstrip("-"),
        descending=filters.sort.startswith("-"),
        provider=filters.provider,
        pool=filters.pool,
        status=filters.status,
        active=filters.active,
    )


@router.get("/reputation/ips/{address}/history", auth=api_auth("read"))
def ip_history(request, address: str, days: int = Query(30, ge=1, le=90)):
    """Score snapshots, listing periods and the latest result per zone for one IP."""
    require_capability(request, "view_reputation")
    ip = _ip_or_404(address)
    return {
        "ip": ip.address,
        "provider": ip.provider,
        "pool": ip.pool,
        "active": ip.active,
        "score": ip.last_score,
        "status": ip.status,
        "snapshots": [
            {
                "taken_at": s.taken_at,
                "score": s.score,
                "status": s.status,
                "blocklists": s.listed_zones,
                "major_listed": s.major_listed,
                "bounce_rate_pct": s.bounce_rate_pct,
                "complaint_rate_pct": s.complaint_rate_pct,
            }
            for s in selectors.score_history(ip, days=days)
        ],
        "listings": [
            {
                "zone": lst.zone.zone,
                "name": lst.zone.name,
                "major": lst.zone.major,
                "listed_at": lst.listed_at,
                "delisted_at": lst.delisted_at,
                "codes": lst.codes,
                "meanings": lst.meanings,
                "reason": lst.reason,
                "delisting_url": lst.zone.delisting_url,
            }
            for lst in selectors.listings_for(ip, days=days)
        ],
        "latest_checks": [
            {
                "zone": c.zone.zone,
                "checked_at": c.checked_at,
                "result": c.result,
                "codes": c.codes,
                "reason": c.reason,
                "detail": c.detail,
            }
            for c in selectors.latest_checks(ip)
        ],
    }


def _run_out(run: CheckRun) -> dict:
    return {
        "id": run.pk,
        "status": run.status,
        "task_id": run.task_id,
        "requested_at": run.requested_at,
        "requested_by": run.requested_by,
        "ips": run.ip_ids or "all",
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "summary": run.summary or None,
        "error": run.error,
        "url": f"/api/v1/reputation/checks/{run.pk}",
    }


@router.post("/reputation/checks", auth=api_auth("write"), response={200: dict, 202: dict})
def trigger_check(request, body: CheckRequest):
    """One IP: run its look-ups now (bounded by the per-query timeout) and return the
    summary. Several IPs, or none named (every IP and domain): queue the check for a worker
    and answer 202 with the run, whose progress GET /reputation/checks/{id} shows; 503 when
    the queue (Redis) is unreachable."""
    require_capability(request, "manage_reputation")
    ip_ids = None
    if body.ips is not None:
        if not body.ips:
            raise HttpError(400, "ips must name at least one address, or be omitted to check all")
        ip_ids = list(dict.fromkeys(_ip_or_404(a).pk for a in body.ips))
        if len(ip_ids) == 1:
            return Status(200, services.run_reputation_check(ip_ids=ip_ids).as_dict())
    try:
        run = services.queue_check(ip_ids=ip_ids, requested_by=actor_label(request))
    except services.QueueUnavailable as exc:
        raise HttpError(503, str(exc)) from None
    out = _run_out(run)
    return Status(
        202, {**out, "message": f"check #{run.pk} queued; GET {out['url']} shows when it finishes"}
    )


@router.get("/reputation/checks/{run_id}", auth=api_auth("read"))
def check_run(request, run_id: int):
    """A queued check: queued, running, done (with its summary), skipped or failed."""
    require_capability(request, "view_reputation")
    run = CheckRun.objects.filter(pk=run_id).first()
    if run is None:
        raise HttpError(404, f"no check run {run_id}")
    return _run_out(run)


@router.post("/reputation/ips/{address}/rotate", auth=api_auth("write"))
def rotate(request, address: str, body: RotateRequest):
    """Deactivate the IP and activate a backup IP of the same provider; 409 if none."""
    require_capability(request, "manage_reputation")
    if not body.reason.strip():
        raise HttpError(400, "reason must not be blank: it is recorded with the rotation")
    ip = _ip_or_404(address)
    try:
        event = services.rotate_to_backup(
            ip=ip, actor=request.user, reason=body.reason, actor_label=actor_label(request)
        )
    except services.RotationRefused as exc:
        raise HttpError(409, str(exc)) from None
    return {
        "id": event.pk,
        "from_ip": event.from_address,
        "to_ip": event.to_address,
        "at": event.created_at,
        "by": event.actor_label,
        "reason": event.reason,
        "webhook": {
            "url": event.webhook_url,
            "status": event.webhook_status,
            "ok": event.webhook_ok,
            "error": event.webhook_error,
        },
    }
