from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from collectors.store import QueryError, write_request_timings, write_samples
from collectors.store.partitions import drop_expired
from collectors.store.query import latest_values, series_query, window_values
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db(transaction=True)


def _hour_start(hours_ago: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def _load_two_hours(metric="load_metric"):
    """Two full hours of 15 s samples: value = minute index within the hour."""
    start = _hour_start(3)
    items = []
    for i in range(2 * 240):
        ts = start + timedelta(seconds=15 * i)
        items.append(
            {
                "metric": metric,
                "labels": {"host": "a"},
                "value": float(ts.minute),
                "ts": ts.timestamp(),
            }
        )
    write_samples(items)
    run_rollups()
    return start


def test_raw_query_averages_per_step():
    start = _load_two_hours()
    result = series_query(
        metric="load_metric", start=start, end=start + timedelta(minutes=2), step=30, agg="max"
    )
    assert result.resolution == "raw"
    assert [v for _, v in result.series[0].points] == [0.0, 0.0, 1.0, 1.0]


def test_minute_and_hour_rollups_agree_with_raw_data():
    start = _load_two_hours()
    minute = series_query(
        metric="load_metric", start=start, end=start + timedelta(hours=2), step=60, agg="avg"
    )
    assert minute.resolution == "1m"
    assert len(minute.series[0].points) == 120
    assert minute.series[0].points[5][1] == 5.0
    hourly = series_query(
        metric="load_metric", start=start, end=start + timedelta(hours=2), step=3600, agg="avg"
    )
    assert hourly.resolution == "1h"
    assert [v for _, v in hourly.series[0].points] == [29.5, 29.5]
    for agg, expected in [
        ("min", 0.0),
        ("max", 59.0),
        ("sum", 240 * 29.5),
        ("count", 240.0),
        ("last", 59.0),
    ]:
        res = series_query(
            metric="load_metric", start=start, end=start + timedelta(hours=1), step=3600, agg=agg
        )
        assert res.series[0].points[0][1] == expected, agg


def test_late_samples_are_rolled_up_on_the_next_run():
    start = _load_two_hours()
    write_samples(
        [
            {
                "metric": "load_metric",
                "labels": {"host": "a"},
                "value": 1000,
                "ts": (start + timedelta(seconds=5)).timestamp(),
            }
        ]
    )
    run_rollups()
    res = series_query(
        metric="load_metric", start=start, end=start + timedelta(minutes=1), step=60, agg="max"
    )
    assert res.series[0].points[0][1] == 1000


def test_label_filters_select_series():
    now = datetime.now(UTC)
    write_samples(
        [
            {
                "metric": "cpu",
                "labels": {"host": "a", "dc": "x"},
                "value": 1,
                "ts": now.timestamp(),
            },
            {
                "metric": "cpu",
                "labels": {"host": "b", "dc": "x"},
                "value": 2,
                "ts": now.timestamp(),
            },
        ]
    )
    res = series_query(
        metric="cpu",
        labels={"host": "b"},
        start=now - timedelta(minutes=1),
        end=now + timedelta(seconds=1),
        step=15,
    )
    assert [s.labels["host"] for s in res.series] == ["b"]
    assert {v.labels["host"]: v.value for v in latest_values(metric="cpu", labels={"dc": "x"})} == {
        "a": 1.0,
        "b": 2.0,
    }


def test_percentiles_come_from_merged_histograms():
    # Steps are aligned to multiples of the step since the epoch: start on a 2-hour boundary.
    epoch = int((datetime.now(UTC) - timedelta(hours=4)).timestamp()) // 7200 * 7200
    start = datetime.fromtimestamp(epoch, UTC)
    # 1..1000 ms spread over two hours: p50 ≈ 500, p95 ≈ 950, p99 ≈ 990 (bucket error < 10%).
    items = [
        {
            "service": "api",
            "route": "/r",
            "method": "GET",
            "status": 200,
            "duration_ms": float(d),
            "ts": (start + timedelta(seconds=7 * d)).timestamp(),
        }
        for d in range(1, 1001)
    ]
    write_request_timings(items)
    run_rollups()
    for agg, exact in [("p50", 500), ("p95", 950), ("p99", 990)]:
        got = window_values(
            metric="http_request_duration_ms", start=start, end=start + timedelta(hours=2), agg=agg
        )[0][1]
        assert abs(got - exact) / exact < 0.10, (agg, got)
        hourly = series_query(
            metric="http_request_duration_ms",
            start=start,
            end=start + timedelta(hours=2),
            step=7200,
            agg=agg,
        )
        assert hourly.resolution == "1h"
        assert abs(hourly.series[0].points[0][1] - exact) / exact < 0.10
    errors = window_values(
        metric="http_requests",
        labels={"status_class": "2xx"},
        start=start,
        end=start + timedelta(hours=2),
        agg="sum",
    )
    assert errors[0][1] == 1000


def test_rate_of_a_cumulative_counter():
    start = _hour_start(1)
    write_samples(
        [
            {
                "metric": "bytes_total",
                "value": 100.0 * i,
                "ts": (start + timedelta(seconds=10 * i)).timestamp(),
            }
            for i in range(60)
        ]
    )
    [(labels, rate)] = window_values(
        metric="bytes_total", start=start, end=start + timedelta(minutes=10), agg="rate"
    )
    assert rate == pytest.approx(5900 / 600)


def test_bad_queries_are_refused_with_a_reason():
    now = datetime.now(UTC)
    with pytest.raises(QueryError, match="unknown aggregation"):
        series_query(metric="m", start=now - timedelta(hours=1), end=now, step=60, agg="median")
    with pytest.raises(QueryError, match="end must be after start"):
        series_query(metric="m", start=now, end=now - timedelta(hours=1), step=60)
    with pytest.raises(QueryError, match="more than 11000 points"):
        series_query(metric="m", start=now - timedelta(days=30), end=now, step=1)


def test_retention_drops_whole_partitions_only_when_expired():
    old_day = datetime.now(UTC) - timedelta(days=13)
    write_samples([{"metric": "old", "value": 1, "ts": old_day.timestamp()}])
    name = f"collectors_sample_p{old_day:%Y%m%d}"
    assert name not in drop_expired()
    assert name in drop_expired(now=datetime.now(UTC) + timedelta(days=2))
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [name])
        assert cur.fetchone()[0] is None


