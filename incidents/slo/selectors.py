"""Reads of SLOs: the one selector that computes budget figures (``slo_statuses``), what
consumed a budget (incidents, deployments), the burn-down and burn-rate lines for charts, and
the freeze state of services. Pages, reports, the API and the deployment hook all call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from collectors.sli import Counts, sli_counts, sli_hourly
from incidents.models import Deployment, Incident
from incidents.slo.budget import BURN_SPANS, Budget, budget_from_counts
from incidents.slo.models import SLO


@dataclass
class SloStatus:
    slo: SLO
    budget: Budget
    now: datetime


def slo_list(*, enabled_only: bool = False) -> list[SLO]:
    qs = SLO.objects.select_related("service")
    if enabled_only:
        qs = qs.filter(enabled=True)
    return list(qs)


def slo_statuses(slos: Sequence[SLO], *, now: datetime | None = None) -> dict[int, SloStatus]:
    """Budget figures of every SLO in ``slos`` keyed by id, from one batched read of the store
    (each SLO's window and the 1 h / 6 h / 1 d / 3 d burn spans)."""
    now = now or timezone.now()
    if not slos:
        return {}
    periods: list[tuple[datetime, datetime]] = []
    index: dict[datetime, int] = {}

    def period(start: datetime) -> int:
        if start not in index:
            index[start] = len(periods)
            periods.append((start, now))
        return index[start]

    spans = {name: period(now - timedelta(seconds=s)) for name, s in BURN_SPANS.items()}
    windows = {slo.pk: period(slo.window_start(now)) for slo in slos}
    counts = sli_counts([slo.spec for slo in slos], periods)
    out = {}
    for i, slo in enumerate(slos):
        budget = budget_from_counts(
            objective_pct=slo.objective_pct,
            unit=slo.spec.unit,
            window_start=slo.window_start(now),
            window_end=now,
            window_length=slo.window_length(now),
            counts=counts[(i, windows[slo.pk])],
            spans={name: counts[(i, p)] for name, p in spans.items()},
        )
        out[slo.pk] = SloStatus(slo, budget, now)
    return out


def slo_status(slo: SLO, *, now: datetime | None = None) -> SloStatus:
    return slo_statuses([slo], now=now)[slo.pk]


@dataclass
class IncidentShare:
    incident: Incident
    start: datetime  # clipped to the window
    end: datetime
    bad: float
    share_pct: float | None


def budget_incidents(status: SloStatus) -> list[IncidentShare]:
    """Incidents of the SLO's service overlapping its window, each with the bad events inside
    it (clipped to the window) as a share of the budget; the biggest consumers first."""
    slo, budget = status.slo, status.budget
    incidents = list(
        Incident.objects.filter(service=slo.service.name, started_at__lt=budget.window_end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=budget.window_start))
        .order_by("started_at")
    )
    if not incidents:
        return []
    spans = [
        (
            max(i.started_at, budget.window_start),
            min(i.resolved_at or budget.window_end, budget.window_end),
        )
        for i in incidents
    ]
    counts = sli_counts([slo.spec], spans)
    out = [
        IncidentShare(
            incident,
            start,
            end,
            counts[(0, p)].bad,
            budget.share_of_budget(counts[(0, p)].bad),
        )
        for p, (incident, (start, end)) in enumerate(zip(incidents, spans, strict=True))
    ]
    out.sort(key=lambda s: -s.bad)
    return out


def budget_incidents_for(statuses: Iterable[SloStatus]) -> dict[int, list[IncidentShare]]:
    return {s.slo.pk: budget_incidents(s) for s in statuses}


def window_deployments(status: SloStatus) -> list[Deployment]:
    b = status.budget
    return list(
        Deployment.objects.filter(
            service=status.slo.service.name,
            started_at__gte=b.window_start,
            started_at__lt=b.window_end,
        )
        .prefetch_related("caused_incidents")
        .order_by("started_at")
    )


# What a deployment is charged with: the budget spent in the hour after it, cut short by the
# next deployment of the service (which is charged from then on) and by the window's end.
DEPLOYMENT_SPAN = timedelta(hours=1)


