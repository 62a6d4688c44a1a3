"""The public status page's data: components with their state and 90 days of daily uptime,
public incidents with their public updates, scheduled maintenance, history.

Everything here is public. It is built only from what admins and on-call chose to publish:
component names and descriptions, incident public titles, public update messages, and the
times of maintenance windows. Service names, probe reasons, alert text, silence comments and
incident titles never leave this module.

Maintenance shown: every maintenance window (alerts silence) that takes a whole mapped service
out, or the whole platform (``Silence.covers_service``), that is, exactly the windows the
uptime figures already treat as planned. No "public" flag: a window that does not count
against uptime is one the public should have been told about. Only its times and the
affected components are shown; its comment is internal.

The result is cached in Redis (Django's cache) for ``STATUS_CACHE_SECONDS`` (default 10 s,
below the 15 s evaluation interval, so a change of state shows within one interval) and
dropped at once when an update is posted or a component is edited.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from alerts.selectors import maintenance_windows
from collectors.models import Service, Status
from collectors.monitoring.health import (
    maintenance_spans_by_service,
    status_history,
    uptime_from_changes,
)
from incidents.models import Incident, IncidentUpdate, StatusComponent

HISTORY_DAYS = 90
CACHE_KEY = "status-page:v1:{}"
FORMATS = ("data", "html", "json", "atom")
MAINTENANCE_AHEAD = timedelta(days=30)


def cache_seconds() -> int:
    return int(getattr(settings, "STATUS_CACHE_SECONDS", 10))


def forget_cached_status() -> None:
    """Drop every cached representation after the current transaction commits (a reader
    between the write and the commit would otherwise cache the old state again). Other
    workers' local copies live at most ``LOCAL_SECONDS`` longer."""

    def forget() -> None:
        cache.delete_many([CACHE_KEY.format(f) for f in FORMATS])
        _local.clear()
        _responses.clear()

    transaction.on_commit(forget)


# Each worker keeps the bytes it last read from Redis for up to a second, so a spike costs
# no Redis round trip per view either; changes still show within one evaluation interval.
LOCAL_SECONDS = 1.0
_local: dict[str, tuple[float, bytes, bytes]] = {}
# Whole responses replayed by incidents.status_wsgi: (path, gzip) → (until, status, headers, body).
_responses: dict[tuple[str, bool], tuple[float, str, tuple, bytes]] = {}


def cached_bodies(fmt: str, render: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """(plain, gzipped) bytes of one representation of the page: this worker's copy, else
    Redis's, else ``render()`` (then stored in both)."""
    now = time.monotonic()
    hit = _local.get(fmt)
    if hit is not None and hit[0] > now:
        return hit[1], hit[2]
    key = CACHE_KEY.format(fmt)
    bodies = cache.get(key)
    if bodies is None:
        plain = render()
        # Compressed once per build, not per view (the page is mostly repetitive bar markup).
        bodies = (plain, gzip.compress(plain, compresslevel=6, mtime=0))
        cache.set(key, bodies, cache_seconds())
    _local[fmt] = (now + min(LOCAL_SECONDS, cache_seconds()), *bodies)
    return bodies


# Statuspage's component states, worst last.
OPERATIONAL = "operational"
DEGRADED = "degraded_performance"
PARTIAL = "partial_outage"
MAJOR = "major_outage"
MAINTENANCE = "under_maintenance"
COMPONENT_LABELS = {
    OPERATIONAL: "Operational",
    DEGRADED: "Degraded performance",
    PARTIAL: "Partial outage",
    MAJOR: "Major outage",
    MAINTENANCE: "Under maintenance",
}
INDICATORS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
    "maintenance": "Service Under Maintenance",
}
IMPACT = {"critical": "critical", "warning": "major", "info": "minor"}