def test_histogram_window_average_and_count():
    start = _hour_start(2)
    items = [
        {
            "service": "api",
            "route": "/a",
            "method": "GET",
            "status": 200,
            "duration_ms": d,
            "ts": (start + timedelta(minutes=d)).timestamp(),
        }
        for d in (10.0, 20.0, 30.0)
    ]
    write_request_timings(items)
    end = start + timedelta(hours=1)
    assert (
        window_values(metric="http_request_duration_ms", start=start, end=end, agg="avg")[0][1]
        == 20.0
    )
    assert (
        window_values(metric="http_request_duration_ms", start=start, end=end, agg="count")[0][1]
        == 3.0
    )


def test_a_raw_sample_just_before_midnight_stays_in_its_day():
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    before, after = midnight - timedelta(seconds=0.3), midnight + timedelta(seconds=1)
    write_samples(
        [
            {"metric": "late_in_day", "value": 1.0, "ts": before.timestamp()},
            {"metric": "late_in_day", "value": 5.0, "ts": after.timestamp()},
        ]
    )
    edge = series_query(
        metric="late_in_day",
        start=midnight - timedelta(minutes=1),
        end=midnight + timedelta(minutes=1),
        step=30,
        agg="sum",
    )
    assert edge.resolution == "raw"
    assert edge.series[0].points == [(midnight - timedelta(seconds=30), 1.0), (midnight, 5.0)]


def test_a_late_sample_beside_fresh_ones_marks_two_small_ranges():
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    late = now - timedelta(days=5)
    write_samples(
        [
            {"metric": "mixed", "value": 1, "ts": late.timestamp()},
            {"metric": "mixed", "value": 2, "ts": (now - timedelta(minutes=1)).timestamp()},
            {"metric": "mixed", "value": 3, "ts": now.timestamp()},
        ]
    )
    with connection.cursor() as cur:
        cur.execute("SELECT start_ts, end_ts FROM collectors_dirty_range ORDER BY start_ts")
        ranges = cur.fetchall()
    assert ranges == [(late, late), (now - timedelta(minutes=1), now)]
    run_rollups()
    res = series_query(
        metric="mixed", start=late, end=now + timedelta(minutes=1), step=60, agg="sum"
    )
    assert [v for _, v in res.series[0].points] == [1.0, 2.0, 3.0]
