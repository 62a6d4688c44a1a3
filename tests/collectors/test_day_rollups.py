"""Day rollups: a window over past days reads one row per day and still counts every sample,
late ones included; today stays pending until it is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from collectors.store import batch, write_request_timings, write_samples
from collectors.store.query import window_values
from collectors.store.reader import Buckets, pending, sample_plan
from collectors.store.rollups import roll_days, run_rollups

pytestmark = pytest.mark.django_db(transaction=True)

DAYS = 4


@pytest.fixture
def now():
    return datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def hourly(now):
    """One sample every 20 minutes over the last four days, the last one at ``now`` (so today
    has one even in its first 20 minutes): value = the hour of the day."""
    start = now - timedelta(days=DAYS)
    items = []
    ts = start
    while ts <= now:
        items.append({"metric": "daily_load", "labels": {"host": "a"}, "value": ts.hour, "ts": ts})
        ts += timedelta(minutes=20)
    write_samples(items)
    run_rollups()
    return items


def _day_rows(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def _window(agg: str, start: datetime, end: datetime) -> float:
    [(_, value)] = window_values(metric="daily_load", start=start, end=end, agg=agg)
    return value


def test_a_window_over_past_days_counts_every_sample_from_day_rows(hourly, now):
    start = now - timedelta(days=DAYS) + timedelta(minutes=7)  # edges inside an hour
    plan = sample_plan(Buckets(start, now), pending(start, now))
    assert len(plan.days) >= 1 and _day_rows("collectors_rollup_1d") >= DAYS - 1
    inside = [i["value"] for i in hourly if start <= i["ts"] < now]
    assert _window("count", start, now) == len(inside)
    assert _window("sum", start, now) == sum(inside)
    assert _window("max", start, now) == 23
    assert _window("min", start, now) == 0
    assert _window("last", start, now) == [i for i in hourly if i["ts"] < now][-1]["value"]


def test_a_late_sample_in_a_past_day_counts_before_and_after_the_rollup(hourly, now):
    start = now - timedelta(days=DAYS)
    before = _window("sum", start, now)
    # At second 30: the fixture's samples sit on whole minutes, and one at the same time would
    # be overwritten (last write wins) instead of added.
    late = (now - timedelta(days=2)).replace(hour=12, minute=1, second=30)
    write_samples([{"metric": "daily_load", "labels": {"host": "a"}, "value": 1000, "ts": late}])
    assert _window("sum", start, now) == before + 1000  # pending: read from raw samples
    assert _window("max", start, now) == 1000
    run_rollups()
    assert _window("sum", start, now) == before + 1000  # the day row was recomputed
    assert _window("max", start, now) == 1000


def test_today_is_rolled_up_once_it_is_over(hourly, now):
    today = now.date()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM collectors_dirty_range WHERE kind = 'day' AND start_ts = %s",
            [datetime(today.year, today.month, today.day, tzinfo=UTC)],
        )
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM collectors_rollup_1d WHERE bucket::date = %s", [today])
        assert cur.fetchone()[0] == 0
        midnight = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        assert roll_days(cur, {today}, now=midnight) == 1
        cur.execute(
            "SELECT count, sum FROM collectors_rollup_1d WHERE bucket = %s",
            [midnight - timedelta(days=1)],
        )
        assert cur.fetchone() == (
            sum(1 for i in hourly if i["ts"].date() == today),
            sum(i["value"] for i in hourly if i["ts"].date() == today),
        )


def test_latency_windows_over_days_count_every_request(now):
    start = now - timedelta(days=3)
    timings = [
        {
            "service": "api",
            "route": "/a",
            "method": "GET",
            "status": 200,
            "duration_ms": 10 + i % 90,
            "ts": start + timedelta(minutes=37 * i + 1),
        }
        for i in range(3 * 24 * 60 // 37)
    ]
    write_request_timings(timings)
    run_rollups()
    assert _day_rows("collectors_histogram_1d") >= 2
    ids = [
        s.id for s in batch.find_series(["http_request_duration_ms"])["http_request_duration_ms"]
    ]
    windows = batch.histogram_windows(ids, [(start, now), (start + timedelta(days=1), now)])
    assert sum(w.count for (_, p), w in windows.items() if p == 0) == len(timings)
    later = [t for t in timings if t["ts"] >= start + timedelta(days=1)]
    assert sum(w.count for (_, p), w in windows.items() if p == 1) == len(later)
    assert sum(w.sum for (_, p), w in windows.items() if p == 0) == sum(
        t["duration_ms"] for t in timings
    )
