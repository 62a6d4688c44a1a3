"""Development panels: latency and error rates per route, error rates over time, slowest
queries, deployments and DORA figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import plotly.graph_objects as go

from collectors.selectors import window_values
from dashboards import selectors, sources
from dashboards.panels.base import Line, Panel, Table, line_figure, lines_table
from dashboards.panels.charts import LinesData
from dashboards.panels.feeds import Rows, RowsPanel
from dashboards.timerange import TimeRange

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
        return f"{self.method} {self.route}".strip()


def route_stats(tr: TimeRange) -> list[RouteStats]:
    stats: dict[tuple, RouteStats] = {}

    def get(labels: dict) -> RouteStats:
        key = _route(labels)
        return stats.setdefault(key, RouteStats(*key))

    metric = "http_request_duration_ms"
    for agg in ("p50", "p95", "p99"):
        for labels, v in window_values(metric=metric, start=tr.start, end=tr.end, agg=agg):
            setattr(get(labels), agg, v)
    prev = tr.previous()
    for labels, v in window_values(metric=metric, start=prev.start, end=prev.end, agg="p95"):
        if _route(labels) in stats:
            stats[_route(labels)].p95_previous = v
    classes: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, v in window_values(metric="http_requests", start=tr.start, end=tr.end, agg="sum"):
        classes[_route(labels)][labels.get("status_class", "other")] += v
    for key, by_class in classes.items():
        s = stats.setdefault(key, RouteStats(*key))
        total = sum(by_class.values())
        s.requests = total
        if total:
            s.rate_4xx = 100 * by_class.get("4xx", 0) / total
            s.rate_5xx = 100 * by_class.get("5xx", 0) / total
    return sorted(stats.values(), key=lambda s: -s.requests)


@dataclass
class RouteData:
    routes: list[RouteStats]
    lines: list[Line]
    previous: list[Line]


class RouteLatencyPanel(Panel):
    key = "route-latency"
    title = "Latency and errors per route"
    description = "p50/p95/p99 and 4xx/5xx rates per route over the range; p95 over time for the busiest routes."
    template = "dashboards/panels/routes.html"
    wide = True

    def query(self, tr: TimeRange) -> RouteData:
        routes = route_stats(tr)
        lines, previous = [], []
        for r in routes[:TOP_ROUTES]:
            labels = {"service": r.service, "method": r.method, "route": r.route}
            for period, out in ((tr, lines), (tr.previous(), previous)):
                got = selectors.lines(
                    "http_request_duration_ms",
                    period,
                    labels=labels,
                    agg="p95",
                    combine="max",
                    name=f"{r.name} p95",
                    step=tr.step,
                )
                out.extend(got)
        return RouteData(routes, lines, previous)

    def figure(self, data: RouteData, tr: TimeRange) -> go.Figure:
        return line_figure(
            data.lines, data.previous, tr, unit="ms", thresholds=[(1000, "p95 alert 1 s")]
        )

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

    def figure(self, data: LinesData, tr: TimeRange) -> go.Figure:
        return line_figure(
            data.lines, data.previous, tr, unit="%", thresholds=[(1.0, "KPI 1%"), (5.0, "alert 5%")]
        )

    def table(self, data: LinesData, tr: TimeRange) -> Table:
        return lines_table(data.lines, data.previous, tr, "%")

    def context(self, data: LinesData, tr: TimeRange) -> dict:
        return {"empty": not data.lines}


class SlowQueriesPanel(RowsPanel):
    key = "slow-queries"
    title = "Slowest queries"
    description = "From the Postgres probe (pg_stat_statements), slowest mean time first."
    empty_text = "The Postgres probe has reported no statements yet."

    def query(self, tr: TimeRange) -> Rows:
        columns = ["service", "query", "calls", "mean ms", "total ms"]
        found = sources.slowest_queries(limit=10)
        if found is None:
            return Rows(
                Table(columns),
                False,
                "No slow-query data: the collectors app does not report statements yet.",
            )
        rows = [
            [
                q.get("service", ""),
                q.get("query", ""),
                q.get("calls"),
                q.get("mean_ms"),
                q.get("total_ms"),
            ]
            for q in found
        ]
        return Rows(Table(columns, rows))


class DeploymentsPanel(RowsPanel):
    key = "deployments"
    title = "Deployments and DORA"
    description = "Deploy frequency, lead time, change failure rate (target < 5%) and MTTR."
    empty_text = "No deployments were recorded in this range."

    def query(self, tr: TimeRange) -> Rows:
        columns = ["deployed", "service", "version", "status", "lead time h", "caused failure"]
        deploys = sources.deployments_in_range(start=tr.start, end=tr.end)
        dora = sources.dora_stats(start=tr.start, end=tr.end)
        if deploys is None or dora is None:
            return Rows(
                Table(columns),
                False,
                "No deployment data yet: nothing records deployments, so there are no DORA figures to show.",
            )
        rows = []
        for d in deploys:
            get = d.get if isinstance(d, dict) else lambda k, _d=d: getattr(_d, k, None)
            rows.append(
                [
                    get("deployed_at"),
                    get("service"),
                    get("version"),
                    get("status"),
                    get("lead_time_hours"),
                    "yes" if get("caused_failure") else "no",
                ]
            )
        summary = []
        for key, label, unit in (
            ("deploys_per_week", "deploys/week", ""),
            ("lead_time_hours", "lead time", "h"),
            ("change_failure_pct", "change failure", "%"),
            ("mttr_hours", "MTTR", "h"),
        ):
            v = dora.get(key)
            summary.append((label, "—" if v is None else f"{v:,.1f}{unit}"))
        return Rows(Table(columns, rows), summary=summary)
