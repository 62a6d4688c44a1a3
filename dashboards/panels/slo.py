"""Error budgets on the role dashboards: a tile per SLO (executive) and the budget state with
the reliability freeze (development). SLOs have their own windows, so the range picker does
not change these numbers; the same selector feeds the SLO pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.panels.base import Panel, Table
from dashboards.timerange import TimeRange
from incidents.slo.selectors import (
    IncidentShare,
    SloStatus,
    budget_incidents,
    frozen_services,
    slo_list,
    slo_statuses,
)


@dataclass
class Budgets:
    rows: list[SloStatus]
    frozen: dict[str, list[SloStatus]]


def budget_state(status: SloStatus) -> str:
    b = status.budget
    if b.remaining_pct is None:
        return "unknown"
    if b.exhausted:
        return "critical"
    return "warning" if b.remaining_pct < 25 else "good"


class ErrorBudgetsPanel(Panel):
    template = "dashboards/panels/budgets.html"

    def __init__(self, key: str = "error-budgets", title: str = "Error budgets", *, wide=False):
        self.key, self.title, self.wide = key, title, wide
        self.description = (
            "Budget left per SLO over its own window (not the range above); a service whose "
            "budget is spent is in reliability freeze."
        )

    def query(self, tr: TimeRange) -> Budgets:
        slos = slo_list(enabled_only=True)
        statuses = slo_statuses(slos)
        rows = [statuses[s.pk] for s in slos]
        return Budgets(rows, frozen_services(rows))

    def table(self, data: Budgets, tr: TimeRange) -> Table:
        return Table(
            columns=[
                "SLO",
                "service",
                "objective (%)",
                "SLI (%)",
                "budget remaining (%)",
                "burn rate 1 h",
                "state",
                "reliability freeze",
            ],
            rows=[
                [
                    s.slo.name,
                    s.slo.service.name,
                    s.slo.objective_pct,
                    None if s.budget.sli_pct is None else round(s.budget.sli_pct, 4),
                    None if s.budget.remaining_pct is None else round(s.budget.remaining_pct, 2),
                    None
                    if s.budget.current_burn_rate is None
                    else round(s.budget.current_burn_rate, 3),
                    budget_state(s),
                    s.slo.service.name in data.frozen,
                ]
                for s in data.rows
            ],
        )

    def context(self, data: Budgets, tr: TimeRange) -> dict:
        return {"states": {s.slo.pk: budget_state(s) for s in data.rows}}


@dataclass
class SloReportRow:
    status: SloStatus
    incidents: list[IncidentShare]


class SloReportPanel(Panel):
    """The SLO table of scheduled reports and the SLA export: objective, SLI, budget left and
    the incidents that consumed it (each with its share), over each SLO's own window."""

    key = "slos"
    title = "SLOs and error budgets"
    description = "Each SLO over its own window; incidents with the share of the budget they used."
    template = "dashboards/panels/_table.html"

    def query(self, tr: TimeRange) -> list[SloReportRow]:
        slos = slo_list(enabled_only=True)
        statuses = slo_statuses(slos)
        return [SloReportRow(statuses[s.pk], budget_incidents(statuses[s.pk])) for s in slos]

    def table(self, data: list[SloReportRow], tr: TimeRange) -> Table:
        rows = []
        for r in data:
            b = r.status.budget
            minutes = b.unit == "seconds"
            rows.append(
                [
                    r.status.slo.name,
                    r.status.slo.service.name,
                    r.status.slo.objective_pct,
                    r.status.slo.window_text,
                    None if b.sli_pct is None else round(b.sli_pct, 4),
                    None if b.remaining_pct is None else round(b.remaining_pct, 2),
                    round(b.remaining / 60 if minutes else b.remaining, 1),
                    "minutes" if minutes else "requests",
                    "exhausted" if b.exhausted else ("no data" if not b.has_data else "ok"),
                    incidents_text(r.incidents),
                ]
            )
        return Table(
            [
                "SLO",
                "service",
                "objective %",
                "window",
                "SLI %",
                "budget remaining %",
                "budget remaining",
                "unit",
                "budget",
                "incidents that consumed it",
            ],
            rows,
        )


def incidents_text(shares: list[IncidentShare]) -> str:
    return "; ".join(
        f"#{s.incident.pk} {s.incident.title}"
        + (f" ({s.share_pct:.1f}%)" if s.share_pct is not None else "")
        for s in shares
        if s.bad > 0
    )


SLO_REPORT_PANEL = SloReportPanel()
