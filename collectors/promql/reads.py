"""A selector's series and samples, read from the metric store.

What a selector sees (documented in the README, "PromQL"):
- every series of the store under its own name and labels (``__name__`` is the series' name);
  gauges and remote-written series give their raw samples as stored; older than raw
  retention, their rollups' last sample of each minute (then hour), as if scraped that often.
- ``counter`` series (PenguinMon's per-minute counts, e.g. ``http_requests``) are exposed as
  Prometheus counters: the running total of the per-minute counts, stamped at the end of each
  minute.
- each latency histogram ``X`` (per-minute bucket counts, e.g. ``http_request_duration_ms``)
  is exposed as a classic Prometheus histogram: ``X_bucket{le=...}`` (one cumulative counter
  per fixed bucket, ``le`` its upper bound in the histogram's unit, the last ``+Inf``),
  ``X_count`` and ``X_sum``, stamped at the end of each minute.
  Both count from the oldest data the store keeps (the minutes before a query's read window
  come from the rollups), as a Prometheus counter counts from its process' start.

One query finds the series (name and equality matchers in SQL, regular expressions in Python
with Prometheus' full anchoring); one more reads the samples of all of them at once (and one
the histogram rows when virtual histogram series are asked for); a range reaching past raw
retention adds one read per rollup table it reaches. When the samples a step needs
are a small part of the step (``rate(x[5m])`` every hour over 30 days), only those windows are
read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate

import numpy as np
import orjson
from django.conf import settings
from django.db import connection

from collectors.promql.ast import Selector
from collectors.promql.errors import PromQLError
from collectors.store import histogram, reader
from collectors.store.catalog import read_capabilities

MAX_SERIES = 10_000
MAX_SAMPLES = 20_000_000
MINUTE_MS = 60_000
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# Read only the windows of the steps when they cover less than this share of the range.
WINDOWED_BELOW = 0.25

Labels = tuple[tuple[str, str], ...]
# May the asking user read this metric of the store? (collectors.store.api.may_read)
Gate = Callable[[str], bool]


@dataclass
class Raw:
    """One series as the engine sees it: labels (with ``__name__``) and samples in time order."""

    labels: Labels
    ts: list[int]  # unix milliseconds
    values: list[float]


@dataclass(frozen=True)
class _Source:
    name: str
    labels: dict
    series_id: int
    # "raw" | "counter" | "bucket" | "count" | "sum"
    how: str
    bucket: int = -1


def le_label(i: int) -> str:
    bound = histogram.upper_bound(i)
    return "+Inf" if bound == float("inf") else f"{bound:.6g}"


def _fixed_name(sel: Selector) -> str | None:
    if sel.name:
        return sel.name
    for m in sel.matchers:
        if m.name == "__name__" and m.op == "=":
            return m.value
    return None


def _catalogue(sel: Selector) -> list[tuple[int, str, dict, str]]:
    name = _fixed_name(sel)
    where, params = [], []
    if name is not None:
        names = [name] + [name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)]
        where.append("name = ANY(%s)")
        params.append(names)
    contains = {
        m.name: m.value
        for m in sel.matchers
        if m.op == "=" and m.value and m.name not in ("__name__", "le")
    }
    if contains:
        where.append("labels @> %s::jsonb")
        params.append(orjson.dumps(contains).decode())
    sql = "SELECT id, name, labels::text, kind FROM collectors_series"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY id LIMIT {MAX_SERIES + 1}"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    if len(rows) > MAX_SERIES:
        raise PromQLError(
            f"a selector matches more than {MAX_SERIES:,} series; add label matchers",
            kind="execution",
            status=422,
        )
    return [(sid, n, orjson.loads(lbls), kind) for sid, n, lbls, kind in rows]


def _refuse(name: str) -> PromQLError:
    return PromQLError(
        f"your role may not read {name}: it needs "
        + " or ".join(c.replace("_", " ") for c in read_capabilities(name)),
        kind="forbidden",
        status=403,
    )


def matching(sel: Selector, may_read: Gate) -> list[_Source]:
    """The series (real and virtual) ``sel`` matches and the user may read, without their
    samples. Naming a metric the user may not read is a 403, as on /api/v1/query; a selector
    by regular expression only leaves such metrics out."""
    found = []
    readable: dict[str, bool] = {}
    for sid, name, labels, kind in _catalogue(sel):
        if not readable.setdefault(name, may_read(name)):
            if _fixed_name(sel) is not None:
                raise _refuse(_fixed_name(sel))
            continue
        if kind == "histogram":
            candidates = [_Source(f"{name}_count", labels, sid, "count")]
            candidates.append(_Source(f"{name}_sum", labels, sid, "sum"))
            candidates += [
                _Source(f"{name}_bucket", {**labels, "le": le_label(i)}, sid, "bucket", i)
                for i in range(histogram.N_BUCKETS)
            ]
        else:
            candidates = [_Source(name, labels, sid, "counter" if kind == "counter" else "raw")]
        for c in candidates:
            if sel.name is not None and c.name != sel.name:
                continue
            full = {**c.labels, "__name__": c.name}
            if all(m.matches(full.get(m.name, "")) for m in sel.matchers):
                found.append(c)
    return found


# The store holds nothing outside 1970–2999 (ingest refuses it): reads are clipped to that, which
# keeps far offsets and ranges inside what datetime can hold.
MIN_MS, MAX_MS = 0, 32_503_680_000_000


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(min(max(ms, MIN_MS), MAX_MS) / 1000, UTC)


_MS = "(extract(epoch FROM ts) * 1000)::bigint"
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class _Table:
    """Where a series' samples come from over one stretch of time: the raw samples, or, once
    those have expired, a rollup's buckets (``value`` over the bucket, stamped ``stamp_ms``
    after its start)."""

    sql: str
    ts: str
    value: str
    stamp_ms: int


RAW = _Table("collectors_sample", "ts", "value", 0)
# (hours, minutes, raw) for a gauge or a remote-written counter: the bucket's last sample,
# stamped just before its end, as if it had been scraped once a minute (an hour). Its last
# value rather than its average keeps a Prometheus counter's rate and resets right.
GAUGE = (
    _Table("collectors_rollup_1h", "bucket", "last", HOUR_MS - 1),
    _Table("collectors_rollup_1m", "bucket", "last", MINUTE_MS - 1),
    RAW,
)
# A per-minute counter's raw samples are stamped at their minute's start (the reader moves
# them to its end): a rollup bucket's total is stamped at its last minute's start.
COUNTER = (
    _Table("collectors_rollup_1h", "bucket", "sum", HOUR_MS - MINUTE_MS),
    _Table("collectors_rollup_1m", "bucket", "sum", 0),
    RAW,
)


def _stretches(
    tables: tuple[_Table, _Table, _Table], lo: int, last: int, now_ms: int
) -> list[tuple[_Table, int, int]]:
    """[lo, last] (ms) split by what still holds it: raw samples from now − raw retention,
    minute rollups back to their retention, hour rollups before that, each as (table, first,
    last bucket start). A rollup bucket counts at its stamp, so it is read when its stamp lies
    in [lo, last]."""
    raw_from = (now_ms - settings.RETENTION_RAW_DAYS * DAY_MS) // MINUTE_MS * MINUTE_MS
    minutes_from = (now_ms - settings.RETENTION_1M_DAYS * DAY_MS) // HOUR_MS * HOUR_MS
    hours, minutes, raw = tables
    out = []
    for table, begin, end in (
        (hours, lo - hours.stamp_ms, minutes_from),
        (minutes, max(lo - minutes.stamp_ms, minutes_from), raw_from),
    ):
        until = min(end - 1, last - table.stamp_ms)
        if begin <= until:
            out.append((table, begin, until))
    if max(lo, raw_from) <= last:
        out.append((raw, max(lo, raw_from), last))
    return out


def _read_samples(
    ids: list[int],
    first: int,
    last: int,
    window: int,
    step: int,
    windowed: bool,
    tables: tuple[_Table, _Table, _Table] = GAUGE,
) -> dict[int, tuple[list[int], list[float]]]:
    """Every sample of ``ids`` in [first − window, last] (only in the steps' windows when
    ``windowed``), from the raw table and, for the part older than raw retention, from the
    rollups (README, "PromQL")."""
    if not ids:
        return {}
    merged: dict[int, tuple[list[int], list[float]]] = {}
    total = 0
    now_ms = int(time.time() * 1000)
    for table, lo, hi in _stretches(tables, first - window, last, now_ms):
        rows = _read_table(table, ids, lo, hi, (first, last), window, step, windowed)
        total += sum(len(r[1]) for r in rows)
        if total > MAX_SAMPLES:
            raise PromQLError(
                f"query would load {total:,} samples (limit {MAX_SAMPLES:,}); "
                "shorten the range or select fewer series",
                kind="execution",
                status=422,
            )
        for sid, ts, values in rows:
            before = merged.setdefault(sid, ([], []))
            before[0].extend(ts)
            before[1].extend(values)
    return {sid: _in_time_order(ts, values) for sid, (ts, values) in merged.items()}


def _read_table(
    table: _Table,
    ids: list[int],
    lo: int,
    hi: int,
    steps: tuple[int, int],
    window: int,
    step: int,
    windowed: bool,
) -> list[tuple[int, list[int], list[float]]]:
    stamp = f"(extract(epoch FROM {table.ts}) * 1000)::bigint + {table.stamp_ms}"
    if windowed:
        # The windows end at the steps; a rollup bucket is in a window when its stamp is.
        sql = f"""
            SELECT series_id, array_agg({stamp}), array_agg({table.value})
            FROM generate_series(%s::timestamptz, %s::timestamptz, make_interval(secs => %s)) AS g(t)
            JOIN {table.sql} ON series_id = ANY(%s)
                AND {table.ts} >= g.t - make_interval(secs => %s)
                AND {table.ts} <= g.t - make_interval(secs => %s)
                AND {table.ts} >= %s AND {table.ts} <= %s
            GROUP BY series_id"""
        first, last = steps
        params = [_dt(first), _dt(last), step / 1000, ids, (window + table.stamp_ms) / 1000]
        params += [table.stamp_ms / 1000, _dt(lo), _dt(hi)]
    else:
        sql = f"""
            SELECT series_id, array_agg({stamp}), array_agg({table.value})
            FROM {table.sql} WHERE series_id = ANY(%s) AND {table.ts} >= %s AND {table.ts} <= %s
            GROUP BY series_id"""
        params = [ids, _dt(lo), _dt(hi)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _in_time_order(ts: list[int], values: list[float]) -> tuple[list[int], list[float]]:
    """Samples sorted by time here rather than by ``array_agg(… ORDER BY ts)``, which made
    Postgres sort every row of the read (a third of a 30-day query's time)."""
    times = np.asarray(ts, dtype=np.int64)
    if len(times) > 1 and not bool(np.all(times[1:] > times[:-1])):
        order = np.argsort(times, kind="stable")
        return times[order].tolist(), np.asarray(values, dtype=np.float64)[order].tolist()
    return list(ts), list(values)


def _read_histograms(ids: list[int], start: int, last: int) -> dict[int, list[tuple]]:
    if not ids:
        return {}
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT series_id, {_MS.replace("ts", "bucket")}, count, sum, counts
            FROM collectors_histogram_1m WHERE series_id = ANY(%s) AND bucket >= %s AND bucket <= %s
            ORDER BY series_id, bucket""",
            [ids, _dt(start), _dt(last)],
        )
        out: dict[int, list[tuple]] = {}
        for sid, ms, count, total, counts in cur.fetchall():
            out.setdefault(sid, []).append((ms, count, total, counts))
        return out


def _key(name: str, labels: dict) -> Labels:
    return tuple(sorted({**labels, "__name__": name}.items()))


def read(sel: Selector, first: int, last: int, window: int, step: int, may_read: Gate) -> list[Raw]:
    """The series ``sel`` matches with their samples in [ref − window, ref] for every
    reference time ref = first, first + step, … ≤ last (milliseconds)."""
    sources = matching(sel, may_read)
    raw_ids = sorted({s.series_id for s in sources if s.how == "raw"})
    counter_ids = sorted({s.series_id for s in sources if s.how == "counter"})
    hist_ids = sorted({s.series_id for s in sources if s.how in ("bucket", "count", "sum")})
    windowed = (
        step > 0
        and window < WINDOWED_BELOW * step
        and last > first
        and first - window >= MIN_MS
        and last <= MAX_MS
    )
    samples = _read_samples(raw_ids, first, last, window, step, windowed)
    # Per-minute counts and histograms: every minute from the one before the window (a count
    # is stamped at its minute's end), on top of the totals of all earlier minutes.
    since = (first - window - MINUTE_MS) // MINUTE_MS * MINUTE_MS
    samples.update(_read_samples(counter_ids, since, last, 0, step, False, COUNTER))
    hists = _read_histograms(hist_ids, since, last)
    counter_base, hist_base = _totals_before(counter_ids, hist_ids, since)
    out = []
    for s in sources:
        key = _key(s.name, s.labels)
        if s.how == "raw":
            ts, values = samples.get(s.series_id, ([], []))
        elif s.how == "counter":
            ts, values = samples.get(s.series_id, ([], []))
            ts = [t + MINUTE_MS for t in ts]
            values = list(accumulate(values, initial=counter_base.get(s.series_id, 0.0)))[1:]
        else:
            base = hist_base.get(s.series_id)
            ts, values = _histogram_counter(hists.get(s.series_id, []), s, base)
        lo = first - window
        keep = [i for i, t in enumerate(ts) if lo <= t <= last]
        if keep and (keep[0] > 0 or len(keep) < len(ts)):
            ts = [ts[i] for i in keep]
            values = [values[i] for i in keep]
        elif not keep:
            ts, values = [], []
        out.append(Raw(key, ts, values))
    return out


def _totals_before(
    counter_ids: list[int], hist_ids: list[int], before_ms: int
) -> tuple[dict[int, float], dict[int, reader.HistogramStats]]:
    """What the store holds of each per-minute counter and histogram before ``before_ms``
    (minute rollups, hours and days, as the dashboards read them): the counters' values
    where the read starts, so they count from the oldest data kept, like a Prometheus counter
    counts from its process' start."""
    if not counter_ids and not hist_ids:
        return {}, {}
    window = reader.Buckets(datetime(1970, 1, 1, tzinfo=UTC), _dt(before_ms))
    pend = reader.pending(window.start, window.end)
    counters = reader.read_stats(counter_ids, window, need=("sum",), pend=pend)
    hists = reader.read_histograms(hist_ids, window, pend=pend)
    return (
        {sid: st.sum for (sid, _), st in counters.items()},
        {sid: h for (sid, _), h in hists.items()},
    )


def _histogram_counter(
    rows: list[tuple], s: _Source, base: reader.HistogramStats | None
) -> tuple[list[int], list[float]]:
    """One cumulative counter of a per-minute latency histogram, stamped at minute ends."""
    ts = [ms + MINUTE_MS for ms, *_ in rows]
    upto = s.bucket + 1
    if s.how == "count":
        per_minute = [float(count) for _, count, _, _ in rows]
        start = base.count if base else 0.0
    elif s.how == "sum":
        per_minute = [float(total) for _, _, total, _ in rows]
        start = base.sum if base else 0.0
    else:
        per_minute = [float(sum(counts[:upto])) for _, _, _, counts in rows]
        start = float(sum(base.counts[:upto])) if base else 0.0
    return ts, list(accumulate(per_minute, initial=start))[1:]
