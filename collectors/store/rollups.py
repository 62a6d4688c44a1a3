"""Keeping the 1-minute and 1-hour tables up to date (a beat task runs this every 15 s).

Ingest records the time range of every batch in collectors_dirty_range; a run takes those rows,
recomputes the affected minutes from raw samples (and the affected hours from minutes), and
upserts them. Late samples are therefore rolled up like fresh ones. Runs never overlap (an
advisory lock); a failed run rolls back and leaves the ranges for the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from collectors.store import partitions

ROLLUP_LOCK_ID = 0x50454E47  # "PENG"

# `last` is the value at the latest timestamp: max() over [epoch, value] arrays compares the
# epoch first, which is much cheaper than array_agg(... ORDER BY ...).
SAMPLE_TO_1M = """
INSERT INTO collectors_rollup_1m (series_id, bucket, count, sum, min, max, last)
SELECT series_id, date_trunc('minute', ts), count(*), sum(value), min(value), max(value),
       (max(ARRAY[extract(epoch FROM ts)::float8, value]))[2]
FROM collectors_sample WHERE ts >= %s AND ts < %s
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
    min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last
"""

MINUTE_TO_1H = """
INSERT INTO collectors_rollup_1h (series_id, bucket, count, sum, min, max, last)
SELECT series_id, date_trunc('hour', bucket), sum(count), sum(sum), min(min), max(max),
       (max(ARRAY[extract(epoch FROM bucket)::float8, last]))[2]
FROM collectors_rollup_1m WHERE bucket >= %s AND bucket < %s
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
    min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last
"""

HIST_TO_1H = """
INSERT INTO collectors_histogram_1h (series_id, bucket, count, sum, counts)
SELECT series_id, date_trunc('hour', bucket), sum(count), sum(sum), pm_array_sum(counts)
FROM collectors_histogram_1m WHERE bucket >= %s AND bucket < %s
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
    counts = EXCLUDED.counts
"""


def _floor(ts: datetime, unit: str) -> datetime:
    ts = ts.replace(second=0, microsecond=0)
    return ts.replace(minute=0) if unit == "hour" else ts


def _merge(ranges: list[tuple[datetime, datetime]], unit: str) -> list[tuple[datetime, datetime]]:
    """Align ranges to whole minutes/hours and merge the overlapping ones."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(minutes=1)
    aligned = sorted((_floor(a, unit), _floor(b, unit) + step) for a, b in ranges)
    merged: list[list[datetime]] = []
    for a, b in aligned:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _chunks(ranges, size: timedelta = timedelta(hours=6)):
    """Split long ranges so one statement never aggregates weeks of raw samples at once."""
    for a, b in ranges:
        while a < b:
            yield a, min(a + size, b)
            a += size


def _days(ranges) -> set:
    days = set()
    for a, b in ranges:
        d = a.date()
        while d <= b.date():
            days.add(d)
            d += timedelta(days=1)
    return days


def run_rollups() -> dict:
    """Recompute the rollups for every range written since the last run."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK_ID])
        if not cur.fetchone()[0]:
            return {"skipped": "another rollup run holds the lock"}
        cur.execute("DELETE FROM collectors_dirty_range RETURNING kind, start_ts, end_ts")
        by_kind: dict[str, list] = {"sample": [], "histogram": []}
        for kind, start, end in cur.fetchall():
            by_kind.setdefault(kind, []).append((start, end))
        done = {"minute_ranges": 0, "hour_ranges": 0}
        sample_minutes = _merge(by_kind["sample"], "minute")
        if sample_minutes:
            partitions.ensure_partitions("collectors_rollup_1m", _days(sample_minutes))
            for a, b in _chunks(sample_minutes):
                cur.execute(SAMPLE_TO_1M, [a, b])
            hours = _merge(sample_minutes, "hour")
            partitions.ensure_partitions("collectors_rollup_1h", _days(hours))
            for a, b in _chunks(hours, timedelta(days=7)):
                cur.execute(MINUTE_TO_1H, [a, b])
            done["minute_ranges"] += len(sample_minutes)
            done["hour_ranges"] += len(hours)
        if by_kind["histogram"]:
            hours = _merge(by_kind["histogram"], "hour")
            partitions.ensure_partitions("collectors_histogram_1h", _days(hours))
            for a, b in _chunks(hours, timedelta(days=7)):
                cur.execute(HIST_TO_1H, [a, b])
            done["hour_ranges"] += len(hours)
        return done
