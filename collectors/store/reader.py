"""Exact bucketed reads of the metric store: what ``series_query``, ``window_values`` and the
dashboards' batched reads are built on.

A read covers [start, end) — ``end`` is exclusive everywhere — split into buckets of ``step``
seconds aligned to multiples of the step since the Unix epoch (UTC), or into one bucket that is
exactly [start, end) (a window: alert rules, KPI tiles). A bucket clipped by start or end is
stamped with its clipped start, and every point covers [stamp, min(bucket end, end)): the points
of a read cover [start, end) exactly, whatever the step.

Each stretch of time is read from the coarsest table that holds exactly it:

- 1-day rollups for whole UTC days inside the range that fall inside one bucket and are over
  (a 30-day window: ~30 rows per series instead of ~720),
- 1-hour rollups for whole hours inside the range that fall inside one bucket,
- 1-minute rollups for the whole minutes left (the partial hours at the edges),
- raw samples for what remains (partial minutes at the edges, steps finer than a minute),

and rows not yet rolled up are merged at query time: the rollup job (every 15 s) recomputes
the time ranges listed in ``collectors_dirty_range``, so for those minutes (and hours, and days)
the read takes raw samples (and minutes, and hours) instead of the stale rollup. A day is rolled
up once it is over; until then a ``day`` range marks it pending. A script that pushes and then reads
sees its data at every step; so does an alert rule.

Latency histograms and the ``http_requests`` counters are stored per minute, stamped with the
minute's start: their edges are exact to the minute (a minute belongs to a range when its stamp
does). Raw samples are kept ``RETENTION_RAW_DAYS``: past that, partial minutes at the edges are
gone and edges are exact to the minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial

import orjson
from django.db import connection

from collectors.store import histogram

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
Interval = tuple[datetime, datetime]
# A timestamp's unix seconds in SQL. date_part() gives float8, exact for these columns'
# microseconds (float8 spacing near 2e9 s is 2.4e-7 s, so floor() never crosses a second and
# distinct microseconds stay distinct and ordered); extract() gives numeric: flooring it cost
# 115 ns a row against 48 (a week of minute rows, pgbench).
EPOCH = "date_part('epoch', {})"


def floor_to(ts: datetime, unit: timedelta) -> datetime:
    ts = ts.astimezone(UTC)
    if unit == DAY:
        return ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == HOUR:
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.replace(second=0, microsecond=0)


def ceil_to(ts: datetime, unit: timedelta) -> datetime:
    floor = floor_to(ts, unit)
    return floor if floor == ts else floor + unit


def subtract(intervals: Iterable[Interval], cuts: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus every interval of ``cuts``."""
    out: list[Interval] = []
    for a, b in intervals:
        pieces = [(a, b)]
        for c, d in cuts:
            if d <= a or c >= b:
                continue
            nxt = []
            for x, y in pieces:
                if d <= x or c >= y:
                    nxt.append((x, y))
                    continue
                if x < c:
                    nxt.append((x, c))
                if d < y:
                    nxt.append((d, y))
            pieces = nxt
        out += [(x, y) for x, y in pieces if x < y]
    return sorted(out)


@dataclass(frozen=True)
class Pending:
    """Time not yet rolled up: sample minutes and hours, histogram hours, and days (any
    range on a day, or a day not over yet: its day rows are not final)."""

    minutes: list[Interval] = field(default_factory=list)
    hours: list[Interval] = field(default_factory=list)
    hist_hours: list[Interval] = field(default_factory=list)
    days: list[Interval] = field(default_factory=list)


def pending_sql(lead: str = "", trail: str = "") -> str:
    """The dirty ranges near a window (``pending_params``); ``lead`` and ``trail``: columns
    before and after them, so a query can look them up together with its series in one round
    trip."""
    return (
        f"SELECT {lead}kind, start_ts, end_ts{trail} FROM collectors_dirty_range "
        "WHERE start_ts < %s AND end_ts >= %s"
    )


