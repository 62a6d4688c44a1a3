"""Keeping the 1-minute, 1-hour and 1-day tables up to date (a beat task runs this every 15 s).

Ingest records the time range of every batch in collectors_dirty_range; a run takes those rows,
recomputes the affected minutes from raw samples (and the affected hours from minutes), and
upserts them. Late samples are therefore rolled up like fresh ones. Runs never overlap (an
advisory lock); a failed run rolls back and leaves the ranges for the next one.

Days are rolled up from hours once they are over: a day touched while it is still running
gets a ``day`` range instead, which later runs keep until the day has ended and then roll up.
Readers treat a day with any range on it as pending (read from hours), so a day row is either
exact or not used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

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


HOUR_TO_1D = """
INSERT INTO collectors_rollup_1d (series_id, bucket, count, sum, min, max, last)
SELECT series_id, date_trunc('day', bucket, 'UTC'), sum(count), sum(sum), min(min), max(max),
       (max(ARRAY[extract(epoch FROM bucket)::float8, last]))[2]
FROM collectors_rollup_1h WHERE bucket >= %s AND bucket < %s
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
    min = EXCLUDED.min, max = EXCLUDED.max, last = EXCLUDED.last
"""

HIST_TO_1D = """
INSERT INTO collectors_histogram_1d (series_id, bucket, count, sum, counts)
SELECT series_id, date_trunc('day', bucket, 'UTC'), sum(count), sum(sum), pm_array_sum(counts)
FROM collectors_histogram_1h WHERE bucket >= %s AND bucket < %s
GROUP BY 1, 2
ON CONFLICT (series_id, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
    counts = EXCLUDED.counts
"""

DAY = timedelta(days=1)


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def days_of(ranges) -> set[date]:
    """UTC days holding some of [a, b) for each range (``b`` exclusive: a range ending at
    midnight does not touch the next day)."""
    out = set()
    for a, b in ranges:
        d, last = a.astimezone(UTC).date(), (b.astimezone(UTC) - timedelta(microseconds=1)).date()
        while d <= last:
            out.add(d)
            d += DAY
    return out


def roll_days(
    cur,
    days: set[date],
    *,
    now: datetime | None = None,
    samples: bool = True,
    histograms: bool = True,
) -> int:
    """Recompute the day rows (of samples and/or histograms) of every day in ``days`` that is
    over; mark the others (today) with a ``day`` range for a later run, which recomputes both
    kinds then. Returns the days rolled."""
    now = now or datetime.now(UTC)
    over = sorted(d for d in days if _day_start(d) + DAY <= now)
    running = sorted(set(days) - set(over))
    if over:
        partitions.ensure_partitions("collectors_rollup_1d", set(over))
        partitions.ensure_partitions("collectors_histogram_1d", set(over))
        for d in over:
            start = _day_start(d)
            if samples:
                cur.execute(HOUR_TO_1D, [start, start + DAY])
            if histograms:
                cur.execute(HIST_TO_1D, [start, start + DAY])
    if running:
        cur.executemany(
            "INSERT INTO collectors_dirty_range (kind, start_ts, end_ts) VALUES ('day', %s, %s)",
            [(_day_start(d), _day_start(d) + DAY) for d in running],
        )
    return len(over)


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
        by_kind: dict[str, list] = {"sample": [], "histogram": [], "day": []}
        for kind, start, end in cur.fetchall():
            by_kind.setdefault(kind, []).append((start, end))
        done = {"minute_ranges": 0, "hour_ranges": 0, "days": 0}
        days = days_of(by_kind["day"])
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
            days |= days_of(hours)
        if by_kind["histogram"]:
            hours = _merge(by_kind["histogram"], "hour")
            partitions.ensure_partitions("collectors_histogram_1h", _days(hours))
            for a, b in _chunks(hours, timedelta(days=7)):
                cur.execute(HIST_TO_1H, [a, b])
            done["hour_ranges"] += len(hours)
            days |= days_of(hours)
        done["days"] = roll_days(cur, days)
        return done
