"""Batched reads of the metric store, for pages that show many numbers at once (dashboards).

``collectors.store.query`` answers one metric and one period per call; a dashboard needs dozens
of numbers (KPI tiles over two periods, every route's p50/p95/p99, every service's rates), and
one round trip per number was most of its render time. These functions answer many series and
many periods in one SQL statement each:

- ``find_series(names)``: the series of several metrics in one look-up.
- ``window_stats(ids, periods)``: count/sum/min/max/last per series per period, from which any
  window aggregate (avg, sum, min, max, last, count, counter rate) follows.
- ``histogram_windows(ids, periods)``: merged latency-bucket counts per series per period, so
  p50/p95/p99 come from one read and series can be merged in Python (a service, all routes).
- ``histogram_quantile_lines(ids, start, end, step, quantiles)``: quantile lines per series.

Every read goes through ``collectors.store.reader``, like ``series_query``: whole hours from the
1-hour tables, partial hours from the 1-minute tables, partial minutes from raw samples, rows not
yet rolled up merged at query time; a 30-day window reads ~720 rows per series instead of 43,200
while its edges stay exact. Window aggregates are ``reader.stat_value`` and percentiles
``histogram.quantile``: the same definitions as the query API and alert rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.db import connection

from collectors.store import histogram, reader
from collectors.store.reader import Buckets

HOUR = timedelta(hours=1)
Period = tuple[datetime, datetime]


@dataclass(frozen=True)
class SeriesInfo:
    id: int
    name: str
    labels: dict
    kind: str
    unit: str


@dataclass
class WindowStats:
    """What the rollups hold for one series over one period."""

    count: float = 0.0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None

    @property
    def avg(self) -> float | None:
        return self.sum / self.count if self.count else None

    def value(self, agg: str, seconds: float) -> float | None:
        """The ``agg`` of this window; ``rate`` is per second for counter series."""
        return reader.stat_value(agg, self.count, self.sum, self.min, self.max, self.last, seconds)


# Latency buckets of one series (or several merged) over one period.
HistogramWindow = reader.HistogramStats


def merged(windows: Iterable[HistogramWindow]) -> HistogramWindow:
    out = HistogramWindow()
    for w in windows:
        out.merge(w)
    return out


def find_series(names: Sequence[str], *, labels: dict | None = None) -> dict[str, list[SeriesInfo]]:
    """Series of each metric in ``names`` (whose labels contain ``labels``), one query."""
    out: dict[str, list[SeriesInfo]] = {n: [] for n in names}
    if not names:
        return out
    sql = "SELECT id, name, labels::text, kind, unit FROM collectors_series WHERE name = ANY(%s)"
    params: list = [list(names)]
    if labels:
        sql += " AND labels @> %s::jsonb"
        params.append(orjson.dumps(labels).decode())
    with connection.cursor() as cur:
        cur.execute(sql + " ORDER BY id", params)
        for sid, name, lbl, kind, unit in cur.fetchall():
            out[name].append(SeriesInfo(sid, name, orjson.loads(lbl), kind, unit))
    return out


def window_stats(
    ids: Sequence[int], periods: Sequence[Period]
) -> dict[tuple[int, int], WindowStats]:
    """Rollup stats per (series id, period index) for gauge and counter series, one query."""
    if not ids or not periods:
        return {}
    # Not ``first`` (WindowStats has no use for it): a read that needs it cannot use the day
    # rows, and a 30-day window then reads ~720 hour rows per series instead of ~30 day rows.
    got = reader.read_stats(
        ids, [Buckets(a, b) for a, b in periods], need=("count", "sum", "min", "max", "last")
    )
    return {k: WindowStats(st.count, st.sum, st.min, st.max, st.last) for k, st in got.items()}


def histogram_windows(
    ids: Sequence[int], periods: Sequence[Period]
) -> dict[tuple[int, int], HistogramWindow]:
    """Merged latency buckets per (series id, period index) for histogram series, one query."""
    if not ids or not periods:
        return {}
    return reader.read_histograms(ids, [Buckets(a, b) for a, b in periods])


def histogram_quantile_lines(
    ids: Sequence[int],
    *,
    start: datetime,
    end: datetime,
    step: int,
    quantiles: Sequence[float] = (0.95,),
) -> dict[int, dict[float, list[tuple[datetime, float]]]]:
    """Per series, one line per quantile with a point per ``step`` seconds (buckets as in
    ``series_query``: aligned to the epoch, edges clipped to [start, end)), from one read."""
    ids = list(ids)
    out: dict[int, dict[float, list[tuple[datetime, float]]]] = {
        sid: {q: [] for q in quantiles} for sid in ids
    }
    if not ids or end <= start:
        return out
    b = Buckets(start, end, max(60, int(step)))
    for (sid, t), w in sorted(reader.read_histograms(ids, b).items()):
        ts = b.stamp(t)
        for q in quantiles:
            v = w.quantile(q)
            if v is not None:
                out[sid][q].append((ts, v))
    return out


def window_sums(ids: Sequence[int], periods: Sequence[Period]) -> dict[tuple[int, int], float]:
    """Sum of values per (series id, period index) — what a counter's total over a window
    is — without the min/max/last that ``window_stats`` also computes (a third of its time)."""
    if not ids or not periods:
        return {}
    got = reader.read_stats(ids, [Buckets(a, b) for a, b in periods], need=("sum",))
    return {k: st.sum or 0.0 for k, st in got.items()}


def histogram_prefix_windows(
    ids: Sequence[int], periods: Sequence[Period], *, buckets: int
) -> dict[tuple[int, int], tuple[float, list[float]]]:
    """Per (series id, period index): the request count and the counts of the first
    ``buckets`` latency buckets (summed by subscript, only as far as asked): a latency SLI
    needs only the buckets up to its threshold."""
    if not ids or not periods:
        return {}
    upto = max(1, min(buckets, histogram.N_BUCKETS))
    got = reader.read_histograms(ids, [Buckets(a, b) for a, b in periods], upto=upto)
    return {k: (w.count, [float(c) for c in w.counts[:upto]]) for k, w in got.items()}