def pending_params(start: datetime, end: datetime) -> list:
    return [end, start - HOUR]


def pending_from(rows: Iterable[tuple[str, datetime, datetime]]) -> Pending:
    """Dirty ranges aligned as the rollup job will align them."""
    out = Pending()
    for kind, a, b in rows:
        if kind == "sample":
            out.minutes.append((floor_to(a, MINUTE), floor_to(b, MINUTE) + MINUTE))
            out.hours.append((floor_to(a, HOUR), floor_to(b, HOUR) + HOUR))
        elif kind == "histogram":
            out.hist_hours.append((floor_to(a, HOUR), floor_to(b, HOUR) + HOUR))
        if kind == "day":  # a day not over yet, or not rolled up since (end exclusive)
            out.days.append((a, b))
        else:  # a write (end inclusive): its days' rows are stale
            out.days.append((floor_to(a, DAY), floor_to(b, DAY) + DAY))
    return out


def pending(start: datetime, end: datetime) -> Pending:
    """What is not rolled up yet in [start, end)."""
    with connection.cursor() as cur:
        cur.execute(pending_sql(), pending_params(start, end))
        return pending_from(cur.fetchall())


@dataclass(frozen=True)
class Plan:
    """Which table answers which stretch of [start, end)."""

    hours: list[Interval]
    minutes: list[Interval]
    raw: list[Interval]
    days: list[Interval] = field(default_factory=list)


_PLAN_FIELDS = ("hours", "minutes", "raw", "days")


@dataclass(frozen=True)
class Buckets:
    """[start, end) in buckets of ``step`` seconds aligned to the epoch, or one bucket
    (``step`` None) that is exactly [start, end)."""

    start: datetime
    end: datetime
    step: int | None = None

    @property
    def window(self) -> bool:
        return self.step is None

    @cached_property
    def start_s(self) -> float:
        return self.start.timestamp()

    @cached_property
    def end_s(self) -> float:
        return self.end.timestamp()

    def fits(self, unit: timedelta) -> bool:
        """Whether every whole ``unit`` (minute, hour) lies inside one bucket."""
        return self.window or self.step % int(unit.total_seconds()) == 0

    def t_sql(self, col: str) -> str:
        """SQL for a row's bucket: its aligned start in epoch seconds (0 for a window)."""
        if self.window:
            return "0::int8"
        # floor(): a cast to int8 rounds, which would put 23:59:59.7 into the next bucket.
        return f"(floor({EPOCH.format(col)})::int8 / {self.step}) * {self.step}"

    def stamp(self, t: int) -> datetime:
        """The point's timestamp: the bucket's start, clipped by ``start``."""
        if self.window:
            return self.start
        return max(self.start, datetime.fromtimestamp(t, UTC))

    def stamp_s(self, t: int) -> float:
        start = self.start_s
        return start if self.window or t < start else t

    def seconds(self, t: int) -> float:
        """Seconds the bucket stamped ``t`` covers inside [start, end)."""
        if self.window:
            return self.end_s - self.start_s
        a, b = self.start_s, self.end_s
        return (b if b < t + self.step else t + self.step) - (a if a > t else t)


def _whole_days(b: Buckets, pend: Pending) -> list[Interval]:
    """Whole UTC days of ``b`` that are over and have nothing pending: their day rows are final."""
    if not b.fits(DAY):
        return []
    d0 = ceil_to(b.start, DAY)
    d1 = min(floor_to(b.end, DAY), floor_to(datetime.now(UTC), DAY))
    return subtract([(d0, d1)], pend.days) if d0 < d1 else []


