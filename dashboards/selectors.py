"""Reads the dashboards make from the metric store, shaped for panels.

Lines for charts come from ``collectors.store.query.series_query`` (grouped or combined across
series). Numbers over a period (KPIs, per-tenant and per-route figures) come from the batched
reads in ``collectors.store.batch``: one query answers every series of a metric for several
periods, and the answer is memoised for the page render (``dashboards.memo``), so panels that
show the same number never read it twice. ``prefetch`` reads several metrics in one query.

The data shapes panels draw (``Line``) are defined here, not in the drawing layer. Records of
the other apps (alerts, incidents, reputation, services) are read straight from those apps'
selectors, imported at the top of the panel that shows them; the slowest statements (from the
Postgres probes' last results) are shaped here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.monitoring.health import platform_uptime_pct
from collectors.monitoring.selectors import probes_list
from collectors.store import batch
from collectors.store.batch import HistogramWindow, SeriesInfo, WindowStats
from collectors.store.catalog import class_rate_pct, metric_labels
from collectors.store.query import series_query
from dashboards import memo
from dashboards.timerange import TimeRange


@dataclass
class Line:
    """One named series of (time, value) points: what a chart draws and a table lists."""

    name: str
    points: list[tuple[datetime, float]]


COMBINERS = {
    "sum": sum,
    "avg": lambda vs: sum(vs) / len(vs),
    "max": max,
    "min": min,
}


def _combine_points(
    groups: Iterable[list[tuple[datetime, float]]], how: str
) -> list[tuple[datetime, float]]:
    by_ts: dict[datetime, list[float]] = defaultdict(list)
    for points in groups:
        for ts, v in points:
            by_ts[ts].append(v)
    fn = COMBINERS[how]
    return [(ts, fn(vs)) for ts, vs in sorted(by_ts.items())]


# Aggregations that add up over a bucket: a bucket the range covers only in part reads low.
ADDITIVE = frozenset({"sum", "count", "rate"})
# (agg, combine) pairs where combining per-series values equals aggregating the pooled samples
# of the series: the store's ``by`` grouping gives the same numbers.
POOLED = frozenset(
    {("sum", "sum"), ("count", "sum"), ("rate", "sum"), ("max", "max"), ("min", "min")}
)


def complete_buckets(
    points: list[tuple[datetime, float]], tr: TimeRange, step: int
) -> list[tuple[datetime, float]]:
    """The points whose whole bucket [ts, ts + step) lies inside the range: the bucket still
    filling at the end (or cut by the start) would draw a cliff that looks like an outage."""
    span = timedelta(seconds=step)
    return [(ts, v) for ts, v in points if ts >= tr.start and ts + span <= tr.end]


def lines(
    metric: str,
    tr: TimeRange,
    *,
    labels: dict | None = None,
    agg: str = "avg",
    by: str | None = None,
    combine: str | None = "sum",
    name: str | None = None,
    scale: float = 1.0,
    step: int | None = None,
) -> list[Line]:
    """Chart lines for ``metric`` over ``tr``.

    ``by``: one line per value of that label (series sharing it are combined with ``combine``);
    without ``by``, all series become one line named ``name`` — or, with ``combine=None``, one
    line per series named by its labels. ``scale`` multiplies values (per-second rate × 60 =
    per minute).
    """
    step = step or tr.step
    picked = tr.filters_for(metric_labels(metric))
    if picked:
        labels = {**(labels or {}), **picked}
    # Where combining the series is the same operation as aggregating each one (a sum of
    # sums, the max of maxima), the store combines them in its query: one row per bucket
    # and group comes back instead of one per bucket and series.
    pooled = combine is not None and (agg, combine) in POOLED
    result = series_query(
        metric=metric,
        labels=labels,
        start=tr.start,
        end=tr.end,
        step=step,
        agg=agg,
        by=([by] if by else []) if pooled else None,
    )
    grouped: dict[str, list[list[tuple[datetime, float]]]] = defaultdict(list)
    for s in result.series:
        if agg in ADDITIVE:
            s.points = complete_buckets(s.points, tr, step)
        if not s.points:
            continue
        if by:
            key = s.labels.get(by, "") or "(none)"
        elif combine:
            key = name or metric
        else:
            key = ", ".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or name or metric
        grouped[key].append(s.points)
    out = []
    for key in sorted(grouped):
        points = (
            grouped[key][0]
            if len(grouped[key]) == 1
            else _combine_points(grouped[key], combine or "avg")
        )
        out.append(Line(key, [(ts, v * scale) for ts, v in points]))
    return out


Period = tuple[datetime, datetime]
HIST = "http_request_duration_ms"


def _contains(labels: dict, wanted: dict | None) -> bool:
    return not wanted or all(labels.get(k) == v for k, v in wanted.items())


def series_of(names: Iterable[str]) -> dict[str, list[SeriesInfo]]:
    """Series per metric name; names not yet looked up in this render are found in one query."""
    names = list(dict.fromkeys(names))
    missing = [n for n in names if memo.lookup(("series", n)) is None]
    if missing:
        found = batch.find_series(missing)
        for n in missing:
            memo.store(("series", n), found[n])
    else:
        found = {}
    return {n: memo.lookup(("series", n)) or found.get(n, []) for n in names}


def prefetch(metrics: Iterable[str], periods: Sequence[Period]) -> None:
    """Read the window stats of every series of ``metrics`` for ``periods`` in one query."""
    metrics = list(dict.fromkeys(metrics))
    if memo.current() is None or not metrics:
        return
    wanted = [
        (m, p) for m in metrics for p in periods if memo.lookup(("win", m, p[0], p[1])) is None
    ]
    if not wanted:
        return
    series = series_of(metrics)
    ids = [s.id for m in {m for m, _ in wanted} for s in series[m] if s.kind != "histogram"]
    todo = list(dict.fromkeys(p for _, p in wanted))
    stats = batch.window_stats(ids, todo)
    for m, p in wanted:
        i = todo.index(p)
        memo.store(
            ("win", m, p[0], p[1]),
            [(s.labels, stats[(s.id, i)]) for s in series[m] if (s.id, i) in stats],
        )


def windows(metric: str, start: datetime, end: datetime) -> list[tuple[dict, WindowStats]]:
    """(labels, rollup stats over [start, end)) for every series of ``metric`` with data."""
    key = ("win", metric, start, end)
    found = memo.lookup(key)
    if found is None:
        series = series_of([metric])[metric]
        stats = batch.window_stats([s.id for s in series if s.kind != "histogram"], [(start, end)])
        found = [(s.labels, stats[(s.id, 0)]) for s in series if (s.id, 0) in stats]
        memo.store(key, found)
    return found


def window_values(
    metric: str, start: datetime, end: datetime, *, labels: dict | None = None, agg: str = "avg"
) -> list[tuple[dict, float]]:
    """One ``agg`` per matching series over [start, end), like collectors' window_values."""
    seconds = (end - start).total_seconds()
    out = []
    for lbls, stats in windows(metric, start, end):
        if _contains(lbls, labels):
            v = stats.value(agg, seconds)
            if v is not None:
                out.append((lbls, v))
    return out


