"""Reads on incidents and deployments: lists, MTTR / MTBF and the DORA figures the dashboards
show."""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from alerts.models import Alert
from incidents.models import Deployment, Incident

# The seed's targets for the delivery figures (000 §8: change failure < 5%, weekly release
# cadence, MTTR < 4 h for critical incidents).
DORA_TARGETS = {
    "deploy_frequency_per_week": 1.0,  # at least
    "change_failure_rate_pct": 5.0,  # below
    "mttr_critical_hours": 4.0,  # below
}


def meets_dora_targets(figures: dict) -> dict[str, bool | None]:
    """Whether each figure meets its target as the target is written (≥ 1/week, < 5%, < 4 h),
    judged on the value as pages show it (one decimal), so "5.0%" never passes "< 5%" nor
    "4.0 h" "< 4 h". None when there is no figure. Every page and the API use this."""
    verdicts: dict[str, bool | None] = {}
    for key, target in DORA_TARGETS.items():
        value = figures.get(key)
        if value is None:
            verdicts[key] = None
        elif key == "deploy_frequency_per_week":
            verdicts[key] = round(value, 1) >= target
        else:
            verdicts[key] = round(value, 1) < target
    return verdicts


def incidents_in_range(*, start: datetime, end: datetime) -> QuerySet[Incident]:
    """Incidents that were open at any moment of [start, end), newest first."""
    return (
        Incident.objects.filter(started_at__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
        .order_by("-started_at")
    )


def incident_stats(
    *, start: datetime, end: datetime, severity: str | None = None, service: str | None = None
) -> dict:
    """count: incidents started in [start, end); open: of those, not yet resolved;
    mttr_hours: mean started→resolved of incidents resolved in the range (resolved: how many);
    mtbf_hours: operating time (range minus time inside incidents) / incidents started.
    ``severity`` / ``service`` narrow every figure to those incidents."""
    narrow = {k: v for k, v in (("severity", severity), ("service", service)) if v}
    base = Incident.objects.filter(**narrow)
    started = list(
        base.filter(started_at__gte=start, started_at__lt=end).values_list(
            "started_at", "resolved_at"
        )
    )
    resolved = list(
        base.filter(resolved_at__gte=start, resolved_at__lt=end).values_list(
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
            for s, r in incidents_in_range(start=start, end=end)
            .filter(**narrow)
            .values_list("started_at", "resolved_at")
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
        "resolved": len(resolved),
        "mttr_hours": round(mttr, 2) if mttr is not None else None,
        "mtbf_hours": round(mtbf, 2) if mtbf is not None else None,
    }


def incident_list(*, status: str | None = None, limit: int = 200) -> list[Incident]:
    # Linked alerts in one query (the API lists their ids), not one query per incident.
    qs = Incident.objects.prefetch_related(Prefetch("alerts", queryset=Alert.objects.only("id")))
    if status:
        qs = qs.filter(status=status)
    return list(qs[:limit])


def deployments_in_range(
    *,
    start: datetime,
    end: datetime,
    service: str | None = None,
    environment: str | None = None,
    status: str | None = None,
) -> QuerySet[Deployment]:
    """Deployments started in [start, end), newest first, each with ``caused_incident_count``."""
    qs = Deployment.objects.filter(started_at__gte=start, started_at__lt=end)
    if service:
        qs = qs.filter(service=service)
    if environment:
        qs = qs.filter(environment=environment)
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(caused_incident_count=Count("caused_incidents")).order_by(
        "-started_at", "-id"
    )


def dora_stats(
    *,
    start: datetime,
    end: datetime,
    service: str | None = None,
    environment: str = "production",
) -> dict:
    """The four DORA figures over deployments to ``environment`` started in [start, end).

    deploy_frequency_per_week: releases (deployments that reached the environment: succeeded,
    or rolled back afterwards) per 7 days of the range.
    lead_time_hours: median commit_at → finished_at of the succeeded ones that name a commit time.
    change_failure_rate_pct: finished deployments that failed, were rolled back or caused an
    incident, over all finished ones (still-running ones are not judged yet).
    mttr_hours / mttr_critical_hours: from ``incident_stats`` over the same range (and service).
    The counts behind each figure are returned beside it.
    """
    rows = list(
        deployments_in_range(start=start, end=end, service=service, environment=environment)
    )
    S = Deployment.Status
    finished = [d for d in rows if d.status in Deployment.FINISHED]
    released = [d for d in rows if d.status in (S.SUCCEEDED, S.ROLLED_BACK)]
    failed = sum(1 for d in rows if d.status == S.FAILED)
    rolled_back = sum(1 for d in rows if d.status == S.ROLLED_BACK)
    caused = [d for d in finished if d.caused_incident_count]
    failures = [
        d for d in finished if d.status in (S.FAILED, S.ROLLED_BACK) or d.caused_incident_count
    ]
    lead_times = [d.lead_time_hours for d in rows if d.lead_time_hours is not None]
    weeks = (end - start).total_seconds() / (7 * 86400)
    everything = incident_stats(start=start, end=end, service=service)
    critical = incident_stats(start=start, end=end, service=service, severity="critical")
    figures = {
        "deploy_frequency_per_week": round(len(released) / weeks, 2) if weeks > 0 else None,
        "lead_time_hours": round(median(lead_times), 2) if lead_times else None,
        "change_failure_rate_pct": (
            round(100 * len(failures) / len(finished), 1) if finished else None
        ),
        "mttr_hours": everything["mttr_hours"],
        "mttr_critical_hours": critical["mttr_hours"],
        "deployments": len(rows),
        "in_progress": len(rows) - len(finished),
        "finished": len(finished),
        "released": len(released),
        "succeeded": sum(1 for d in rows if d.status == S.SUCCEEDED),
        "failed": failed,
        "rolled_back": rolled_back,
        "caused_incident": len(caused),
        "change_failures": len(failures),
        "lead_time_samples": len(lead_times),
        "incidents_resolved": everything["resolved"],
        "critical_incidents_resolved": critical["resolved"],
        "weeks": round(weeks, 2),
        "targets": DORA_TARGETS,
    }
    figures["meets"] = meets_dora_targets(figures)
    return figures


def deployment_services() -> list[str]:
    """Every service that has a deployment, for filter menus."""
    return list(Deployment.objects.order_by("service").values_list("service", flat=True).distinct())


def deployment_environments() -> list[str]:
    return list(
        Deployment.objects.order_by("environment").values_list("environment", flat=True).distinct()
    )


# Deployments offered as an incident's cause start at most this long before the incident.
CAUSE_WINDOW = timedelta(days=14)


def cause_candidates(incident: Incident) -> QuerySet[Deployment]:
    """Deployments that may have caused ``incident``: its service's (any service's when it has
    none) started from 14 days before the incident until now, newest first, plus the one
    already named, so saving other fields never drops an older choice."""
    recent = Q(started_at__gte=incident.started_at - CAUSE_WINDOW, started_at__lte=timezone.now())
    if incident.service:
        recent &= Q(service=incident.service)
    if incident.caused_by_deployment_id:
        recent |= Q(pk=incident.caused_by_deployment_id)
    return Deployment.objects.filter(recent).order_by("-started_at", "-id")