def sample_plan(b: Buckets, pend: Pending, *, days: bool = True) -> Plan:
    """``days=False``: no day rows (a read needing ``first``, the earliest row's value, which a
    day row would answer with its last hour's)."""
    whole = [(b.start, b.end)]
    day_rows = _whole_days(b, pend) if days else []
    hours: list[Interval] = []
    if b.fits(HOUR):
        h0, h1 = ceil_to(b.start, HOUR), floor_to(b.end, HOUR)
        if h0 < h1:
            hours = subtract(subtract([(h0, h1)], day_rows), pend.hours)
    minutes: list[Interval] = []
    if b.fits(MINUTE):
        m0, m1 = ceil_to(b.start, MINUTE), floor_to(b.end, MINUTE)
        if m0 < m1:
            minutes = subtract(subtract([(m0, m1)], day_rows + hours), pend.minutes)
    raw = subtract(whole, day_rows + hours + minutes)
    return Plan(hours, minutes, raw, day_rows)


def histogram_plan(b: Buckets, pend: Pending) -> Plan:
    """Histogram rows are per minute (the 1-minute table is written by ingest itself): whole
    days and hours from the day and hour tables where they are up to date, every other minute
    from minutes."""
    day_rows = _whole_days(b, pend)
    hours: list[Interval] = []
    if b.fits(HOUR):
        h0, h1 = ceil_to(b.start, HOUR), floor_to(b.end, HOUR)
        if h0 < h1:
            hours = subtract(subtract([(h0, h1)], day_rows), pend.hist_hours)
    return Plan(hours, subtract([(b.start, b.end)], day_rows + hours), [], day_rows)


# --- rollup statistics (gauges and counters) -------------------------------------------------

# The statistics columns of one rollup row (lt: when its last value was taken, the bucket).
_ROLLUP_COLUMNS = {
    "c": "count::float8",
    "s": "sum",
    "lo": "min",
    "hi": "max",
    "lt": EPOCH.format("bucket"),
    "lv": "last",
}
_ROLLUP_SELECT = ", ".join(f"{expr} AS {name}" for name, expr in _ROLLUP_COLUMNS.items())
_STAT_SOURCES = {
    **{res: (f"collectors_rollup_{res}", "bucket", _ROLLUP_SELECT) for res in ("1d", "1h", "1m")},
    "raw": (
        "collectors_sample",
        "ts",
        f"1::float8 AS c, value AS s, value AS lo, value AS hi, {EPOCH.format('ts')} AS lt, value AS lv",
    ),
}


# The same columns over rows grouped by bucket (``_STAT_SOURCES``).
_GROUPED = {
    "c": "sum(c)",
    "s": "sum(s)",
    "lo": "min(lo)",
    "hi": "max(hi)",
    "lv": "(max(ARRAY[lt, lv]))[2]",
}


Read = tuple[Buckets, Plan, int | None]  # buckets, their plan, a constant t (window index)


def _series_match(ids: list[int] | str) -> tuple[str, list]:
    """SQL matching ``series_id`` to ``ids`` (a list, or an SQL expression giving one id)."""
    return ("= ANY(%s)", [ids]) if not isinstance(ids, str) else (f"= {ids}", [])


def _parts(reads: Sequence[Read], sources: dict, ids: list[int] | str) -> tuple[str, list]:
    """The rows of every stretch of ``reads``, for the series ``ids``: a list, or an SQL
    expression giving one series id (a look-up sent in the same statement)."""
    sql, params = [], []
    match, id_params = _series_match(ids)
    for b, plan, tag in reads:
        for res, intervals in (
            ("1d", plan.days),
            ("1h", plan.hours),
            ("1m", plan.minutes),
            ("raw", plan.raw),
        ):
            if res not in sources:
                continue
            table, col, columns = sources[res]
            t = f"{int(tag)}::int8" if tag is not None else b.t_sql(col)
            for a, z in intervals:
                sql.append(
                    f"SELECT series_id, {t} AS t, {columns} FROM {table} "
                    f"WHERE series_id {match} AND {col} >= %s AND {col} < %s"
                )
                params += [*id_params, a, z]
    return " UNION ALL ".join(sql), params


