"""Development panels: latency and error rates per route, error rates over time, slowest
queries, deployments and DORA figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from collectors.store.batch import HistogramWindow, histogram_quantile_lines, merged
from collectors.store.catalog import class_rate_pct
from dashboards import selectors
from dashboards.panels import figures as fg
from dashboards.panels.base import (
    Alarm,
    Panel,
    Table,
    base_layout,
    line_figure,
    lines_table,
    plot_time,
    plot_times,
)
from dashboards.panels.charts import LinesData
from dashboards.panels.feeds import Rows, RowsPanel
from dashboards.selectors import Line
from dashboards.timerange import TimeRange
from incidents import selectors as incident_selectors

HIST = "http_request_duration_ms"
ROUTE_KEYS = ("service", "method", "route")
TOP_ROUTES = 6


def _route(labels: dict) -> tuple[str, str, str]:
    return tuple(labels.get(k, "") for k in ROUTE_KEYS)  # type: ignore[return-value]


@dataclass
class RouteStats:
    service: str
    method: str
    route: str
    requests: float = 0.0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    p95_previous: float | None = None
    rate_4xx: float | None = None
    rate_5xx: float | None = None

    @property
    def name(self) -> str:
        """Service, method and route: the same route on two services are two lines."""
        return f"{self.service} {self.method} {self.route}".strip()


def route_stats(tr: TimeRange) -> list[RouteStats]:
    """Every route's requests, error rates and p50/p95/p99 (this period) and p95 (previous
    period): the histograms of both periods in one read, the counters in another."""
    stats: dict[tuple, RouteStats] = {}

    def get(labels: dict) -> RouteStats:
        key = _route(labels)
        return stats.setdefault(key, RouteStats(*key))

    prev = tr.previous()
    current, previous = selectors.hist_windows(HIST, [(tr.start, tr.end), (prev.start, prev.end)])
    by_route: dict[tuple, list[HistogramWindow]] = defaultdict(list)
    for labels, w in current:
        by_route[_route(labels)].append(w)
    for key, ws in by_route.items():
        m = merged(ws)
        s = stats.setdefault(key, RouteStats(*key))
        s.p50, s.p95, s.p99 = m.quantile(0.5), m.quantile(0.95), m.quantile(0.99)
    before: dict[tuple, list[HistogramWindow]] = defaultdict(list)
    for labels, w in previous:
        if _route(labels) in stats:
            before[_route(labels)].append(w)
    for key, ws in before.items():
        stats[key].p95_previous = merged(ws).quantile(0.95)
    classes: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, v in selectors.window_values("http_requests", tr.start, tr.end, agg="sum"):
        classes[_route(labels)][labels.get("status_class", "other")] += v
    for key, by_class in classes.items():
        s = stats.setdefault(key, RouteStats(*key))
        s.requests = sum(by_class.values())
        s.rate_4xx = class_rate_pct(by_class, "4xx")
        s.rate_5xx = class_rate_pct(by_class, "5xx")
    # The page's service and route pickers keep only the routes they name.
    service, route = tr.filter("service"), tr.filter("route")
    picked = [
        s
        for s in stats.values()
        if (not service or s.service == service) and (not route or s.route == route)
    ]
    return sorted(picked, key=lambda s: -s.requests)


def histogram_step(tr: TimeRange) -> int:
    """Seconds per point of a percentile line. From a day up, whole hours: those are read from
    the 1-hour histograms (24–720 rows per route instead of 1,440–43,200 minute rows), and a
    p95 over an hour of requests is steadier than one over ten minutes."""
    if tr.length < timedelta(hours=24):
        return max(60, tr.step)
    if tr.length < timedelta(days=14):
        return max(3600, -(-tr.step // 3600) * 3600)
    # Longer ranges: 6-hour points or coarser (~120 per line); finer ones cost read time
    # without showing more on a 1280 px chart.
    return max(21600, -(-tr.step // 21600) * 21600)


@dataclass
class RouteData:
    routes: list[RouteStats]
    lines: list[Line]
    previous: list[Line]
    deploys: list = field(default_factory=list)  # production deployments, marked on the chart


def mark_deployments(fig: fg.Figure, deploys: list) -> None:
    """A dotted vertical line at each deployment (red for one that failed, was rolled back or
    caused an incident) and a marker at its foot that names it on hover: a latency step that
    starts at a release is then plain to see."""
    if not deploys:
        return
    times = plot_times(d.started_at for d in deploys)
    shapes = fig.layout.setdefault("shapes", [])
    bad = []
    for d, x in zip(deploys, times, strict=True):
        failure = d.status in ("failed", "rolled_back") or getattr(d, "caused_incident_count", 0)
        bad.append(bool(failure))
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "x0": x,
                "x1": x,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": "#d33a2c" if failure else "#8a93a6", "width": 1, "dash": "dot"},
                "layer": "below",
            }
        )
    fig.add_trace(
        fg.Scatter(
            x=times,
            y=[0] * len(deploys),
            mode="markers",
            name="deployments",
            marker={
                "symbol": "triangle-up",
                "size": 9,
                "color": ["#d33a2c" if b else "#5c6b82" for b in bad],
            },
            hovertext=[deploy_hover(d) for d in deploys],
            hoverinfo="text",
        )
    )


class RouteLatencyPanel(Panel):
    key = "route-latency"
    title = "Latency and errors per route"
    description = (
        "p50/p95/p99 and 4xx/5xx rates per route over the range (p95 of the previous period "
        "beside it); p95 over time for the busiest routes."
    )
    template = "dashboards/panels/routes.html"
    wide = True

    def query(self, tr: TimeRange) -> RouteData:
        routes = route_stats(tr)
        top = {(r.service, r.method, r.route): r for r in routes[:TOP_ROUTES]}
        series = [s for s in selectors.series_of([HIST])[HIST] if _route(s.labels) in top]
        got = histogram_quantile_lines(
            [s.id for s in series], start=tr.start, end=tr.end, step=histogram_step(tr)
        )
        points: dict[tuple, list] = defaultdict(list)
        for s in series:
            points[_route(s.labels)].append(got[s.id][0.95])
        lines = []
        for key, r in top.items():
            if key not in points:
                continue
            pts = (
                points[key][0]
                if len(points[key]) == 1
                else selectors._combine_points(points[key], "max")
            )
            if pts:
                lines.append(Line(f"{r.name} p95", pts))
        deploys = [
            d
            for d in incident_selectors.deployments_in_range(start=tr.start, end=tr.end)
            if d.environment == "production"
        ]
        return RouteData(routes, lines, [], deploys)

    def figure(self, data: RouteData, tr: TimeRange) -> fg.Figure:
        fig = line_figure(
            data.lines,
            data.previous,
            tr,
            unit="ms",
            thresholds=[(1000, "p95 alert 1 s")],
            alarm=Alarm(near=500, bad=1000),
        )
        mark_deployments(fig, data.deploys)
        return fig

    def table(self, data: RouteData, tr: TimeRange) -> Table:
        rows = [
            [
                r.service,
                r.method,
                r.route,
                round(r.requests),
                r.p50,
                r.p95,
                r.p99,
                r.p95_previous,
                r.rate_4xx,
                r.rate_5xx,
            ]
            for r in data.routes
        ]
        return Table(
            [
                "service",
                "method",
                "route",
                "requests",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "p95 ms previous period",
                "4xx %",
                "5xx %",
            ],
            rows,
        )

    def context(self, data: RouteData, tr: TimeRange) -> dict:
        return {"empty": not data.routes, "routes": data.routes}


class ErrorRatePanel(Panel):
    key = "error-rates"
    title = "4xx and 5xx rates"
    description = "Share of all requests per status class; the previous period dashed."

    def _read(self, tr: TimeRange) -> list[Line]:
        by_class: dict[str, dict] = defaultdict(lambda: defaultdict(float))
        total: dict = defaultdict(float)
        for line in selectors.lines(
            "http_requests", tr, agg="sum", by="status_class", combine="sum"
        ):
            for ts, v in line.points:
                by_class[line.name][ts] += v
                total[ts] += v
        out = []
        for cls in ("4xx", "5xx"):
            points = [
                (ts, 100 * by_class[cls].get(ts, 0.0) / n) for ts, n in sorted(total.items()) if n
            ]
            if points:
                out.append(Line(f"{cls} %", points))
        return out

    def query(self, tr: TimeRange) -> LinesData:
        return LinesData(self._read(tr), self._read(tr.previous()))

    def figure(self, data: LinesData, tr: TimeRange) -> fg.Figure:
        return line_figure(
            data.lines,
            data.previous,
            tr,
            unit="%",
            thresholds=[(1.0, "KPI 1%"), (5.0, "alert 5%")],
            alarm=Alarm(near=1.0, bad=5.0),
        )

    def table(self, data: LinesData, tr: TimeRange) -> Table:
        return lines_table(data.lines, data.previous, tr, "%")

    def context(self, data: LinesData, tr: TimeRange) -> dict:
        return {"empty": not data.lines}


class SlowQueriesPanel(RowsPanel):
    key = "slow-queries"
    title = "Slowest queries"
    description = "From the Postgres probes (pg_stat_statements), slowest mean time first."
    empty_text = "No Postgres probe has reported statements yet."

    def query(self, tr: TimeRange) -> Rows:
        columns = ["service", "query", "calls", "mean ms", "total ms"]
        found = selectors.slowest_queries(limit=10)
        rows = [
            [q["service"], q.get("query", ""), q.get("calls"), q.get("mean_ms"), q.get("total_ms")]
            for q in found.rows
        ]
        if not rows and found.notes:
            return Rows(Table(columns), False, "No statements: " + "; ".join(found.notes))
        return Rows(Table(columns, rows))


# How each deployment status is drawn and badged: colour, marker symbol, css status word.
DEPLOY_STYLE = {
    "succeeded": ("#1e9e5a", "circle", "good"),
    "failed": ("#d33a2c", "x", "critical"),
    "rolled_back": ("#e06c1f", "triangle-down", "warning"),
    "in_progress": ("#5c6b82", "circle-open", "unknown"),
}
DEPLOY_COLUMNS = [
    "started",
    "service",
    "environment",
    "version",
    "status",
    "lead time h",
    "incidents caused",
    "deployed by",
]


@dataclass
class DoraTile:
    key: str
    label: str
    display: str
    status: str  # good / warning / critical / unknown (the kpi-tile css classes)
    detail: str
    target_text: str = ""


@dataclass
class DeploymentData:
    available: bool
    deploys: list = field(default_factory=list)
    dora: dict | None = None
    tiles: list[DoraTile] = field(default_factory=list)


def _hours(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f} h"


def dora_tiles(dora: dict) -> list[DoraTile]:
    """The four DORA figures judged against the seed's targets, each with the counts behind it."""
    targets = dora.get("targets") or {}
    freq, cfr = dora.get("deploy_frequency_per_week"), dora.get("change_failure_rate_pct")
    mttr_c = dora.get("mttr_critical_hours")
    freq_goal = targets.get("deploy_frequency_per_week", 1.0)
    cfr_goal = targets.get("change_failure_rate_pct", 5.0)
    mttr_goal = targets.get("mttr_critical_hours", 4.0)
    meets = dora.get("meets") or {}
    if cfr is None:
        cfr_status = "unknown"
    else:
        cfr_status = (
            "good"
            if meets.get("change_failure_rate_pct")
            else "warning"
            if cfr < 3 * cfr_goal
            else "critical"
        )
    days = 7 * (dora.get("weeks") or 0)
    window = f"{days * 24:.0f} h" if days < 2 else f"{days:.0f} days"
    return [
        DoraTile(
            "deploy_frequency",
            "Deploy frequency",
            "—" if freq is None else f"{freq:,.1f}/week",
            "unknown"
            if freq is None
            else "good"
            if meets.get("deploy_frequency_per_week")
            else "warning",
            f"{dora.get('released', 0)} released of {dora.get('deployments', 0)} deployments "
            f"in the last {window}",
            f"≥ {freq_goal:g}/week",
        ),
        DoraTile(
            "lead_time",
            "Lead time for changes",
            _hours(dora.get("lead_time_hours")),
            "unknown" if dora.get("lead_time_hours") is None else "good",
            f"median, commit → live, of {dora.get('lead_time_samples', 0)} deployments",
        ),
        DoraTile(
            "change_failure_rate",
            "Change failure rate",
            "—" if cfr is None else f"{cfr:,.1f}%",
            cfr_status,
            f"{dora.get('change_failures', 0)} of {dora.get('finished', 0)} finished: "
            f"{dora.get('failed', 0)} failed, {dora.get('rolled_back', 0)} rolled back, "
            f"{dora.get('caused_incident', 0)} caused an incident",
            f"< {cfr_goal:g}%",
        ),
        DoraTile(
            "mttr",
            "MTTR (critical)",
            _hours(mttr_c),
            "unknown"
            if mttr_c is None
            else "good"
            if meets.get("mttr_critical_hours")
            else "critical",
            f"{dora.get('critical_incidents_resolved', 0)} critical resolved; all severities "
            f"{_hours(dora.get('mttr_hours'))} over {dora.get('incidents_resolved', 0)}",
            f"< {mttr_goal:g} h",
        ),
    ]


