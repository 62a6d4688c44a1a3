"""The read path of the metric store.

``series_query`` picks the table from the step and the range: 1-hour rollups for steps of an
hour or more, 1-minute rollups for steps of a minute or more, raw samples below that, and a
coarser table whenever the finer one's retention does not reach back to ``start``. A 30-day
chart therefore reads ~720 pre-aggregated rows per series, never raw samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection

from collectors.models import Series
from collectors.store import histogram
from collectors.store.errors import QueryError

AGGREGATIONS = ("avg", "min", "max", "sum", "last", "count", "rate", "p50", "p95", "p99")
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
MAX_SERIES = 500
MAX_POINTS = 11_000

_ROLLUP_EXPR = {
    "avg": "sum(sum) / NULLIF(sum(count), 0)",
    "min": "min(min)",
    "max": "max(max)",
    "sum": "sum(sum)",
    "count": "sum(count)::float8",
    "last": "(max(ARRAY[extract(epoch FROM bucket)::float8, last]))[2]",
}
_RAW_EXPR = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "count": "count(*)::float8",
    "last": "(max(ARRAY[extract(epoch FROM ts)::float8, value]))[2]",
    **{p: f"percentile_cont({q}) WITHIN GROUP (ORDER BY value)" for p, q in PERCENTILES.items()},
}
_TABLES = {
    "raw": ("collectors_sample", "ts"),
    "1m": ("collectors_rollup_1m", "bucket"),
    "1h": ("collectors_rollup_1h", "bucket"),
    "hist_1m": ("collectors_histogram_1m", "bucket"),
    "hist_1h": ("collectors_histogram_1h", "bucket"),
}


@dataclass
class SeriesPoints:
    series_id: int
    labels: dict
    unit: str
    points: list[tuple[datetime, float]] = field(default_factory=list)


@dataclass
class QueryResult:
    metric: str
    agg: str
    step: int
    resolution: str
    start: datetime
    end: datetime
    series: list[SeriesPoints]


@dataclass
class LatestValue:
    series_id: int
    labels: dict
    ts: datetime
    value: float


def list_series(
    *, name: str | None = None, labels: dict | None = None, limit: int = MAX_SERIES + 1
) -> list[Series]:
    qs = Series.objects.all()
    if name:
        qs = qs.filter(name=name)
    if labels:
        qs = qs.filter(labels__contains=labels)
    return list(qs.order_by("id")[:limit])


def _matching(metric: str, labels: dict | None) -> list[Series]:
    """Series of ``metric`` whose labels contain ``labels`` (raw SQL: this runs on every query)."""
    sql = "SELECT id, name, labels::text, unit, kind FROM collectors_series WHERE name = %s"
    params: list = [metric]
    if labels:
        sql += " AND labels @> %s::jsonb"
        params.append(orjson.dumps(labels).decode())
    sql += f" ORDER BY id LIMIT {MAX_SERIES + 1}"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if len(rows) > MAX_SERIES:
        raise QueryError(f"more than {MAX_SERIES} series match; add label filters")
    return [
        Series(id=i, name=n, labels=orjson.loads(lbl), unit=u, kind=k) for i, n, lbl, u, k in rows
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def _resolution(step: int, start: datetime, now: datetime) -> str:
    raw_from = now - timedelta(days=settings.RETENTION_RAW_DAYS)
    minute_from = now - timedelta(days=settings.RETENTION_1M_DAYS)
    if step < 60 and start >= raw_from:
        return "raw"
    if step < 3600 and start >= minute_from:
        return "1m"
    return "1h"


def _epoch_bucket(col: str, step: int) -> str:
    # floor(): a cast to int8 rounds, which would put a sample at 23:59:59.7 into the next
    # minute (and the next day) instead of the bucket it belongs to.
    return f"(floor(extract(epoch FROM {col}))::int8 / {step}) * {step}"


def _check(metric: str, agg: str, start: datetime, end: datetime, step: int) -> None:
    if agg not in AGGREGATIONS:
        raise QueryError(f"unknown aggregation {agg!r}; use one of {', '.join(AGGREGATIONS)}")
    if not metric:
        raise QueryError("metric is required")
    if step <= 0:
        raise QueryError("step must be a positive number of seconds")
    if end <= start:
        raise QueryError("end must be after start")
    if (end - start).total_seconds() / step > MAX_POINTS:
        raise QueryError(
            f"start/end/step would give more than {MAX_POINTS} points per series; raise step"
        )


def series_query(
    *,
    metric: str,
    labels: dict | None = None,
    start: datetime,
    end: datetime,
    step: int,
    agg: str = "avg",
    epoch_seconds: bool = False,
) -> QueryResult:
    """Points per matching series, one per ``step`` seconds, aggregated with ``agg``.

    Points are (datetime, value); with ``epoch_seconds`` they are (unix seconds, value), which
    saves the JSON API a conversion per point."""
    _check(metric, agg, start, end, step)
    step = int(step)
    found = _matching(metric, labels)
    now = _now()
    resolution = _resolution(step, start, now)
    result = QueryResult(
        metric,
        agg,
        step,
        resolution,
        start,
        end,
        [SeriesPoints(s.id, s.labels, s.unit) for s in found],
    )
    if not found:
        return result
    by_id = {s.series_id: s for s in result.series}
    kinds = {s.kind for s in found}
    ids = list(by_id)
    if "histogram" in kinds:
        rows = _histogram_rows(ids, agg, start, end, step, resolution)
        result.resolution = "1h" if resolution == "1h" else "1m"
    elif agg in PERCENTILES:
        if resolution != "raw" and start < now - timedelta(days=settings.RETENTION_RAW_DAYS):
            raise QueryError(
                f"{agg} of a gauge needs raw samples, kept {settings.RETENTION_RAW_DAYS} days; "
                "shorten the range (histogram metrics keep percentiles for longer)"
            )
        rows = _rows("raw", _RAW_EXPR[agg], ids, start, end, step)
        result.resolution = "raw"
    elif agg == "rate":
        rows = _rate_rows(ids, kinds, start, end, step, resolution)
    else:
        expr = _RAW_EXPR[agg] if resolution == "raw" else _ROLLUP_EXPR[agg]
        rows = _rows(resolution, expr, ids, start, end, step)
    for sid, t, value in rows:
        if value is not None:
            by_id[sid].points.append(
                (t if epoch_seconds else datetime.fromtimestamp(t, UTC), float(value))
            )
    return result


def _rows(resolution: str, expr: str, ids: list[int], start, end, step: int):
    table, col = _TABLES[resolution]
    sql = (
        f"SELECT series_id, {_epoch_bucket(col, step)} AS t, {expr} FROM {table} "
        f"WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [ids, start, end])
        return cur.fetchall()


def _rate_rows(ids, kinds, start, end, step: int, resolution: str):
    """Per-second rate. Counter series hold per-interval counts (sum / step); other series
    are treated as cumulative counters (increase of the last value / step, resets count from 0)."""
    if kinds == {"counter"}:
        expr = _RAW_EXPR["sum"] if resolution == "raw" else _ROLLUP_EXPR["sum"]
        return [
            (sid, t, v / step if v is not None else None)
            for sid, t, v in _rows(resolution, expr, ids, start, end, step)
        ]
    expr = _RAW_EXPR["last"] if resolution == "raw" else _ROLLUP_EXPR["last"]
    rows = _rows(resolution, expr, ids, start - timedelta(seconds=step), end, step)
    out, prev = [], {}
    for sid, t, v in rows:
        if sid in prev and v is not None:
            before = prev[sid]
            increase = v - before if v >= before else v
            out.append((sid, t, increase / step))
        prev[sid] = v
    return out


def _histogram_rows(ids, agg, start, end, step: int, resolution: str):
    table, col = _TABLES["hist_1h" if resolution == "1h" else "hist_1m"]
    step = max(step, 60)
    bucket = _epoch_bucket(col, step)
    if agg in PERCENTILES:
        sql = (
            f"SELECT series_id, {bucket} AS t, pm_array_sum(counts) FROM {table} "
            f"WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1, 2 ORDER BY 1, 2"
        )
        with connection.cursor() as cur:
            cur.execute(sql, [ids, start, end])
            q = PERCENTILES[agg]
            return [(sid, t, histogram.quantile(counts, q)) for sid, t, counts in cur.fetchall()]
    exprs = {
        "avg": "sum(sum) / NULLIF(sum(count), 0)",
        "count": "sum(count)::float8",
        "sum": "sum(sum)",
        "rate": f"sum(count)::float8 / {step}",
    }
    if agg not in exprs:
        raise QueryError(
            f"{agg} is not available for a latency histogram; use avg, count, sum, rate, p50, p95 or p99"
        )
    sql = (
        f"SELECT series_id, {bucket} AS t, {exprs[agg]} FROM {table} "
        f"WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1, 2 ORDER BY 1, 2"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [ids, start, end])
        return cur.fetchall()


def latest_values(
    *, metric: str, labels: dict | None = None, max_age: timedelta = timedelta(minutes=10)
) -> list[LatestValue]:
    """The newest raw sample of each matching series, if younger than ``max_age``."""
    found = {s.id: s for s in _matching(metric, labels)}
    if not found:
        return []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (series_id) series_id, ts, value FROM collectors_sample "
            "WHERE series_id = ANY(%s) AND ts >= %s ORDER BY series_id, ts DESC",
            [list(found), _now() - max_age],
        )
        return [LatestValue(sid, found[sid].labels, ts, value) for sid, ts, value in cur.fetchall()]


def window_values(
    *, metric: str, labels: dict | None = None, start: datetime, end: datetime, agg: str = "avg"
) -> list[tuple[dict, float]]:
    """One aggregate per matching series over [start, end) — what alert rules evaluate."""
    step = max(1, int((end - start).total_seconds()))
    _check(metric, agg, start, end, step)
    found = _matching(metric, labels)
    if not found:
        return []
    ids = [s.id for s in found]
    labels_of = {s.id: s.labels for s in found}
    kinds = {s.kind for s in found}
    now = _now()
    fresh = start >= now - timedelta(days=settings.RETENTION_RAW_DAYS) and step <= 6 * 3600
    values: dict[int, float] = {}
    if "histogram" in kinds:
        res = "1h" if step >= 7 * 86400 else "1m"
        values = _window_histogram(ids, agg, start, end, res)
    elif agg == "rate":
        res = "raw" if fresh else ("1m" if step < 7 * 86400 else "1h")
        if kinds == {"counter"}:
            expr = _RAW_EXPR["sum"] if res == "raw" else _ROLLUP_EXPR["sum"]
            values = {
                sid: v / step
                for sid, v in _window(res, expr, ids, start, end).items()
                if v is not None
            }
        else:
            table, col = _TABLES[res]
            val = "value" if res == "raw" else "last"
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT series_id, (max(ARRAY[extract(epoch FROM {col})::float8, {val}]))[2] - "
                    f"(min(ARRAY[extract(epoch FROM {col})::float8, {val}]))[2] FROM {table} "
                    f"WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1",
                    [ids, start, end],
                )
                values = {sid: max(v, 0.0) / step for sid, v in cur.fetchall() if v is not None}
    elif agg in PERCENTILES:
        if start < now - timedelta(days=settings.RETENTION_RAW_DAYS):
            raise QueryError(
                f"{agg} of a gauge needs raw samples, kept {settings.RETENTION_RAW_DAYS} days"
            )
        values = _window("raw", _RAW_EXPR[agg], ids, start, end)
    else:
        res = "raw" if fresh else ("1m" if step < 7 * 86400 else "1h")
        values = _window(
            res, _RAW_EXPR[agg] if res == "raw" else _ROLLUP_EXPR[agg], ids, start, end
        )
    return [(labels_of[sid], float(v)) for sid, v in values.items() if v is not None]


def _window(resolution: str, expr: str, ids, start, end) -> dict[int, float]:
    table, col = _TABLES[resolution]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT series_id, {expr} FROM {table} WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1",
            [ids, start, end],
        )
        return dict(cur.fetchall())


def _window_histogram(ids, agg, start, end, resolution: str) -> dict[int, float]:
    table, col = _TABLES["hist_1h" if resolution == "1h" else "hist_1m"]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT series_id, sum(count)::float8, sum(sum), pm_array_sum(counts) FROM {table} "
            f"WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s GROUP BY 1",
            [ids, start, end],
        )
        rows = cur.fetchall()
    seconds = (end - start).total_seconds()
    out: dict[int, float] = {}
    for sid, count, total, counts in rows:
        if agg in PERCENTILES:
            out[sid] = histogram.quantile(counts, PERCENTILES[agg])
        elif agg == "avg":
            out[sid] = total / count if count else None
        elif agg == "count":
            out[sid] = float(count)
        elif agg == "sum":
            out[sid] = total
        elif agg == "rate":
            out[sid] = count / seconds
        else:
            raise QueryError(f"{agg} is not available for a latency histogram")
    return out


def merged_quantiles(
    *, metric: str, labels: dict | None, start: datetime, end: datetime, quantiles=(0.5, 0.95, 0.99)
) -> dict[float, float | None]:
    """Percentiles over all matching histogram series together (e.g. a whole service)."""
    found = _matching(metric, labels)
    if not found:
        return {q: None for q in quantiles}
    res = "hist_1h" if (end - start) >= timedelta(days=7) else "hist_1m"
    table, col = _TABLES[res]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT pm_array_sum(counts) FROM {table} WHERE series_id = ANY(%s) AND {col} >= %s AND {col} < %s",
            [[s.id for s in found], start, end],
        )
        counts = cur.fetchone()[0]
    if not counts:
        return {q: None for q in quantiles}
    return {q: histogram.quantile(counts, q) for q in quantiles}
