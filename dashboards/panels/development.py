"""Development panels: latency and error rates per route, error rates over time, slowest
queries, deployments and DORA figures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from collectors.selectors_batch import HistogramWindow, histogram_quantile_lines, merged
from dashboards import selectors, sources
from dashboards.panels import figures as fg
from dashboards.panels.base import Line, Panel, Table, line_figure, lines_table
from dashboards.panels.charts import LinesData
from dashboards.panels.feeds import Rows, RowsPanel
from dashboards.timerange import TimeRange

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
        return f"{self.method} {self.route}".strip()


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
        total = sum(by_class.values())
        s.requests = total
        if total:
            s.rate_4xx = 100 * by_class.get("4xx", 0) / total
            s.rate_5xx = 100 * by_class.get("5xx", 0) / total
    return sorted(stats.values(), key=lambda s: -s.requests)


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
        return RouteData(routes, lines, [])

    def figure(self, data: RouteData, tr: TimeRange) -> fg.Figure:
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

    def figure(self, data: LinesData, tr: TimeRange) -> fg.Figure:
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
    description = "From the Postgres probes (pg_stat_statements), slowest mean time first."
    empty_text = "No Postgres probe has reported statements yet."

    def query(self, tr: TimeRange) -> Rows:
        columns = ["service", "query", "calls", "mean ms", "total ms"]
        found = sources.slowest_queries(limit=10)
        rows = [
            [q["service"], q.get("query", ""), q.get("calls"), q.get("mean_ms"), q.get("total_ms")]
            for q in found.rows
        ]
        if not rows and found.notes:
            return Rows(Table(columns), False, "No statements: " + "; ".join(found.notes))
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