def _reads(windows: Sequence[Buckets], plan_of, pend: Pending | None = None) -> list[Read]:
    """One read per bucketed range, or per window tagged with its index; one look-up of the
    pending ranges for all of them (unless the caller has them: ``pend``)."""
    live = [w for w in windows if w.end > w.start]
    if not live:
        return []
    if pend is None:
        pend = pending(min(w.start for w in live), max(w.end for w in live))
    if len(windows) == 1 and not windows[0].window:
        return [(windows[0], plan_of(windows[0], pend), None)]
    return [(w, plan_of(w, pend), i) for i, w in enumerate(windows) if w.end > w.start]


@dataclass(frozen=True)
class SharedParts:
    """Windows ending together share what lies after midnight and after the hour their end
    falls in: [midnight, H) and [H, end) are each read once (windows of their own, indexes
    past the given windows) and added to every window holding them, instead of once per
    window. An SLO's window and its 1 h / 6 h / 1 d / 3 d burn spans all end now: today's
    hours were read three times and the current hour's minutes five."""

    windows: list[Buckets]  # what to read: each window cut at its first shared part, the parts
    holders: dict[int, list[int]]  # part index -> the windows it is added to


def shared_parts(windows: Sequence[Buckets]) -> SharedParts | None:
    ends = {w.end for w in windows}
    if len(windows) < 2 or len(ends) != 1 or any(not w.window for w in windows):
        return None
    end = ends.pop()
    cuts = sorted({c for c in (floor_to(end, DAY), floor_to(end, HOUR)) if c < end})
    n = len(windows)
    holders = {
        n + j: [i for i, w in enumerate(windows) if w.start <= c] for j, c in enumerate(cuts)
    }
    if not any(len(h) >= 2 for h in holders.values()):
        return None
    heads = []
    for w in windows:
        first = next((c for c in cuts if c >= w.start), None)
        heads.append(w if first is None else Buckets(w.start, first))
    parts = [Buckets(c, ([*cuts, end])[j + 1]) for j, c in enumerate(cuts)]
    return SharedParts([*heads, *parts], holders)


def _add_parts(out: dict, shared: SharedParts, join) -> dict:
    """Per key, each part's figures joined into its holders' (``join(head, part)``, head None
    when the window had no rows before it), earliest part first."""
    for index in sorted(shared.holders):
        part = {k: v for (k, t), v in out.items() if t == index}
        for k, v in part.items():
            del out[(k, index)]
            for i in shared.holders[index]:
                out[(k, i)] = join(out.get((k, i)), v)
    return out


def _lowest(a, b):
    return b if a is None else a if b is None else min(a, b)


def _highest(a, b):
    return b if a is None else a if b is None else max(a, b)


@dataclass(slots=True)
class Stats:
    """count, sum, min, max and last value of one series (or group) over one bucket; ``first``
    is the earliest row's value (the first sample from raw rows, an earliest minute's last from
    rollups), the baseline of a cumulative counter's increase when nothing precedes it."""

    count: float = 0.0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    last: float | None = None
    first: float | None = None


# The window aggregates of rollup statistics, written once for SQL (``read_aggregate``: charts
# and the API compute them in the database) and once for Python (``stat_value``: stats already
# read, e.g. a dashboard's KPI windows); tests check both against numpy on the raw samples.
AGG_SQL = {
    "avg": "{s} / NULLIF({c}, 0)",
    "sum": "CASE WHEN {c} > 0 THEN {s} END",
    "count": "{c}",
    "rate": "CASE WHEN {c} > 0 AND {secs} > 0 THEN {s} / {secs} END",
    "min": "{lo}",
    "max": "{hi}",
    "last": "{lv}",
}


def stat_value(agg: str, count: float, total: float, lo, hi, last, seconds: float) -> float | None:
    """A window aggregate from rollup statistics (the formulas of ``AGG_SQL``): avg, sum,
    count, min, max, last, and ``rate`` (per second) of a counter (per-interval counts)."""
    if agg == "avg":
        return total / count if count else None
    if agg == "sum":
        return total if count else None
    if agg == "count":
        return count
    if agg == "rate":
        return total / seconds if count and seconds > 0 else None
    if agg == "min":
        return lo
    if agg == "max":
        return hi
    if agg == "last":
        return last
    raise ValueError(f"{agg} is not a window aggregate of rollups")


