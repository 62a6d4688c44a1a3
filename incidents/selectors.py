"""Reads on incidents: lists and the MTTR / MTBF figures the dashboards show."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from incidents.models import Incident


def incidents_in_range(*, start: datetime, end: datetime) -> QuerySet[Incident]:
    """Incidents that were open at any moment of [start, end), newest first."""
    return (
        Incident.objects.filter(started_at__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .order_by("-started_at")
    )


def incident_stats(*, start: datetime, end: datetime) -> dict:
    """count: incidents started in [start, end); open: of those, not yet resolved;
    mttr_hours: mean started→resolved of incidents resolved in the range;
    mtbf_hours: operating time (range minus time inside incidents) / incidents started."""
    started = list(
        Incident.objects.filter(started_at__gte=start, started_at__lt=end).values_list(
            "started_at", "resolved_at"
        )
    )
    resolved = list(
        Incident.objects.filter(resolved_at__gte=start, resolved_at__lt=end).values_list(
            "started_at", "resolved_at"
        )
    )
    count = len(started)
    open_count = sum(1 for _, r in started if r is None)
    mttr = (
        (sum((r - s).total_seconds() for s, r in resolved) / len(resolved) / 3600)
        if resolved
        else None
    )
    mtbf = None
    if count:
        # Down time: the union of incident intervals clipped to the range (overlaps count once).
        spans = sorted(
            (max(s, start), min(r or end, end))
            for s, r in incidents_in_range(start=start, end=end).values_list(
                "started_at", "resolved_at"
            )
        )
        down, cur_s, cur_e = 0.0, None, None
        for s, e in spans:
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    down += (cur_e - cur_s).total_seconds()
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        if cur_e is not None:
            down += (cur_e - cur_s).total_seconds()
        mtbf = ((end - start).total_seconds() - down) / count / 3600
    return {
        "count": count,
        "open": open_count,
        "mttr_hours": round(mttr, 2) if mttr is not None else None,
        "mtbf_hours": round(mtbf, 2) if mtbf is not None else None,
    }


def incident_list(*, status: str | None = None, limit: int = 200) -> list[Incident]:
    qs = Incident.objects.all()
    if status:
        qs = qs.filter(status=status)
    return list(qs[:limit])
