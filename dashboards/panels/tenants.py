"""Customer-success panels: per-tenant health, SLA and feature adoption."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from dashboards import selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import Panel, Table, base_layout
from dashboards.timerange import TimeRange

HEALTH_WARNING = 70.0  # below: at risk
HEALTH_CRITICAL = 50.0
SLA_PCT = 99.9
STATUS_COLOURS = {
    "good": "#1e9e5a",
    "warning": "#d9a400",
    "critical": "#d33a2c",
    "unknown": "#8a93a6",
}


@dataclass
class TenantHealth:
    tenant: str
    score: float | None = None
    previous: float | None = None
    uptime_pct: float | None = None
    inbox_pct: float | None = None
    tickets: float | None = None
    resolution_h: float | None = None
    campaigns: float | None = None

    @property
    def status(self) -> str:
        if self.score is None:
            return "unknown"
        if self.score < HEALTH_CRITICAL:
            return "critical"
        return "warning" if self.score < HEALTH_WARNING else "good"


class AccountHealthPanel(Panel):
    key = "account-health"
    title = "Tracked account health"
    description = (
        "Health score per tracked account: each tenant that reports per-tenant health metrics "
        "(at risk below 70, critical below 50) with what drives it. Not every active tenant: "
        "the platform's active-tenant count (tenants_active) is on the operations page."
    )
    template = "dashboards/panels/chart_table.html"
    wide = True

    def query(self, tr: TimeRange) -> list[TenantHealth]:
        rows: dict[str, TenantHealth] = {}

        def get(t: str) -> TenantHealth:
            return rows.setdefault(t, TenantHealth(t))

        prev = tr.previous()
        reads = [
            ("account_health_score", tr, "last", "avg", "score"),
            ("account_health_score", prev, "last", "avg", "previous"),
            ("tenant_uptime_pct", tr, "avg", "avg", "uptime_pct"),
            ("inbox_placement_pct", tr, "avg", "avg", "inbox_pct"),
            ("support_tickets_opened", tr, "sum", "sum", "tickets"),
            ("support_resolution_hours", tr, "avg", "avg", "resolution_h"),
            ("campaigns_created", tr, "sum", "sum", "campaigns"),
        ]
        selectors.prefetch(
            {r[0] for r in reads}, [(tr.start, tr.end), (prev.start, prev.end)]
        )  # one query for every metric of the table
        for metric, period, agg, combine, attr in reads:
            for tenant, v in selectors.per_label(
                metric, period.start, period.end, "tenant", agg=agg, combine=combine
            ).items():
                if attr != "previous" or tenant in rows:
                    setattr(get(tenant), attr, v)
        order = {"critical": 0, "warning": 1, "good": 2, "unknown": 3}
        return sorted(
            rows.values(),
            key=lambda t: (order[t.status], t.score if t.score is not None else 0, t.tenant),
        )

    def figure(self, data: list[TenantHealth], tr: TimeRange) -> fg.Figure:
        shown = [t for t in data if t.score is not None]
        fig = fg.Figure(layout=base_layout(unit="score", hovermode="closest", barmode="overlay"))
        fig.add_trace(
            fg.Bar(
                x=[t.tenant for t in shown],
                y=[t.score for t in shown],
                name="this period",
                marker_color=[STATUS_COLOURS[t.status] for t in shown],
            )
        )
        fig.add_trace(
            fg.Scatter(
                x=[t.tenant for t in shown],
                y=[t.previous for t in shown],
                mode="markers",
                name="previous period",
                marker={"symbol": "line-ew-open", "size": 16, "color": "#12192b"},
            )
        )
        fig.add_hline(
            y=HEALTH_WARNING,
            line={"color": "#d9a400", "width": 1, "dash": "dot"},
            annotation_text="at risk < 70",
        )
        fig.update_yaxes(range=[0, 100])
        return fig

    def table(self, data: list[TenantHealth], tr: TimeRange) -> Table:
        rows = [
            [
                t.tenant,
                t.score,
                t.previous,
                t.status,
                t.uptime_pct,
                t.inbox_pct,
                t.tickets,
                t.resolution_h,
                t.campaigns,
            ]
            for t in data
        ]
        return Table(
            [
                "tenant",
                "health score",
                "previous period",
                "status",
                "uptime %",
                "inbox placement %",
                "tickets opened",
                "resolution h",
                "campaigns created",
            ],
            rows,
        )

    def context(self, data: list[TenantHealth], tr: TimeRange) -> dict:
        return {"empty": not data}


@dataclass
class SlaRow:
    tenant: str
    uptime_pct: float | None
    previous_pct: float | None

    @property
    def met(self) -> bool | None:
        return None if self.uptime_pct is None else self.uptime_pct >= SLA_PCT


class TenantSlaPanel(Panel):
    key = "tenant-sla"
    title = "SLA per customer"
    description = "Uptime each tenant saw against the 99.9% SLA; breaches first."
    template = "dashboards/panels/sla.html"

    def query(self, tr: TimeRange) -> list[SlaRow]:
        prev = tr.previous()
        cur = selectors.per_label("tenant_uptime_pct", tr.start, tr.end, "tenant", agg="avg")
        before = selectors.per_label("tenant_uptime_pct", prev.start, prev.end, "tenant", agg="avg")
        rows = [SlaRow(t, v, before.get(t)) for t, v in cur.items()]
        return sorted(
            rows, key=lambda r: (r.uptime_pct if r.uptime_pct is not None else 101, r.tenant)
        )

    def table(self, data: list[SlaRow], tr: TimeRange) -> Table:
        allowed_min = tr.length.total_seconds() / 60 * (100 - SLA_PCT) / 100
        rows = []
        for r in data:
            down_min = (
                None
                if r.uptime_pct is None
                else tr.length.total_seconds() / 60 * (100 - r.uptime_pct) / 100
            )
            rows.append(
                [
                    r.tenant,
                    r.uptime_pct,
                    r.previous_pct,
                    SLA_PCT,
                    "met" if r.met else "breached",
                    None if down_min is None else round(down_min, 1),
                    round(allowed_min, 1),
                ]
            )
        return Table(
            [
                "tenant",
                "uptime %",
                "previous period %",
                "SLA %",
                "SLA",
                "downtime min",
                "allowed downtime min",
            ],
            rows,
        )

    def context(self, data: list[SlaRow], tr: TimeRange) -> dict:
        return {"empty": not data, "breaches": sum(1 for r in data if r.met is False)}


@dataclass
class AdoptionData:
    tenants: int
    current: dict[str, int]
    previous: dict[str, int]


class FeatureAdoptionPanel(Panel):
    key = "feature-adoption"
    title = "Feature adoption"
    description = "Share of tenants that used each feature in the range (previous period outlined)."

    def _adopters(self, start, end) -> dict[str, set[str]]:
        users: dict[str, set[str]] = defaultdict(set)
        for labels, v in selectors.window_values("feature_usage", start, end, agg="sum"):
            if v > 0:
                users[labels.get("feature", "(none)")].add(labels.get("tenant", ""))
        return users

    def query(self, tr: TimeRange) -> AdoptionData:
        prev = tr.previous()
        cur, before = self._adopters(tr.start, tr.end), self._adopters(prev.start, prev.end)
        tenants = {
            s.get("tenant")
            for s, _ in selectors.window_values(
                "account_health_score", tr.start, tr.end, agg="last"
            )
        }
        tenants |= {t for ts in cur.values() for t in ts}
        tenants.discard(None)
        return AdoptionData(
            len(tenants),
            {k: len(v) for k, v in cur.items()},
            {k: len(v) for k, v in before.items()},
        )

    def _pct(self, n: int | None, data: AdoptionData) -> float | None:
        return None if n is None or not data.tenants else round(100 * n / data.tenants, 1)

    def figure(self, data: AdoptionData, tr: TimeRange) -> fg.Figure:
        names = sorted(data.current, key=lambda k: -data.current[k])
        fig = fg.Figure(
            layout=base_layout(unit="% of tenants", hovermode="closest", barmode="group")
        )
        fig.add_trace(
            fg.Bar(
                x=names,
                y=[self._pct(data.current[n], data) for n in names],
                name="this period",
                marker_color="#2f6fd6",
            )
        )
        fig.add_trace(
            fg.Bar(
                x=names,
                y=[self._pct(data.previous.get(n), data) for n in names],
                name="previous period",
                marker={"color": "rgba(47,111,214,0.35)", "line": {"color": "#2f6fd6", "width": 1}},
            )
        )
        fig.update_yaxes(range=[0, 100])
        return fig

    def table(self, data: AdoptionData, tr: TimeRange) -> Table:
        rows = [
            [
                f,
                n,
                self._pct(n, data),
                data.previous.get(f),
                self._pct(data.previous.get(f), data),
                data.tenants,
            ]
            for f, n in sorted(data.current.items(), key=lambda kv: -kv[1])
        ]
        return Table(
            [
                "feature",
                "tenants using",
                "adoption %",
                "tenants using (previous)",
                "adoption % (previous)",
                "tenants",
            ],
            rows,
        )

    def context(self, data: AdoptionData, tr: TimeRange) -> dict:
        return {"empty": not data.current}