_STAT_COLUMNS = {
    # column: (per series and bucket, across a group)
    "count": ("sum(c)", "sum"),
    "sum": ("sum(s)", "sum"),
    "min": ("min(lo)", "min"),
    "max": ("max(hi)", "max"),
    "last": ("(max(ARRAY[lt, lv]))[2]", "sum"),
    "first": ("(min(ARRAY[lt, lv]))[2]", "sum"),
}
NEEDS = {
    "avg": ("count", "sum"),
    "sum": ("count", "sum"),
    "count": ("count",),
    "rate": ("count", "sum"),
    "min": ("min",),
    "max": ("max",),
    "last": ("last",),
}


def read_stats(
    ids: Sequence[int],
    b: Buckets | Sequence[Buckets],
    *,
    groups: dict[int, int] | None = None,
    need: Iterable[str] = tuple(_STAT_COLUMNS),
    pend: Pending | None = None,
) -> dict[tuple[int, int], Stats]:
    """Stats per (series id — or group id when ``groups`` maps series to groups —, bucket t).

    ``b``: one bucketed range (t = the bucket's aligned start, 0 for a window), or several
    windows read in one statement (t = the window's index). ``need``: the Stats fields to
    compute (the others stay None/0), e.g. ``NEEDS[agg]``.
    Across a group, count/sum/min/max pool every sample of its series; ``last`` is the sum of
    the series' last values (the group's total of gauges such as queue depths)."""
    ids = list(ids)
    windows = [b] if isinstance(b, Buckets) else list(b)
    need = [c for c in _STAT_COLUMNS if c in set(need)]
    if not ids or not need:
        return {}
    plan = sample_plan if "first" not in need else partial(sample_plan, days=False)
    # last / first of a group add up per series: they cannot be joined from two parts' totals.
    shared = shared_parts(windows) if set(need) <= {"count", "sum", "min", "max"} else None
    inner, params = _parts(
        _reads(shared.windows if shared else windows, plan, pend), _STAT_SOURCES, ids
    )
    if not inner:
        return {}
    per_series = (
        "SELECT series_id, t, "
        + ", ".join(_STAT_COLUMNS[c][0] for c in need)
        + f" FROM ({inner}) AS p GROUP BY 1, 2"
    )
    if groups is None:
        sql = per_series
    else:
        sql = (
            "SELECT g.gid, w.t, "
            + ", ".join(f"{_STAT_COLUMNS[c][1]}(w.{c})" for c in need)
            + f" FROM ({per_series}) AS w(series_id, t, {', '.join(need)}) "
            "JOIN unnest(%s::int8[], %s::int8[]) AS g(sid, gid) ON g.sid = w.series_id GROUP BY 1, 2"
        )
        params += [list(groups), list(groups.values())]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    # Positions of the selected columns among Stats' fields (count, sum, min, max, last, first).
    fields = list(_STAT_COLUMNS)
    if need == fields[: len(need)]:
        out = {(k, t): Stats(*values) for k, t, *values in rows}
    else:
        where = [fields.index(c) for c in need]
        out = {}
        for k, t, *values in rows:
            full = [0.0, 0.0, None, None, None, None]
            for i, v in zip(where, values, strict=True):
                full[i] = v
            out[(k, t)] = Stats(*full)
    return _add_parts(out, shared, _join_stats) if shared else out


def _join_stats(head: Stats | None, part: Stats) -> Stats:
    if head is None:
        return Stats(part.count, part.sum, part.min, part.max)
    return Stats(
        head.count + part.count,
        (head.sum or 0.0) + (part.sum or 0.0),
        _lowest(head.min, part.min),
        _highest(head.max, part.max),
    )


