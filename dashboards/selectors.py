"""Reads the dashboards make from the metric store, shaped for panels.

Thin helpers over ``collectors.selectors``: lines for charts (grouped or combined across
series), one number per period, and the business KPIs with their previous-period values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from collectors.selectors import merged_quantiles, series_query, window_values
from dashboards.panels.base import Line
from dashboards.timerange import TimeRange

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
    result = series_query(
        metric=metric, labels=labels, start=tr.start, end=tr.end, step=step or tr.step, agg=agg
    )
    grouped: dict[str, list[list[tuple[datetime, float]]]] = defaultdict(list)
    for s in result.series:
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
    values = [
        v for _, v in window_values(metric=metric, labels=labels, start=start, end=end, agg=agg)
    ]
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
    for lbls, v in window_values(metric=metric, labels=labels, start=start, end=end, agg=agg):
        grouped[lbls.get(label, "") or "(none)"].append(v)
    return {k: COMBINERS[combine](vs) for k, vs in grouped.items()}


def request_totals(
    start: datetime, end: datetime, *, labels: dict | None = None
) -> dict[str, float]:
    """Requests per status class (2xx/4xx/5xx) over [start, end)."""
    totals: dict[str, float] = defaultdict(float)
    for lbls, v in window_values(
        metric="http_requests", labels=labels, start=start, end=end, agg="sum"
    ):
        totals[lbls.get("status_class", "other")] += v
    return dict(totals)


def error_rate_pct(
    start: datetime, end: datetime, *, labels: dict | None = None, status_class: str = "5xx"
) -> float | None:
    totals = request_totals(start, end, labels=labels)
    total = sum(totals.values())
    if not total:
        return None
    return 100.0 * totals.get(status_class, 0.0) / total


def latency_ms(
    start: datetime, end: datetime, *, labels: dict | None = None
) -> dict[str, float | None]:
    """p50/p95/p99 of all matching request histograms merged (a service, a route, or all)."""
    q = merged_quantiles(metric="http_request_duration_ms", labels=labels, start=start, end=end)
    return {"p50": q.get(0.5), "p95": q.get(0.95), "p99": q.get(0.99)}


def uptime_pct(start: datetime, end: datetime, *, labels: dict | None = None) -> float | None:
    """Share of successful probes over the period, all probes weighted equally."""
    value = scalar("probe_up", start, end, labels=labels, agg="avg", combine="avg")
    return None if value is None else 100.0 * value
