"""Error budgets on the role dashboards: a tile per SLO (executive) and the budget state with
the reliability freeze (development). SLOs have their own windows, so the range picker does
not change these numbers; the same selector feeds the SLO pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.panels.base import Panel, Table
from dashboards.timerange import TimeRange
from incidents.slo.selectors import SloStatus, frozen_services, slo_list, slo_statuses


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