def _secs(b: Buckets, agg: str, t: str = "t") -> tuple[str, list]:
    """The seconds of the bucket stamped ``t`` inside [start, end), for ``AGG_SQL[agg]``, and
    the parameters its uses take (the bounds are parameters: the statement's text is then the
    same for every window of one shape, and the API prepares it)."""
    sql = f"(LEAST({t} + {b.step}, %s::float8) - GREATEST({t}, %s::float8))"
    return sql, [b.end_s, b.start_s] * AGG_SQL[agg].count("{secs}")


def read_aggregate(
    ids: Sequence[int],
    b: Buckets,
    agg: str,
    *,
    groups: dict[int, int] | None = None,
    pend: Pending | None = None,
) -> list[tuple[int, int, float | None]]:
    """(series or group id, bucket t, ``agg``) ordered by id and t, computed in the database:
    the hot path of charts and the query API (no per-point work in Python but the answer)."""
    ids = list(ids)
    if not ids:
        return []
    inner, params = _parts(_reads([b], sample_plan, pend), _STAT_SOURCES, ids)
    if not inner:
        return []
    if b.window:
        secs, secs_params = f"{b.end_s - b.start_s!r}::float8", []
    else:
        secs, secs_params = _secs(b, agg)
    params = [*secs_params, *params]  # the seconds come first in the statement, then the rows
    if groups is None:
        final = AGG_SQL[agg].format(secs=secs, **_GROUPED)
        sql = f"SELECT series_id, t, {final} FROM ({inner}) AS p GROUP BY 1, 2 ORDER BY 1, 2"
    else:
        columns = ", ".join(f"{expr} AS {name}" for name, expr in _GROUPED.items())
        across = {
            "c": "sum(w.c)",
            "s": "sum(w.s)",
            "lo": "min(w.lo)",
            "hi": "max(w.hi)",
            "lv": "sum(w.lv)",
        }
        final = AGG_SQL[agg].format(secs=secs, **across)
        sql = (
            f"SELECT g.gid, w.t, {final} FROM (SELECT series_id, t, {columns} "
            f"FROM ({inner}) AS p GROUP BY 1, 2) AS w "
            "JOIN unnest(%s::int8[], %s::int8[]) AS g(sid, gid) ON g.sid = w.series_id "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        params += [list(groups), list(groups.values())]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


# The rollup whose buckets are a step of this many seconds: its plan field, its source.
_OWN_ROLLUP = {60: ("minutes", "1m"), 3600: ("hours", "1h"), 86400: ("days", "1d")}


def aggregate_line_sql(series: int | str, b: Buckets, agg: str, plan: Plan) -> tuple[str, list]:
    """The statement of ``read_aggregate_line`` for ``plan``, empty when there is nothing to
    read: one row, the points as the text of a JSON array of [unix seconds, value], the first
    stamped ``b.start`` when start clips its bucket (written as orjson writes that float).
    ``series`` is a series id or an SQL expression giving one (the query API reads its series
    look-up and this line in one statement). Values are float8's shortest exact text, the same
    text the rows' values are parsed from, so they read back as the same numbers (an integral
    one without ".0"). For the query API's 1,440-point answer this saves parsing 1,440 rows and
    writing them again (~0.5 ms of CPU time per request, measured on the bench dataset).

    The plan's stretches go in time order: each stretch of the rollup whose resolution is the
    step is written row by row in the index's order, each row one whole bucket computed as it
    is; each run of other stretches is grouped by bucket. A stretch's buckets are all later
    than the previous stretch's (stretches are disjoint, the own rollup's rows are whole
    buckets), so nothing is sorted but the few grouped buckets: against one grouping and sort
    of every point, 1.48 -> 1.20 ms for 24 h at 1 m (prepared, bench dataset)."""
    if b.window:
        return "", []
    own, own_source = _OWN_ROLLUP.get(b.step, (None, None))
    ids = series if isinstance(series, str) else [series]
    match, id_params = _series_match(ids)
    start = [math.ceil(b.start_s), orjson.dumps(b.start_s).decode()]
    stretches = sorted((a, z, res) for res in _PLAN_FIELDS for a, z in getattr(plan, res))
    pieces: list[str] = []
    params: list = []
    run: list[tuple[datetime, datetime, str]] = []

    def grouped() -> None:
        if not run:
            return
        sub = Plan(**{res: [(a, z) for a, z, r in run if r == res] for res in _PLAN_FIELDS})
        rows, row_params = _parts([(b, sub, None)], _STAT_SOURCES, ids)
        secs, secs_params = _secs(b, agg)
        value = AGG_SQL[agg].format(secs=secs, **_GROUPED)
        # t is whole seconds: t < start exactly when t < ceil(start); such a bucket is
        # stamped start (written as orjson writes that float).
        pieces.append(
            "(SELECT string_agg(CASE WHEN t < %s::int8 THEN %s::text ELSE t::text END"
            " || ',' || v, '],[' ORDER BY t)"
            f" FROM (SELECT t, {value} AS v FROM ({rows}) AS p GROUP BY 1) AS g"
            " WHERE v IS NOT NULL)"
        )
        params.extend([*start, *secs_params, *row_params])
        run.clear()

    for a, z, res in stretches:
        if res != own:
            run.append((a, z, res))
            continue
        grouped()
        table, col, _ = _STAT_SOURCES[own_source]
        t = b.t_sql(col)
        secs, secs_params = _secs(b, agg, t)
        value = AGG_SQL[agg].format(secs=secs, **_ROLLUP_COLUMNS)
        pieces.append(
            "(SELECT string_agg(t::text || ',' || v, '],[' ORDER BY k)"
            f" FROM (SELECT {col} AS k, {t} AS t, {value} AS v FROM {table}"
            f" WHERE series_id {match} AND {col} >= %s AND {col} < %s) AS r WHERE v IS NOT NULL)"
        )
        params.extend([*secs_params, *id_params, a, z])
    grouped()
    if not pieces:
        return "", []
    texts = f"array_to_string(ARRAY[{', '.join(pieces)}]::text[], '],[')"  # NULLs left out
    return f"SELECT coalesce('[[' || nullif({texts}, '') || ']]', '[]')", params


def read_aggregate_line(
    series_id: int, b: Buckets, agg: str, *, pend: Pending | None = None
) -> str:
    """The points of one series, ``agg`` per bucket, as the text of a JSON array of [unix
    seconds, value], buckets without a value left out (the query API's one-series answer,
    where building them again in Python cost as much as the database's work; see
    ``aggregate_line_sql``)."""
    reads = _reads([b], sample_plan, pend)
    sql, params = aggregate_line_sql(series_id, b, agg, reads[0][1]) if reads else ("", [])
    if not sql:
        return "[]"
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def read_raw_percentile(
    ids: Sequence[int], b: Buckets, q: float, *, groups: dict[int, int] | None = None
) -> dict[tuple[int, int], float]:
    """Exact q-quantile (linear between closest ranks, as numpy) of the raw samples pooled per
    series or group and bucket."""
    ids = list(ids)
    if not ids or b.end <= b.start:
        return {}
    key = "series_id" if groups is None else "g.gid"
    join = (
        ""
        if groups is None
        else "JOIN unnest(%s::int8[], %s::int8[]) AS g(sid, gid) ON g.sid = s.series_id "
    )
    params: list = [] if groups is None else [list(groups), list(groups.values())]
    sql = (
        f"SELECT {key}, {b.t_sql('ts')} AS t, percentile_cont({float(q)}) WITHIN GROUP (ORDER BY value) "
        f"FROM collectors_sample AS s {join}"
        "WHERE s.series_id = ANY(%s) AND ts >= %s AND ts < %s GROUP BY 1, 2"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*params, ids, b.start, b.end])
        return {(k, t): v for k, t, v in cur.fetchall()}


