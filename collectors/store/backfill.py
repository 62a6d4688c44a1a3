"""Bulk history for demo data and imports: writes minute rollups directly (and raw samples
for the recent part), then derives the hourly rollups in SQL.

Ingest refuses samples older than raw retention, so a 30-day history cannot go through it;
this writes the same tables the rollup job would have produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction

from collectors.store import histogram, partitions
from collectors.store.rollups import HIST_TO_1H, MINUTE_TO_1H, roll_days
from collectors.store.series import resolve, series_key


def backfill_series(
    points: dict[tuple[str, tuple], list[tuple[datetime, float]]],
    *,
    raw_since: datetime,
    units: dict[str, str] | None = None,
) -> int:
    """``points``: (metric, sorted label items) -> [(ts, value)], at most one point per minute.

    Every point becomes a 1-minute rollup row; points at or after ``raw_since`` are also
    stored as raw samples. Returns the number of points.
    """
    wanted = {}
    for metric, label_items in points:
        labels = dict(label_items)
        wanted[series_key(metric, labels)] = (metric, labels, (units or {}).get(metric, ""), None)
    total = 0
    with transaction.atomic():
        ids = resolve(wanted)
        all_ts = [ts for series in points.values() for ts, _ in series]
        if not all_ts:
            return 0
        lo, hi = min(all_ts), max(all_ts)
        days = _days(lo, hi)
        partitions.ensure_all_tables(days)
        with connection.cursor() as wrapper:
            cur = wrapper.cursor
            with cur.copy(
                "COPY collectors_rollup_1m (series_id, bucket, count, sum, min, max, last) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int8", "timestamptz", "int4", "float8", "float8", "float8", "float8"]
                )
                for (metric, label_items), series in points.items():
                    sid = ids[series_key(metric, dict(label_items))]
                    for ts, v in series:
                        copy.write_row((sid, ts.replace(second=0, microsecond=0), 1, v, v, v, v))
                        total += 1
            with cur.copy(
                "COPY collectors_sample (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "timestamptz", "float8"])
                for (metric, label_items), series in points.items():
                    sid = ids[series_key(metric, dict(label_items))]
                    for ts, v in series:
                        if ts >= raw_since:
                            copy.write_row((sid, ts, v))
            cur.execute(
                MINUTE_TO_1H,
                [lo.replace(minute=0, second=0, microsecond=0), hi + timedelta(hours=1)],
            )
            roll_days(cur, days, histograms=False)
    return total


def backfill_histograms(
    rows: Iterable[tuple[dict, datetime, list[int], float]],
    *,
    minute_since: datetime,
) -> int:
    """Latency history for ``http_request_duration_ms``: rows of (labels, bucket start, counts,
    sum of durations). Rows older than ``minute_since`` are hourly; newer ones per minute."""
    rows = list(rows)
    if not rows:
        return 0
    wanted = {
        series_key("http_request_duration_ms", labels): (
            "http_request_duration_ms",
            labels,
            "ms",
            "histogram",
        )
        for labels, *_ in rows
    }
    with transaction.atomic():
        ids = resolve(wanted)
        lo = min(r[1] for r in rows)
        hi = max(r[1] for r in rows)
        partitions.ensure_all_tables(_days(lo, hi))
        minute_rows = [r for r in rows if r[1] >= minute_since]
        hour_rows = [r for r in rows if r[1] < minute_since]
        with connection.cursor() as cur:
            for table, chunk in (
                ("collectors_histogram_1m", minute_rows),
                ("collectors_histogram_1h", hour_rows),
            ):
                cur.executemany(
                    f"INSERT INTO {table} (series_id, bucket, count, sum, counts) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT (series_id, bucket) DO NOTHING",
                    [
                        (
                            ids[series_key("http_request_duration_ms", labels)],
                            ts,
                            sum(counts),
                            total,
                            histogram.trimmed(counts),
                        )
                        for labels, ts, counts, total in chunk
                    ],
                )
            if minute_rows:
                start = min(r[1] for r in minute_rows).replace(minute=0)
                cur.execute(HIST_TO_1H, [start, hi + timedelta(hours=1)])
            roll_days(cur, _days(lo, hi), samples=False)
    return len(rows)


def _days(lo: datetime, hi: datetime) -> set:
    days, d = set(), lo.date()
    while d <= hi.date():
        days.add(d)
        d += timedelta(days=1)
    return days
