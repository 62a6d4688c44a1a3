"""Batched store reads agree with the one-series-at-a-time selectors on the same data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.store import batch, write_request_timings, write_samples
from collectors.store.query import merged_quantiles, series_query, window_values
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


@pytest.fixture
def world(now):
    items = []
    for host, base in (("web-1", 10.0), ("db-1", 50.0)):
        for i in range(60):  # one sample every 30 minutes over 30 hours
            items.append(
                {
                    "metric": "host_cpu_percent",
                    "labels": {"host": host},
                    "value": base + i % 7,
                    "ts": now - timedelta(minutes=30 * i + 7),
                }
            )
    write_samples(items)
    timings = [
        {
            "service": "api",
            "route": route,
            "method": "GET",
            "status": 200,
            "duration_ms": base + (i % 50),
            "ts": now - timedelta(minutes=17 * i + 3),
        }
        for route, base in (("/a", 20.0), ("/b", 300.0))
        for i in range(100)
    ]
    write_request_timings(timings)
    run_rollups()
    return now


def ids(name):
    return [s.id for s in batch.find_series([name])[name]]


def test_window_stats_match_window_values_over_two_periods(world, now):
    periods = [
        (now - timedelta(hours=24), now),
        (now - timedelta(hours=30), now - timedelta(hours=24)),
    ]
    stats = batch.window_stats(ids("host_cpu_percent"), periods)
    by_id = {s.id: s for s in batch.find_series(["host_cpu_percent"])["host_cpu_percent"]}
    for p, (start, end) in enumerate(periods):
        for agg in ("avg", "sum", "min", "max", "last", "count"):
            expected = {
                lbls["host"]: v
                for lbls, v in window_values(
                    metric="host_cpu_percent", start=start, end=end, agg=agg
                )
            }
            got = {
                by_id[sid].labels["host"]: st.value(agg, (end - start).total_seconds())
                for (sid, i), st in stats.items()
                if i == p
            }
            assert got == pytest.approx(expected), (agg, p)


def test_histogram_windows_give_the_same_percentiles_as_merged_quantiles(world, now):
    start, end = now - timedelta(hours=30), now
    windows = batch.histogram_windows(ids("http_request_duration_ms"), [(start, end)])
    all_routes = batch.merged(windows.values())
    expected = merged_quantiles(
        metric="http_request_duration_ms", labels=None, start=start, end=end
    )
    for q in (0.5, 0.95, 0.99):
        assert all_routes.quantile(q) == pytest.approx(expected[q])
    assert all_routes.count == 200
    assert all_routes.avg == pytest.approx(
        (100 * 20 + 100 * 300 + 2 * sum(i % 50 for i in range(100))) / 200
    )


def test_a_window_reads_whole_hours_hourly_and_its_edges_by_minute(world, now):
    # An edge that is not on the hour: the minutes before the first whole hour still count.
    start = now.replace(minute=0) - timedelta(hours=5, minutes=-20)
    end = now
    windows = batch.histogram_windows(ids("http_request_duration_ms"), [(start, end)])
    got = sum(w.count for w in windows.values())
    expected = sum(
        v
        for _, v in window_values(
            metric="http_request_duration_ms", start=start, end=end, agg="count"
        )
    )
    assert got == expected > 0


def test_quantile_lines_match_series_query(world, now):
    start, end = now - timedelta(hours=24), now
    series = ids("http_request_duration_ms")
    lines = batch.histogram_quantile_lines(
        series, start=start, end=end, step=3600, quantiles=(0.95,)
    )
    result = series_query(
        metric="http_request_duration_ms", start=start, end=end, step=3600, agg="p95"
    )
    for s in result.series:
        assert [(t, pytest.approx(v)) for t, v in s.points] == lines[s.series_id][0.95]


def test_empty_inputs_read_nothing(db, now):
    assert batch.window_stats([], [(now - timedelta(hours=1), now)]) == {}
    assert batch.histogram_windows([1], []) == {}
    assert batch.find_series(["no_such_metric"]) == {"no_such_metric": []}


def test_windows_ending_together_read_their_shared_hours_once_and_agree(world, now):
    # A 30 h, a 24 h, a 6 h, a 1 h and a 5 min window ending now, as an SLO's burn spans do:
    # today's hours and the current hour are read once for all of them.
    periods = [(now - timedelta(minutes=m), now) for m in (30 * 60, 24 * 60, 6 * 60, 60, 5)]
    sums = batch.window_sums(ids("host_cpu_percent"), periods)
    by_id = {s.id: s for s in batch.find_series(["host_cpu_percent"])["host_cpu_percent"]}
    hists = batch.histogram_windows(ids("http_request_duration_ms"), periods)
    for p, (start, end) in enumerate(periods):
        expected = {
            lbls["host"]: v
            for lbls, v in window_values(metric="host_cpu_percent", start=start, end=end, agg="sum")
        }
        got = {by_id[sid].labels["host"]: v for (sid, i), v in sums.items() if i == p}
        assert got == pytest.approx(expected), p
        alone = batch.histogram_windows(ids("http_request_duration_ms"), [(start, end)])
        together = {sid: w for (sid, i), w in hists.items() if i == p}
        assert {sid: (w.count, w.counts) for (sid, _), w in alone.items()} == {
            sid: (w.count, w.counts) for sid, w in together.items()
        }, p
    assert sum(w.count for (_, i), w in hists.items() if i == 0) == 200