# --- latency histograms -----------------------------------------------------------------------


@dataclass
class HistogramStats:
    """Latency buckets of one series (or a merged group) over one bucket of time."""

    count: float = 0.0
    sum: float = 0.0
    counts: list[int] = field(default_factory=histogram.empty)

    def merge(self, other: HistogramStats) -> HistogramStats:
        self.count += other.count
        self.sum += other.sum
        self.counts = [x + y for x, y in zip(self.counts, other.counts, strict=True)]
        return self

    @property
    def avg(self) -> float | None:
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        return histogram.quantile(self.counts, q)

    def value(self, agg: str, seconds: float) -> float | None:
        """avg, sum, count, rate (requests per second) or p50/p95/p99 of these requests."""
        if agg in PERCENTILES:
            return self.quantile(PERCENTILES[agg])
        if agg == "avg":
            return self.avg
        if agg == "count":
            return self.count
        if agg == "sum":
            return self.sum if self.count else None
        if agg == "rate":
            return self.count / seconds if seconds > 0 else None
        raise ValueError(f"{agg} is not available for a latency histogram")


PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def _sum_buckets(upto: int) -> str:
    upto = max(1, min(upto, histogram.N_BUCKETS))
    sums = ", ".join(f"coalesce(sum(counts[{i}]), 0)::int8" for i in range(1, upto + 1))
    return f"ARRAY[{sums}]"