@dataclass
class DeploymentShare:
    deployment: Deployment
    start: datetime
    end: datetime  # the first of: an hour later, the next deployment, the window's end
    bad: float
    share_pct: float | None


def budget_deployments(status: SloStatus) -> list[DeploymentShare]:
    """Deployments of the SLO's service in its window, in order, each with the bad events of
    the hour after it (until the next deployment, if sooner) as a share of the budget."""
    budget = status.budget
    deployments = window_deployments(status)
    if not deployments:
        return []
    spans = []
    for i, d in enumerate(deployments):
        end = min(d.started_at + DEPLOYMENT_SPAN, budget.window_end)
        if i + 1 < len(deployments):
            end = min(end, deployments[i + 1].started_at)
        spans.append((d.started_at, end))
    counts = sli_counts([status.slo.spec], spans)
    return [
        DeploymentShare(
            d, start, end, counts[(0, p)].bad, budget.share_of_budget(counts[(0, p)].bad)
        )
        for p, (d, (start, end)) in enumerate(zip(deployments, spans, strict=True))
    ]


@dataclass
class BurnLines:
    hours: list[datetime] = field(default_factory=list)
    remaining_pct: list[float | None] = field(default_factory=list)  # actual, cumulative
    ideal_pct: list[float] = field(default_factory=list)  # spending evenly over the window
    burn_1h: list[float | None] = field(default_factory=list)
    burn_6h: list[float | None] = field(default_factory=list)


def burn_lines(status: SloStatus) -> BurnLines:
    """Hourly lines over the window: budget remaining (actual, as events accumulate, against
    the budget of the whole window so far) and the burn rate over 1 h and 6 h."""
    slo, budget = status.slo, status.budget
    # Six hours before the window so the first 6 h burn points have their full span.
    hourly = sli_hourly(slo.spec, budget.window_start - timedelta(hours=6), budget.window_end)
    lines = BurnLines()
    objective = budget.objective
    final_budget = budget.budget_total
    length = budget.window_length.total_seconds()
    bad_so_far = 0.0
    for i, (hour, counts) in enumerate(hourly):
        if hour < budget.window_start.replace(minute=0, second=0, microsecond=0):
            continue
        bad_so_far += counts.bad
        lines.hours.append(hour)
        lines.remaining_pct.append(
            100.0 * (1 - bad_so_far / final_budget) if final_budget > 0 else None
        )
        elapsed = (hour + timedelta(hours=1) - budget.window_start).total_seconds()
        lines.ideal_pct.append(max(0.0, 100.0 * (1 - elapsed / length)))
        lines.burn_1h.append(_burn(counts, objective))
        six = Counts()
        for _, c in hourly[max(0, i - 5) : i + 1]:
            six = six + c
        lines.burn_6h.append(_burn(six, objective))
    return lines


def _burn(counts: Counts, objective: float) -> float | None:
    return None if counts.total <= 0 else (counts.bad / counts.total) / (1 - objective)


@dataclass
class Freeze:
    service: str
    frozen: bool
    exhausted: list[SloStatus]  # the SLOs whose budget is spent
    statuses: list[SloStatus]


def service_freeze(service_name: str, *, now: datetime | None = None) -> Freeze:
    """A service is in reliability freeze while any of its enabled SLOs has spent its budget."""
    slos = [s for s in slo_list(enabled_only=True) if s.service.name == service_name]
    statuses = list(slo_statuses(slos, now=now).values())
    exhausted = [s for s in statuses if s.budget.exhausted]
    return Freeze(service_name, bool(exhausted), exhausted, statuses)


def frozen_services(statuses: Iterable[SloStatus]) -> dict[str, list[SloStatus]]:
    """Service name -> its exhausted SLOs, from statuses already computed."""
    out: dict[str, list[SloStatus]] = {}
    for s in statuses:
        if s.slo.enabled and s.budget.exhausted:
            out.setdefault(s.slo.service.name, []).append(s)
    return out
