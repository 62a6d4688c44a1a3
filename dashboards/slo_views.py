"""SLO pages under the dashboards: the overview (every SLO's budget) and one SLO's page
(burn-down, burn rate against the alert thresholds, what consumed the budget)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from alerts.burn_rate import duration_text
from dashboards.panels.base import figure_dict
from dashboards.slo_figures import (
    budget_colour,
    budget_figure_or_none,
    burn_down_figure,
    burn_rate_figure,
)
from incidents.models import SLO
from incidents.slo.selectors import (
    budget_deployments,
    budget_incidents,
    burn_lines,
    frozen_services,
    service_freeze,
    slo_list,
    slo_status,
    slo_statuses,
)
from penguinmon.roles import capability_required, user_can


@capability_required("view_slos")
def slo_overview(request: HttpRequest) -> HttpResponse:
    slos = slo_list()
    statuses = slo_statuses(slos)
    rows = [statuses[s.pk] for s in slos]
    frozen = frozen_services(rows)
    context = {
        "rows": rows,
        "frozen": frozen,
        "figure": figure_dict(budget_figure_or_none(rows)),
        "can_manage": user_can(request.user, "manage_slos"),
        "colour": {s.slo.pk: budget_colour(s.budget.remaining_pct) for s in rows},
    }
    return render(request, "dashboards/slos.html", context)


@capability_required("view_slos")
def slo_detail(request: HttpRequest, slo_id: int) -> HttpResponse:
    slo = get_object_or_404(SLO.objects.select_related("service"), pk=slo_id)
    status = slo_status(slo)
    lines = burn_lines(status)
    incidents = budget_incidents(status)
    deployments = budget_deployments(status)
    freeze = service_freeze(slo.service.name, now=status.now)
    context = {
        "s": status,
        "b": status.budget,
        "freeze": freeze,
        "incidents": incidents,
        "deployments": deployments,
        "burn_down": figure_dict(burn_down_figure(status, lines, incidents, deployments)),
        "burn_rate": figure_dict(burn_rate_figure(status, lines, deployments)),
        "windows": [
            (w, duration_text(w.long_seconds), duration_text(w.short_seconds))
            for w in slo.burn_windows()
        ],
    }
    return render(request, "dashboards/slo_detail.html", context)