_HIST_SOURCES = {
    "1d": ("collectors_histogram_1d", "bucket", "count, sum, counts"),
    "1h": ("collectors_histogram_1h", "bucket", "count, sum, counts"),
    "1m": ("collectors_histogram_1m", "bucket", "count, sum, counts"),
}


def read_histograms(
    ids: Sequence[int],
    b: Buckets | Sequence[Buckets],
    *,
    groups: dict[int, int] | None = None,
    with_buckets: bool = True,
    pend: Pending | None = None,
    upto: int = histogram.N_BUCKETS,
) -> dict[tuple[int, int], HistogramStats]:
    """Merged latency histograms per (series or group id, bucket t; see ``read_stats``);
    ``with_buckets=False`` reads only count and sum, ``upto`` only the first buckets (the
    others stay 0: what a latency SLI up to its threshold needs)."""
    ids = list(ids)
    windows = [b] if isinstance(b, Buckets) else list(b)
    if not ids:
        return {}
    shared = shared_parts(windows)
    inner, params = _parts(
        _reads(shared.windows if shared else windows, histogram_plan, pend), _HIST_SOURCES, ids
    )
    if not inner:
        return {}
    if groups is None:
        key, join = "series_id", ""
    else:
        key = "g.gid"
        join = " JOIN unnest(%s::int8[], %s::int8[]) AS g(sid, gid) ON g.sid = h.series_id"
        params += [list(groups), list(groups.values())]
    # Bucket counts are summed position by position (one sum per bucket index, in C): several
    # times faster than unnest + GROUP BY, and its cost hardly grows with merged series.
    buckets = f", {_sum_buckets(upto)}" if with_buckets else ""
    sql = (
        f"SELECT {key}, t, sum(count)::float8, sum(sum){buckets} "
        f"FROM ({inner}) AS h{join} GROUP BY 1, 2"
    )
    out: dict[tuple[int, int], HistogramStats] = {}
    with connection.cursor() as cur:
        cur.execute(sql, params)
        for k, t, count, total, *counts in cur.fetchall():
            vector = histogram.empty()
            if counts:
                vector[: len(counts[0])] = counts[0]
            out[(k, t)] = HistogramStats(count, total or 0.0, vector)
    if shared:
        out = _add_parts(out, shared, _join_histograms)
    return {k: w for k, w in out.items() if w.count}


def _join_histograms(head: HistogramStats | None, part: HistogramStats) -> HistogramStats:
    joined = HistogramStats(part.count, part.sum, list(part.counts))
    return joined if head is None else joined.merge(head)
