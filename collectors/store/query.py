"""The read path of the metric store: series of a metric, points per step, one value per window.

``series_query`` and ``window_values`` are built on ``collectors.store.reader``: buckets aligned
to the epoch (or one bucket that is exactly the window), ``end`` exclusive, partial buckets at
the edges read from finer tables, and rows not yet rolled up merged at query time. Series can be
merged (``by``): samples are pooled per group, latency histograms are merged bucket-wise, and
``error_ratio`` is the share of requests with status class 5xx. Percentiles of histograms come
from ``collectors.store.histogram.quantile``, the store's one quantile estimator.

The API's most common question, one series at one step (``series_query(as_json=True)``, e.g.
24 hours at 1 minute: 1,440 points), has a hand-made path, measured on the bench dataset
(benchmarks/bench_query.py):

- the series look-up, the pending ranges and the line are one statement, prepared with a
  generic plan (``penguinmon.db.prepared_cursor``): the line reads its series from the
  look-up's CTE, for the plan without pending ranges, and is kept only when the look-up
  confirms one series, the same step and the same plan, else read again as before
  (read-after-write keeps its exact answer, at one more round trip);
- the line's statement is ``reader.aggregate_line_sql``, shared with ``read_aggregate_line``:
  rollup rows at the step's own resolution are not grouped again, and the points come back
  as JSON text, written piece by piece in time order, which the view embeds as it is
  (``orjson.Fragment``).

With the token kept in memory (``penguinmon.api_auth``) and the connection's health read off
its socket (``penguinmon.postgres``), a settled 24 h @ 1 min request is one round trip to
Postgres (three before: the health check, the token, the look-up with the line). The statement
took 1.65 ms planned each time, 1.20 prepared (generic plan), 0.4 of it Postgres' own
execution (its log, during bench_query); in-process the whole answer 3.6 -> 1.1 ms, and
bench_query's p95 against Prometheus 1.76-1.9 -> 1.1-1.24.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter

import orjson
from django.conf import settings
from django.db import connection

from collectors.models import Series
from collectors.store import reader
from collectors.store.catalog import class_ratio
from collectors.store.errors import QueryError
from collectors.store.reader import HOUR, MINUTE, PERCENTILES, Buckets, HistogramStats, floor_to
from penguinmon.db import prepared_cursor

AGGREGATIONS = (
    "avg",
    "min",
    "max",
    "sum",
    "last",
    "count",
    "rate",
    "p50",
    "p95",
    "p99",
    "error_ratio",
)
MAX_SERIES = 500
MAX_POINTS = 11_000
STATUS_LABEL = "status_class"
ERROR_CLASS = "5xx"


@dataclass
class SeriesPoints:
    series_id: int | None  # None for a group of series (``by``)
    labels: dict
    unit: str
    points: list[tuple[datetime, float]] | orjson.Fragment = field(default_factory=list)


@dataclass
class QueryResult:
    metric: str
    agg: str
    step: int
    resolution: str
    start: datetime
    end: datetime
    series: list[SeriesPoints]


@dataclass(frozen=True)
class Line:
    """A one-series line read in the statement of its series look-up: ``sql`` (its
    ``params``) is a scalar subquery giving its points as JSON text, reading the series
    ``(SELECT id FROM one)``: the look-up's only match if the condition ``kind`` holds for it,
    else NULL."""

    kind: str
    sql: str
    params: list


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
    return _matching_and_pending(metric, labels)[0]


def _series_filter(metric: str, labels: dict | None) -> tuple[str, list]:
    """The WHERE clause of the series of ``metric`` whose labels contain ``labels``."""
    if labels:
        return "name = %s AND labels @> %s::jsonb", [metric, orjson.dumps(labels).decode()]
    return "name = %s", [metric]


def _matching_and_pending(
    metric: str,
    labels: dict | None,
    window: tuple[datetime, datetime] | None = None,
    *,
    with_data: bool = False,
    line: Line | None = None,
) -> tuple[list[Series], reader.Pending | None, str | None]:
    """The matching series and, with ``window``, what is not rolled up yet in it: one
    statement, prepared (its planning cost as much as running it), one round trip, which is a
    good share of a chart query's time.

    ``with_data`` (needs ``window``, recent enough for raw samples): only series with a raw
    sample or a minute histogram in the window, so series that stopped reporting (or junk
    pushed once) never count against MAX_SERIES and cannot disable an alert rule.
    ``line`` (needs ``window``): a scalar subquery read in the same statement, its text
    returned third (None without it).
    """
    # Columns after the series' own, NULL in their rows: a pending range's, the line's text.
    extra = ", NULL::timestamptz, NULL::timestamptz" if window is not None else ""
    if line is not None:
        extra += ", NULL::text"
    where, params = _series_filter(metric, labels)
    sql = f"SELECT id, name, labels::text, unit, kind FROM collectors_series s WHERE {where}"
    if with_data and window is not None:
        start, end = window
        # Primary-key probes, one per matching series: (series_id, ts) and (series_id, bucket).
        sql += (
            " AND (EXISTS (SELECT 1 FROM collectors_sample x WHERE x.series_id = s.id"
            " AND x.ts >= %s AND x.ts < %s) OR (s.kind = 'histogram' AND EXISTS (SELECT 1"
            " FROM collectors_histogram_1m h WHERE h.series_id = s.id AND h.bucket >= %s"
            " AND h.bucket < %s)))"
        )
        params += [start, end, floor_to(start, MINUTE), end]
    sql = f"{sql} ORDER BY id LIMIT {MAX_SERIES + 1}"
    if line is None:
        sql = f"(SELECT *{extra} FROM ({sql}) AS s)"
    else:
        # The look-up once, as a CTE the line reads its series from.
        sql = (
            f"WITH found AS MATERIALIZED ({sql}), one AS (SELECT CASE WHEN count(*) = 1 THEN"
            f" min(id) END AS id FROM found WHERE {line.kind}) (SELECT *{extra} FROM found"
            " ORDER BY id)"
        )
    if window is not None:
        trail = ", NULL" if line is not None else ""
        sql += f" UNION ALL ({reader.pending_sql(lead='NULL, NULL, NULL, NULL, ', trail=trail)})"
        params += reader.pending_params(*window)
    text = None
    if line is not None:
        # The line's row: every other column NULL (kind too, which a pending range never is).
        sql += (
            " UNION ALL (SELECT NULL::int8, NULL, NULL, NULL, NULL, NULL::timestamptz,"
            f" NULL::timestamptz, ({line.sql}))"
        )
        params += line.params
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if line is not None:
        text = next(r[7] for r in rows if r[0] is None and r[4] is None)
        rows = [r for r in rows if r[0] is not None or r[4] is not None]
    found = [r for r in rows if r[0] is not None]
    if len(found) > MAX_SERIES:
        raise QueryError(f"more than {MAX_SERIES} series match; add label filters")
    series = [
        Series(id=r[0], name=r[1], labels=orjson.loads(r[2]), unit=r[3], kind=r[4]) for r in found
    ]
    if window is None:
        return series, None, text
    return series, reader.pending_from(r[4:7] for r in rows if r[0] is None), text


def _now() -> datetime:
    return datetime.now(UTC)


def _check(metric: str, agg: str, start: datetime, end: datetime, step: float) -> None:
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


def _usable_step(step: int, start: datetime, kinds: set[str], agg: str) -> int:
    """The step actually answered: latency histograms are per minute, and data finer than a
    table's retention is gone, so a step it would need is raised to the next resolution."""
    now = _now()
    if "histogram" in kinds:
        step = max(step, 60)  # stored per minute
    if step % 60 and start < now - timedelta(days=settings.RETENTION_RAW_DAYS):
        step = -(-step // 60) * 60
    if step % 3600 and start < now - timedelta(days=settings.RETENTION_1M_DAYS):
        step = -(-step // 3600) * 3600
    if "histogram" in kinds and step % 60:
        raise QueryError("latency histograms are kept per minute: use a step in whole minutes")
    return step


def _group_key(labels: dict, by: Sequence[str] | None, drop: str | None = None) -> tuple:
    if by is None:
        return tuple(sorted((k, v) for k, v in labels.items() if k != drop))
    return tuple((k, labels[k]) for k in by if k in labels and k != drop)


Rows = list[tuple[int, int, float]]  # (group index, bucket t, value), ordered


def _ordered(values: dict[tuple[int, int], float]) -> Rows:
    return [(g, t, v) for (g, t), v in sorted(values.items())]


def _evaluate(
    found: list[Series],
    b: Buckets,
    agg: str,
    by: Sequence[str] | None,
    pend: reader.Pending | None = None,
) -> tuple[list[tuple[int | None, dict]], Rows]:
    """(groups as (series id or None, labels), (group index, bucket t, value) ordered)."""
    kinds = {s.kind for s in found}
    ids = [s.id for s in found]
    if agg == "error_ratio":
        return _error_ratio(found, b, by, pend)
    if by is None:
        groups = [(s.id, s.labels) for s in found]
        gid = None
        index = {s.id: i for i, s in enumerate(found)}
    else:
        keys: dict[tuple, int] = {}
        gid = {}
        for s in found:
            gid[s.id] = keys.setdefault(_group_key(s.labels, by), len(keys))
        groups = [(None, dict(k)) for k in keys]
        index = {i: i for i in range(len(keys))}
    values: dict[tuple[int, int], float] = {}
    if "histogram" in kinds:
        hist = reader.read_histograms(
            ids, b, groups=gid, with_buckets=agg in PERCENTILES, pend=pend
        )
        for (k, t), w in hist.items():
            try:
                v = w.value(agg, b.seconds(t))
            except ValueError as exc:
                raise QueryError(
                    f"{agg} is not available for a latency histogram; "
                    "use avg, count, sum, rate, p50, p95 or p99"
                ) from exc
            if v is not None:
                values[(index[k], t)] = v
        return groups, _ordered(values)
    if agg in PERCENTILES:
        if b.start < _now() - timedelta(days=settings.RETENTION_RAW_DAYS):
            raise QueryError(
                f"{agg} of a gauge needs raw samples, kept {settings.RETENTION_RAW_DAYS} days; "
                "shorten the range (histogram metrics keep percentiles for longer)"
            )
        got = reader.read_raw_percentile(ids, b, PERCENTILES[agg], groups=gid)
        return groups, _ordered({(index[k], t): v for (k, t), v in got.items() if v is not None})
    if agg == "rate" and kinds != {"counter"}:
        return groups, _ordered(_cumulative_rate(found, b, gid, index, pend))
    rows = reader.read_aggregate(ids, b, agg, groups=gid, pend=pend)
    return groups, [(index[k], t, v) for k, t, v in rows if v is not None]


def _cumulative_rate(found, b: Buckets, gid, index, pend) -> dict[tuple[int, int], float]:
    """Per-second increase of cumulative series: (last value of a bucket − the last value
    before it, within one step, or else the bucket's first value) / the bucket's seconds, a drop
    counting as a reset from 0; summed per group."""
    ids = [s.id for s in found]
    lasts = reader.read_stats(ids, b, need=("last", "first"), pend=pend)
    before = reader.read_stats(ids, Buckets(b.start - _span(b), b.start), need=("last",), pend=pend)
    per_series: dict[int, list[tuple[int, reader.Stats]]] = defaultdict(list)
    for (sid, t), st in sorted(lasts.items()):
        per_series[sid].append((t, st))
    out: dict[tuple[int, int], float] = defaultdict(float)
    for sid, points in per_series.items():
        prev = before.get((sid, 0))
        prev_value = prev.last if prev else None
        for t, st in points:
            value = st.last
            if prev_value is None:
                prev_value = st.first
            if prev_value is not None:
                increase = value - prev_value if value >= prev_value else value
                key = (index[sid if gid is None else gid[sid]], t)
                out[key] += increase / b.seconds(t)
            prev_value = value
    return dict(out)


def _span(b: Buckets) -> timedelta:
    """How far before ``b.start`` a read may look (the value before a cumulative rate)."""
    return timedelta(seconds=b.step) if b.step else b.end - b.start


def _error_ratio(found: list[Series], b: Buckets, by: Sequence[str] | None, pend=None):
    """Share of requests whose status class is 5xx, per group (``status_class`` is never a
    grouping label here) and bucket."""
    if not found or any(STATUS_LABEL not in s.labels for s in found):
        raise QueryError(
            f"error_ratio needs request counters with a {STATUS_LABEL} label (metric http_requests)"
        )
    keys: dict[tuple, int] = {}
    sub: dict[tuple[int, bool], int] = {}
    gid = {}
    for s in found:
        g = keys.setdefault(_group_key(s.labels, by, drop=STATUS_LABEL), len(keys))
        gid[s.id] = sub.setdefault((g, s.labels[STATUS_LABEL] == ERROR_CLASS), len(sub))
    parts = {v: k for k, v in sub.items()}
    stats = reader.read_stats([s.id for s in found], b, groups=gid, need=("sum",), pend=pend)
    by_class: dict[tuple[int, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (k, t), st in stats.items():
        g, is_error = parts[k]
        by_class[(g, t)][ERROR_CLASS if is_error else "other"] += st.sum
    values = {key: class_ratio(counts, ERROR_CLASS) for key, counts in by_class.items()}
    return [(None, dict(k)) for k in keys], _ordered(
        {key: v for key, v in values.items() if v is not None}
    )


def _resolution(b: Buckets, agg: str, kinds: set[str]) -> str:
    if agg in PERCENTILES and "histogram" not in kinds:
        return "raw"
    if b.fits(reader.HOUR):
        return "1h"
    return "1m" if b.fits(reader.MINUTE) else "raw"


def _plain(agg: str, kinds: set[str]) -> bool:
    """Whether ``_evaluate`` answers ``agg`` with ``reader.read_aggregate`` (a rollup statistic
    computed in SQL), not histograms, raw percentiles, error ratios or cumulative rates."""
    if "histogram" in kinds or agg in PERCENTILES or agg == "error_ratio":
        return False
    return agg != "rate" or kinds == {"counter"}


def _unit(agg: str, kinds: set[str], found: list[Series]) -> str:
    if agg in ("count", "error_ratio") or (agg == "rate" and "histogram" in kinds):
        return "" if agg != "rate" else "/s"
    return found[0].unit if len({s.unit for s in found}) == 1 else ""


def series_query(
    *,
    metric: str,
    labels: dict | None = None,
    start: datetime,
    end: datetime,
    step: int,
    agg: str = "avg",
    by: Sequence[str] | None = None,
    as_json: bool = False,
) -> QueryResult:
    """Points per matching series (or per group of them, see ``by``), one per ``step`` seconds
    over [start, end), aggregated with ``agg``.

    Buckets are aligned to multiples of ``step`` since the epoch; a bucket clipped by start or
    end is stamped with its clipped start and holds exactly its part of [start, end).
    ``by``: None for one line per series; a list of label names for one line per distinct
    value of them (an empty list merges every matching series into one). Points are (datetime,
    value); with ``as_json`` each line's points are one ``orjson.Fragment``, a JSON array of
    [unix seconds, value] for the API's answer (a one-series line's is written by the
    database, see ``reader.aggregate_line_sql``)."""
    _check(metric, agg, start, end, step)
    # Pending ranges from a step before start (a cumulative rate's baseline; _usable_step
    # raises a step by less than the hour added).
    back = timedelta(seconds=int(step)) + timedelta(hours=1)
    fast = guess = None
    if as_json and by is None and _plain(agg, {"counter"}):
        # Most API queries name one series in a window with nothing pending: its points are
        # read in the round trip of the look-up, for the plan without pending ranges, and kept
        # only if the look-up confirms one series of a kind answered this way and that plan.
        guess = Buckets(start, end, _usable_step(int(step), start, set(), agg))
        plan = reader.sample_plan(guess, reader.Pending())
        sql, line_params = reader.aggregate_line_sql("(SELECT id FROM one)", guess, agg, plan)
        if sql:
            kind = "kind = 'counter'" if agg == "rate" else "kind <> 'histogram'"
            fast = Line(kind, sql, line_params)
    found, pend, text = _matching_and_pending(metric, labels, (start - back, end), line=fast)
    kinds = {s.kind for s in found}
    step = _usable_step(int(step), start, kinds, agg)
    b = Buckets(start, end, step)
    result = QueryResult(metric, agg, step, _resolution(b, agg, kinds), start, end, [])
    if not found:
        return result
    if as_json and by is None and len(found) == 1 and _plain(agg, kinds):
        [series] = found
        if text is None or b != guess or reader.sample_plan(b, pend) != plan:
            text = reader.read_aggregate_line(series.id, b, agg, pend=pend)
        points = orjson.Fragment(text)
        result.series = [SeriesPoints(series.id, series.labels, series.unit, points)]
        return result
    groups, values = _evaluate(found, b, agg, None if by is None else tuple(by), pend)
    unit = _unit(agg, kinds, found)
    units = {s.id: s.unit for s in found}
    lines = [
        SeriesPoints(sid, lbls, units.get(sid, unit) if sid is not None else unit)
        for sid, lbls in groups
    ]
    start_s = b.start_s
    for g, rows in groupby(values, key=itemgetter(0)):
        if as_json:
            lines[g].points = [(t if t > start_s else start_s, v) for _, t, v in rows]
        else:
            lines[g].points = [(b.stamp(t), v) for _, t, v in rows]
    if as_json:
        for line in lines:
            line.points = orjson.Fragment(orjson.dumps(line.points))
    result.series = lines
    return result


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
    *,
    metric: str,
    labels: dict | None = None,
    start: datetime,
    end: datetime,
    agg: str = "avg",
    by: Sequence[str] | None = None,
) -> list[tuple[dict, float]]:
    """One ``agg`` per matching series (or group, see ``series_query``) over exactly
    [start, end) — what alert rules evaluate and KPI tiles show."""
    _check(metric, agg, start, end, max(1e-6, (end - start).total_seconds()))
    b = Buckets(start, end)
    # Alert windows are short and recent: count only series that reported in them (raw
    # samples are kept RETENTION_RAW_DAYS; older windows, e.g. a KPI's month, count all).
    recent = start - _span(b) >= _now() - timedelta(days=settings.RETENTION_RAW_DAYS - 1)
    found, pend, _ = _matching_and_pending(
        metric, labels, (start - _span(b), end), with_data=recent and end - start <= 6 * HOUR
    )
    if not found:
        return []
    groups, values = _evaluate(found, b, agg, None if by is None else tuple(by), pend)
    return [(groups[g][1], float(v)) for g, _, v in values]


def histogram_window(
    *, metric: str, labels: dict | None = None, start: datetime, end: datetime
) -> HistogramStats:
    """Every matching latency histogram merged bucket-wise over [start, end) (a route, a
    service, everything): its ``quantile(q)``, ``avg``, ``count``."""
    found = [s for s in _matching(metric, labels) if s.kind == "histogram"]
    got = reader.read_histograms(
        [s.id for s in found], Buckets(start, end), groups={s.id: 0 for s in found}
    )
    return got.get((0, 0), HistogramStats())


def merged_quantiles(
    *, metric: str, labels: dict | None, start: datetime, end: datetime, quantiles=(0.5, 0.95, 0.99)
) -> dict[float, float | None]:
    """Percentiles over all matching histogram series together (e.g. a whole service)."""
    w = histogram_window(metric=metric, labels=labels, start=start, end=end)
    return {q: w.quantile(q) for q in quantiles}