def deploy_hover(d) -> str:
    parts = [f"{d.service} {d.version or d.commit_sha[:10]}", d.status.replace("_", " ")]
    if d.lead_time_hours is not None:
        parts.append(f"lead time {d.lead_time_hours:,.1f} h")
    if getattr(d, "caused_incident_count", 0):
        parts.append(f"caused {d.caused_incident_count} incident(s)")
    return " · ".join(parts)


class DeploymentsPanel(Panel):
    key = "deployments"
    title = "Deployments and DORA"
    description = (
        "Deploy frequency, lead time, change failure rate (target < 5%) and MTTR for critical "
        "incidents (target < 4 h), from the deployments CI records; every deployment on a "
        "timeline."
    )
    template = "dashboards/panels/deployments.html"
    wide = True

    def query(self, tr: TimeRange) -> DeploymentData:
        deploys = list(incident_selectors.deployments_in_range(start=tr.start, end=tr.end))
        dora = incident_selectors.dora_stats(start=tr.start, end=tr.end)
        return DeploymentData(True, deploys, dora, dora_tiles(dora))

    def figure(self, data: DeploymentData, tr: TimeRange) -> fg.Figure | None:
        if not data.deploys:
            return None
        services = sorted({d.service for d in data.deploys})
        fig = fg.Figure(
            layout=base_layout(
                height=110 + 34 * len(services), hovermode="closest", margin=_TIMELINE_MARGIN
            )
        )
        for status, (colour, symbol, _) in DEPLOY_STYLE.items():
            group = [d for d in data.deploys if d.status == status]
            if group:
                fig.add_trace(
                    fg.Scatter(
                        x=plot_times(d.started_at for d in group),
                        y=[d.service for d in group],
                        mode="markers",
                        name=status.replace("_", " "),
                        marker={"color": colour, "symbol": symbol, "size": 10},
                        hovertext=[deploy_hover(d) for d in group],
                        hoverinfo="text+x",
                    )
                )
        caused = [d for d in data.deploys if getattr(d, "caused_incident_count", 0)]
        if caused:
            fig.add_trace(
                fg.Scatter(
                    x=plot_times(d.started_at for d in caused),
                    y=[d.service for d in caused],
                    mode="markers",
                    name="caused an incident",
                    marker={"color": "#d33a2c", "symbol": "circle-open", "size": 18},
                    hovertext=[deploy_hover(d) for d in caused],
                    hoverinfo="text+x",
                )
            )
        fig.update_xaxes(range=[plot_time(tr.start), plot_time(tr.end)])
        fig.update_yaxes(categoryorder="array", categoryarray=services, type="category")
        return fig

    def table(self, data: DeploymentData, tr: TimeRange) -> Table:
        rows = [
            [
                d.started_at,
                d.service,
                d.environment,
                d.version or d.commit_sha[:12],
                d.status,
                d.lead_time_hours,
                getattr(d, "caused_incident_count", 0),
                d.deployed_by,
            ]
            for d in data.deploys
        ]
        return Table(list(DEPLOY_COLUMNS), rows)

    def context(self, data: DeploymentData, tr: TimeRange) -> dict:
        return {
            "available": data.available,
            "tiles": data.tiles,
            "status_css": {k: v[2] for k, v in DEPLOY_STYLE.items()},
        }


_TIMELINE_MARGIN = {"l": 72, "r": 12, "t": 8, "b": 36}