def component_state(statuses: list[str], in_maintenance: bool) -> str:
    """Statuspage's state from the internal services' health. A status not seen (unknown,
    stale, not monitored) counts as neither up nor down: a component whose services are all
    unseen shows operational, with "no data" on its bars."""
    if in_maintenance:
        return MAINTENANCE
    unseen = Status.unseen()
    known = [s for s in statuses if s not in unseen]
    down = sum(1 for s in known if s == Status.DOWN)
    if known and down == len(known):
        return MAJOR
    if down:
        return PARTIAL
    if any(s == Status.DEGRADED for s in known):
        return DEGRADED
    return OPERATIONAL


def daily_uptimes(
    services: list[Service], *, days: int, now: datetime
) -> dict[int, list[float | None]]:
    """Uptime % of each service for each UTC day of the last ``days`` (oldest first, today so
    far last), by the dashboards' definition (``collectors.monitoring.health.uptime_from_changes``, with
    maintenance counted as up), from one read of the status changes and of the windows."""
    if not services:
        return {}
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    ids = [s.pk for s in services]
    before, changes = status_history(ids, start, now)
    maintenance = maintenance_spans_by_service([s.name for s in services], start, now)
    out: dict[int, list[float | None]] = {}
    for service in services:
        status = before.get(service.pk) or Status.UNKNOWN
        rows = changes[service.pk]
        i, values = 0, []
        for d in range(days):
            lo = start + timedelta(days=d)
            hi = min(lo + timedelta(days=1), now)
            inside = []
            while i < len(rows) and rows[i][0] < hi:
                inside.append(rows[i])
                i += 1
            values.append(uptime_from_changes(status, inside, lo, hi, maintenance[service.name]))
            if inside:
                status = inside[-1][1]
        out[service.pk] = values
    return out


@dataclass
class Day:
    date: datetime
    uptime_pct: float | None
    incidents: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        if self.uptime_pct is None:
            return "none"
        if self.uptime_pct >= 99.9:
            return "up"
        if self.uptime_pct >= 99.0:
            return "minor"
        if self.uptime_pct >= 95.0:
            return "partial"
        return "major"

    @property
    def title(self) -> str:
        text = f"{self.date:%Y-%m-%d}: " + (
            "no data" if self.uptime_pct is None else f"{self.uptime_pct:.2f}% uptime"
        )
        if self.incidents:
            text += "; incidents: " + "; ".join(self.incidents)
        else:
            text += "; no incidents"
        return text


def _public_incidents(since: datetime) -> list[Incident]:
    """Incidents with at least one public update, open or resolved since ``since``, each with
    only its public updates (oldest first)."""
    public = IncidentUpdate.objects.filter(public=True).order_by("created_at", "id")
    rows = (
        Incident.objects.filter(updates__public=True)
        .exclude(resolved_at__lt=since)
        .distinct()
        .only(
            "id",
            "public_title",
            "severity",
            "status",
            "service",
            "started_at",
            "resolved_at",
            "mitigated_at",
            "created_at",
        )
        .prefetch_related(Prefetch("updates", queryset=public, to_attr="public_updates"))
        .order_by("-started_at", "-id")
    )
    return list(rows)