def hist_windows(
    metric: str, periods: Sequence[Period]
) -> list[list[tuple[dict, HistogramWindow]]]:
    """Per period: (labels, merged latency buckets) for every histogram series of ``metric``;
    every period not yet read in this render is read in one query."""
    missing = [p for p in periods if memo.lookup(("hist", metric, p[0], p[1])) is None]
    fetched: dict[Period, list] = {}
    if missing:
        series = series_of([metric])[metric]
        got = batch.histogram_windows([s.id for s in series], missing)
        for i, p in enumerate(missing):
            fetched[p] = [(s.labels, got[(s.id, i)]) for s in series if (s.id, i) in got]
            memo.store(("hist", metric, p[0], p[1]), fetched[p])
    return [memo.lookup(("hist", metric, p[0], p[1])) or fetched.get(p, []) for p in periods]


def scalar(
    metric: str,
    start: datetime,
    end: datetime,
    *,
    labels: dict | None = None,
    agg: str = "last",
    combine: str = "avg",
) -> float | None:
    """One number for [start, end): ``agg`` per series, then ``combine`` across series."""
    values = [v for _, v in window_values(metric, start, end, labels=labels, agg=agg)]
    if not values:
        return None
    return COMBINERS[combine](values)


def per_label(
    metric: str,
    start: datetime,
    end: datetime,
    label: str,
    *,
    labels: dict | None = None,
    agg: str = "last",
    combine: str = "avg",
) -> dict[str, float]:
    """One number per value of ``label`` (e.g. per tenant) over [start, end)."""
    grouped: dict[str, list[float]] = defaultdict(list)
    for lbls, v in window_values(metric, start, end, labels=labels, agg=agg):
        grouped[lbls.get(label, "") or "(none)"].append(v)
    return {k: COMBINERS[combine](vs) for k, vs in grouped.items()}


def request_totals(
    start: datetime, end: datetime, *, labels: dict | None = None
) -> dict[str, float]:
    """Requests per status class (2xx/4xx/5xx) over [start, end)."""
    totals: dict[str, float] = defaultdict(float)
    for lbls, v in window_values("http_requests", start, end, labels=labels, agg="sum"):
        totals[lbls.get("status_class", "other")] += v
    return dict(totals)


def error_rate_pct(
    start: datetime, end: datetime, *, labels: dict | None = None, status_class: str = "5xx"
) -> float | None:
    return class_rate_pct(request_totals(start, end, labels=labels), status_class)


def latency_window(
    start: datetime, end: datetime, *, labels: dict | None = None
) -> HistogramWindow:
    """All matching request histograms merged (a service, a route, or all) over [start, end)."""
    (found,) = hist_windows(HIST, [(start, end)])
    return batch.merged(w for lbls, w in found if _contains(lbls, labels))


def latency_ms(
    start: datetime, end: datetime, *, labels: dict | None = None
) -> dict[str, float | None]:
    """p50/p95/p99 of all matching request histograms merged, from one read."""
    w = latency_window(start, end, labels=labels)
    return {"p50": w.quantile(0.5), "p95": w.quantile(0.95), "p99": w.quantile(0.99)}


def uptime_pct(start: datetime, end: datetime) -> float | None:
    """The platform's uptime over [start, end) from the services' status history (maintenance
    excluded): the figure every service card and SLA row is made of (collectors.monitoring.health)."""
    return memo.cached(("uptime", start, end), lambda: platform_uptime_pct(start, end))


@dataclass
class SlowQueries:
    rows: list[dict]  # service, probe, query, calls, mean_ms, total_ms; slowest mean first
    notes: list[str]  # why a Postgres probe reported no statements


def slowest_queries(*, limit: int = 10) -> SlowQueries:
    """The slowest statements every enabled Postgres probe saw in its last run."""
    rows, notes = [], []
    for probe in probes_list(kind="postgres", enabled=True):
        found = (probe.last_details or {}).get("slowest_statements")
        where = f"{probe.service.name}/{probe.name}"
        if isinstance(found, list):
            rows += [{"service": probe.service.name, "probe": probe.name, **q} for q in found]
        elif found:
            notes.append(f"{where}: {found}")
        elif probe.last_run_at is None:
            notes.append(f"{where}: has not run yet")
    rows.sort(key=lambda q: -(q.get("mean_ms") or 0))
    return SlowQueries(rows[:limit], notes)
