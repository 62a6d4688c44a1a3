"""Executive panels: KPI tiles with previous-period deltas, risk indicators, month over month."""

from __future__ import annotations

from datetime import timedelta

from dashboards import kpis
from dashboards.panels import figures as fg
from dashboards.panels.base import Panel, Table, base_layout
from dashboards.timerange import TimeRange

MONTH = timedelta(days=30)


class KpiTilesPanel(Panel):
    template = "dashboards/panels/kpis.html"
    wide = True

    def __init__(self, key: str, title: str, defs: list[kpis.KpiDef], description: str = ""):
        self.key, self.title, self.defs, self.description = key, title, defs, description

    def query(self, tr: TimeRange) -> list[kpis.Kpi]:
        return kpis.compute(self.defs, tr.start, tr.end, tr.previous().start)

    def table(self, data: list[kpis.Kpi], tr: TimeRange) -> Table:
        rows = [
            [
                k.label,
                k.value,
                k.previous,
                k.delta,
                k.delta_pct,
                k.definition.unit,
                k.definition.target_text,
                k.status,
                k.reason,
            ]
            for k in data
        ]
        return Table(
            [
                "kpi",
                "value",
                "previous period",
                "change",
                "change %",
                "unit",
                "target",
                "status",
                "flag",
            ],
            rows,
        )


class RiskPanel(KpiTilesPanel):
    """The KPIs that miss their target or moved the wrong way: what to look at first."""

    template = "dashboards/panels/risks.html"
    wide = False

    def query(self, tr: TimeRange) -> list[kpis.Kpi]:
        found = super().query(tr)
        order = {"critical": 0, "warning": 1}
        return sorted((k for k in found if k.status in order), key=lambda k: order[k.status])


class MonthOverMonthPanel(KpiTilesPanel):
    """The 30 days ending at the range's end against the 30 days before, whatever the range."""

    template = "dashboards/panels/chart.html"
    wide = False

    def query(self, tr: TimeRange) -> list[kpis.Kpi]:
        return kpis.compute(self.defs, tr.end - MONTH, tr.end, tr.end - 2 * MONTH)

    def figure(self, data: list[kpis.Kpi], tr: TimeRange) -> fg.Figure:
        shown = [k for k in data if k.delta_pct is not None]
        fig = fg.Figure(layout=base_layout(unit="% change", hovermode="closest"))
        fig.add_trace(
            fg.Bar(
                x=[k.label for k in shown],
                y=[round(k.delta_pct, 2) for k in shown],
                marker_color=["#1e9e5a" if k.delta_good else "#d33a2c" for k in shown],
                text=[k.delta_display for k in shown],
                hovertext=[f"{k.label}: {k.fmt(k.previous)} → {k.display}" for k in shown],
                hoverinfo="text",
                name="month over month",
            )
        )
        fig.update_layout(showlegend=False)
        return fig

    def context(self, data: list[kpis.Kpi], tr: TimeRange) -> dict:
        return {"empty": not any(k.delta_pct is not None for k in data)}