def build_status(*, now: datetime | None = None) -> dict:
    """The whole public status, as plain data (cached, and rendered to HTML, JSON and Atom)."""
    now = now or timezone.now()
    components = list(
        StatusComponent.objects.filter(visible=True).prefetch_related(
            Prefetch("services", queryset=Service.objects.only("id", "name", "status"))
        )
    )
    services = {s.pk: s for c in components for s in c.services.all()}
    uptimes = daily_uptimes(list(services.values()), days=HISTORY_DAYS, now=now)
    first_day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=HISTORY_DAYS - 1
    )
    incidents = _public_incidents(first_day)
    names_by_service: dict[str, list[str]] = {}
    for c in components:
        for s in c.services.all():
            names_by_service.setdefault(s.name, []).append(c.name)
    windows = [
        w
        for w in maintenance_windows(start=now, end=now + MAINTENANCE_AHEAD)
        if w.everything or any(w.silence.covers_service(name) for name in names_by_service)
    ]
    in_maintenance_now = {
        name
        for w in windows
        if w.starts_at <= now < w.ends_at
        for name in names_by_service
        if w.silence.covers_service(name)
    }

    out_components = []
    for c in components:
        mapped = list(c.services.all())
        state = component_state(
            [s.status for s in mapped], any(s.name in in_maintenance_now for s in mapped)
        )
        days = []
        for d in range(HISTORY_DAYS):
            values = [uptimes[s.pk][d] for s in mapped if uptimes[s.pk][d] is not None]
            day_start = first_day + timedelta(days=d)
            day_end = day_start + timedelta(days=1)
            mapped_names = {s.name for s in mapped}
            day_incidents = [
                i.public_title
                for i in incidents
                if i.service in mapped_names
                and i.started_at < day_end
                and (i.resolved_at is None or i.resolved_at >= day_start)
            ]
            # The component is as available as its least available part that day.
            days.append(Day(day_start, min(values) if values else None, day_incidents))
        known = [d.uptime_pct for d in days if d.uptime_pct is not None]
        out_components.append(
            {
                "id": c.pk,
                "name": c.name,
                "description": c.description,
                "status": state,
                "status_label": COMPONENT_LABELS[state],
                "position": c.position,
                "days": days,
                "uptime_pct": round(sum(known) / len(known), 3) if known else None,
            }
        )

    def incident_data(i: Incident) -> dict:
        affected = sorted(set(names_by_service.get(i.service, [])))
        updates = [
            {
                "id": u.pk,
                "status": u.status,
                "body": u.message,
                "created_at": u.created_at,
            }
            for u in reversed(i.public_updates)  # newest first, as Statuspage lists them
        ]
        status = updates[0]["status"] if updates else IncidentUpdate.Status.INVESTIGATING
        if not i.is_open:
            status = IncidentUpdate.Status.RESOLVED
        return {
            "id": i.pk,
            "name": i.public_title,
            "status": status,
            "impact": IMPACT.get(i.severity, "minor"),
            "started_at": i.started_at,
            "created_at": i.created_at,
            "updated_at": updates[0]["created_at"] if updates else i.created_at,
            "monitoring_at": i.mitigated_at,
            "resolved_at": i.resolved_at,
            "components": affected,
            "updates": updates,
        }

    open_incidents = [incident_data(i) for i in incidents if i.is_open]
    history = [incident_data(i) for i in incidents if not i.is_open]
    maintenance = [
        {
            "id": f"{w.pk}-{int(w.starts_at.timestamp())}",
            "name": "Scheduled maintenance"
            + (
                ": "
                + ", ".join(
                    sorted(
                        {
                            n
                            for s in names_by_service
                            if w.silence.covers_service(s)
                            for n in names_by_service[s]
                        }
                    )
                )
                if not w.everything
                else ": all systems"
            ),
            "status": "in_progress" if w.starts_at <= now else "scheduled",
            "scheduled_for": w.starts_at,
            "scheduled_until": w.ends_at,
            "components": sorted(
                {
                    n
                    for s in names_by_service
                    if w.silence.covers_service(s)
                    for n in names_by_service[s]
                }
            ),
        }
        for w in windows
    ]
    states = {c["status"] for c in out_components}
    if any(i["impact"] == "critical" for i in open_incidents) or MAJOR in states:
        indicator = "critical"
    elif PARTIAL in states or any(i["impact"] == "major" for i in open_incidents):
        indicator = "major"
    elif DEGRADED in states or open_incidents:
        indicator = "minor"
    elif MAINTENANCE in states:
        indicator = "maintenance"
    else:
        indicator = "none"
    return {
        "name": getattr(settings, "STATUS_PAGE_NAME", "PenguinMails"),
        "updated_at": now,
        "indicator": indicator,
        "description": INDICATORS[indicator],
        "components": out_components,
        "incidents": open_incidents,
        "history": history,
        "maintenance": maintenance,
    }


def public_status(*, now: datetime | None = None) -> dict:
    """``build_status`` through the cache: one build per ``STATUS_CACHE_SECONDS``."""
    key = CACHE_KEY.format("data")
    data = cache.get(key)
    if data is None:
        data = build_status(now=now)
        cache.set(key, data, cache_seconds())
    return data
