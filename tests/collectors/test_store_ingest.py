import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from collectors.models import Series
from collectors.store import (
    IngestError,
    histogram,
    partitions,
    write_request_timings,
    write_samples,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _raw(metric):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT s.labels, x.ts, x.value FROM collectors_sample x JOIN collectors_series s ON s.id = x.series_id "
            "WHERE s.name = %s ORDER BY x.ts",
            [metric],
        )
        return [(json.loads(labels), ts, value) for labels, ts, value in cur.fetchall()]


def test_samples_are_stored_with_their_series_and_labels():
    now = datetime.now(UTC).replace(microsecond=0)
    written = write_samples(
        [
            {
                "metric": "host_cpu_percent",
                "labels": {"host": "web-1"},
                "value": 12.5,
                "ts": now.timestamp(),
            },
            {
                "metric": "host_cpu_percent",
                "labels": {"host": "web-2"},
                "value": 80,
                "ts": now.isoformat(),
            },
        ]
    )
    assert written == 2
    rows = _raw("host_cpu_percent")
    assert sorted((r[0]["host"], r[2]) for r in rows) == [("web-1", 12.5), ("web-2", 80.0)]
    assert Series.objects.get(labels={"host": "web-1"}).unit == "%"  # unit from the catalogue


def test_a_bad_item_rejects_the_whole_batch_and_names_item_and_field():
    good = {"metric": "queue_depth", "value": 1}
    with pytest.raises(IngestError, match=r"samples\[2\]\.value: must be a finite number"):
        write_samples([good, good | {"labels": {"q": "b"}}, good | {"value": float("nan")}])
    assert _raw("queue_depth") == []
    assert not Series.objects.filter(name="queue_depth").exists()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"metric": "9bad", "value": 1}, r"samples\[0\]\.metric"),
        ({"metric": "m", "value": "1"}, r"samples\[0\]\.value: must be a number"),
        ({"metric": "m", "value": True}, r"samples\[0\]\.value"),
        ({"metric": "m", "value": float("inf")}, r"samples\[0\]\.value: must be a finite"),
        ({"metric": "m", "value": 1, "ts": "yesterday"}, r"samples\[0\]\.ts"),
        ({"metric": "m", "value": 1, "labels": {"bad-name": "x"}}, r"samples\[0\]\.labels"),
        (
            {"metric": "m", "value": 1, "labels": {f"l{i}": "x" for i in range(17)}},
            r"17 labels exceed",
        ),
    ],
)
def test_invalid_items_are_refused(item, message):
    with pytest.raises(IngestError, match=message):
        write_samples([item])


def test_timestamps_far_in_the_future_or_past_retention_are_refused():
    now = datetime.now(UTC)
    with pytest.raises(IngestError, match="more than 10 minutes in the future"):
        write_samples(
            [{"metric": "m", "value": 1, "ts": (now + timedelta(minutes=11)).timestamp()}]
        )
    with pytest.raises(IngestError, match="older than the raw retention"):
        write_samples([{"metric": "m", "value": 1, "ts": (now - timedelta(days=15)).timestamp()}])
    write_samples([{"metric": "m", "value": 1, "ts": (now + timedelta(minutes=9)).timestamp()}])


def test_oversize_batch_is_refused_with_413():
    with pytest.raises(IngestError) as info:
        write_samples([{"metric": "m", "value": 1}] * 10_001)
    assert info.value.status == 413


def test_writing_the_same_sample_twice_keeps_the_last_value():
    ts = datetime.now(UTC).replace(microsecond=0).timestamp()
    write_samples([{"metric": "dup_metric", "value": 1, "ts": ts}])
    write_samples(
        [
            {"metric": "dup_metric", "value": 2, "ts": ts},
            {"metric": "dup_metric", "value": 3, "ts": ts + 15},
        ]
    )
    assert [r[2] for r in _raw("dup_metric")] == [2.0, 3.0]


@pytest.mark.parametrize("outer_transaction", [False, True])
def test_a_batch_repeating_stored_samples_and_its_own_keeps_its_last_values(outer_transaction):
    # Outside a transaction the refused COPY rolls the batch back and it is written again
    # (the series it created too); inside one, a savepoint guards the COPY instead.
    ts = datetime.now(UTC).replace(microsecond=0).timestamp()
    write_samples([{"metric": "dup_mixed", "labels": {"h": "a"}, "value": 1, "ts": ts}])
    batch = [
        {"metric": "dup_mixed", "labels": {"h": "a"}, "value": 2, "ts": ts},
        {"metric": "dup_mixed", "labels": {"h": "b"}, "value": 5, "ts": ts},  # a new series
        {"metric": "dup_mixed", "labels": {"h": "b"}, "value": 6, "ts": ts},  # the batch's last
        {"metric": "dup_mixed", "labels": {"h": "a"}, "value": 3, "ts": ts + 15},
    ]
    if outer_transaction:
        with transaction.atomic():
            assert write_samples(batch) == 4
    else:
        assert write_samples(batch) == 4
    stored = sorted((labels["h"], t.timestamp(), v) for labels, t, v in _raw("dup_mixed"))
    assert stored == [("a", ts, 2.0), ("a", ts + 15, 3.0), ("b", ts, 6.0)]
    assert Series.objects.filter(name="dup_mixed").count() == 2


def test_backfill_creates_the_day_partitions_it_needs():
    old = datetime.now(UTC) - timedelta(days=9)
    write_samples([{"metric": "backfill", "value": 5, "ts": old.timestamp()}])
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [f"collectors_sample_p{old:%Y%m%d}"])
        assert cur.fetchone()[0] is not None


def test_request_timings_become_minute_histograms_and_status_counters():
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    items = [
        {
            "service": "api",
            "route": "/v1/send",
            "method": "post",
            "status": s,
            "duration_ms": d,
            "ts": (minute + timedelta(seconds=i % 60)).timestamp(),
        }
        for i, (s, d) in enumerate([(200, 10.0)] * 90 + [(500, 900.0)] * 8 + [(404, 5.0)] * 2)
    ]
    assert write_request_timings(items) == 100
    write_request_timings(items[:10])  # a second batch in the same minute adds up
    with connection.cursor() as cur:
        cur.execute("SELECT count, sum FROM collectors_histogram_1m")
        assert cur.fetchall() == [(110, 90 * 10.0 + 8 * 900 + 2 * 5 + 10 * 10.0)]
    counts = {r[0]["status_class"]: r[2] for r in _raw("http_requests")}
    assert counts == {"2xx": 100.0, "5xx": 8.0, "4xx": 2.0}
    assert Series.objects.get(name="http_request_duration_ms").labels == {
        "service": "api",
        "route": "/v1/send",
        "method": "POST",
    }


def test_request_timings_validate_status_and_duration():
    base = {"service": "api", "route": "/", "method": "GET", "status": 200, "duration_ms": 1}
    with pytest.raises(IngestError, match=r"requests\[1\]\.status"):
        write_request_timings([base, base | {"status": 99}])
    with pytest.raises(IngestError, match=r"requests\[0\]\.duration_ms"):
        write_request_timings([base | {"duration_ms": -1}])


def test_a_repeated_sample_within_one_batch_keeps_the_last_value():
    ts = datetime.now(UTC).replace(microsecond=0).timestamp()
    write_samples([{"metric": "dup_in_batch", "value": v, "ts": ts} for v in (1, 2, 3)])
    assert [r[2] for r in _raw("dup_in_batch")] == [3.0]


def test_series_grouped_items_store_every_point():
    ts = datetime.now(UTC).replace(microsecond=0).timestamp() - 60
    written = write_samples(
        [
            {"metric": "grouped", "labels": {"host": "a"}, "points": [[ts, 1], [ts + 15, 2.5]]},
            {"metric": "grouped", "labels": {"host": "b"}, "value": 7, "ts": ts},
        ]
    )
    assert written == 3
    assert sorted((r[0]["host"], r[2]) for r in _raw("grouped")) == [
        ("a", 1.0),
        ("a", 2.5),
        ("b", 7.0),
    ]


def test_a_bad_point_names_its_position_and_nothing_is_written():
    ts = datetime.now(UTC).timestamp()
    with pytest.raises(IngestError, match=r"samples\[0\]\.points\[1\]\.value: must be a number"):
        write_samples([{"metric": "grouped_bad", "points": [[ts, 1], [ts, "x"]]}])
    with pytest.raises(
        IngestError, match=r"samples\[0\]\.points\[0\]: must be a \[ts, value\] pair"
    ):
        write_samples([{"metric": "grouped_bad", "points": [[ts]]}])
    assert _raw("grouped_bad") == []


def test_grouped_points_count_towards_the_batch_limit():
    ts = datetime.now(UTC).timestamp()
    with pytest.raises(IngestError) as info:
        write_samples([{"metric": "big", "points": [[ts - i * 0.001, 1] for i in range(10_001)]}])
    assert info.value.status == 413


def test_request_timings_in_another_time_zone_land_in_their_utc_minute_and_day():
    # 01:30 at +02:00 is 23:30 UTC the day before: that day's partition, not the local one.
    day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    name = partitions.partition_for("collectors_histogram_1m", (day - timedelta(days=1)).date())[0]
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
    partitions._known.discard(name)
    local = datetime(day.year, day.month, day.day, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    item = {"service": "api", "route": "/", "method": "GET", "status": 200, "duration_ms": 3}
    assert write_request_timings([item | {"ts": local.isoformat()}]) == 1
    with connection.cursor() as cur:
        cur.execute("SELECT bucket FROM collectors_histogram_1m")
        assert cur.fetchall() == [(day - timedelta(minutes=30),)]


def test_a_huge_duration_is_refused_and_the_top_bucket_takes_infinity():
    base = {"service": "api", "route": "/", "method": "GET", "status": 200}
    with pytest.raises(IngestError, match=r"requests\[0\]\.duration_ms"):
        write_request_timings([base | {"duration_ms": 1e308}])
    assert histogram.bucket_index(float("inf")) == histogram.N_BUCKETS - 1


def test_two_writers_creating_the_same_new_day_both_succeed():
    """The second writer waits for the first one's partition instead of failing."""
    import threading

    from django.db import connection as main_connection
    from django.db import transaction

    from collectors.store.partitions import ensure_partitions

    day = (datetime.now(UTC) + timedelta(days=30)).date()
    with main_connection.cursor() as cur:  # a partition left by an interrupted earlier run
        cur.execute(f"DROP TABLE IF EXISTS collectors_sample_p{day:%Y%m%d}")
    first_created = threading.Event()
    release_first = threading.Event()
    errors = []

    def first():
        try:
            with transaction.atomic():
                ensure_partitions("collectors_sample", {day})
                first_created.set()
                release_first.wait(10)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            main_connection.close()

    def second():
        try:
            with transaction.atomic():
                ensure_partitions("collectors_sample", {day})
        except Exception as exc:
            errors.append(exc)
        finally:
            main_connection.close()

    a = threading.Thread(target=first)
    a.start()
    assert first_created.wait(10)
    b = threading.Thread(target=second)
    b.start()
    # Let the first commit only once the second is really waiting for it.
    with main_connection.cursor() as cur:
        for _ in range(200):
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cur.fetchone()[0]:
                break
            threading.Event().wait(0.05)
        else:
            raise AssertionError("the second writer never waited for the first")
    release_first.set()
    a.join(10)
    b.join(10)
    assert errors == []
    with main_connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [f"collectors_sample_p{day:%Y%m%d}"])
        assert cur.fetchone()[0] is not None
        cur.execute(f"DROP TABLE collectors_sample_p{day:%Y%m%d}")


def test_a_metric_name_that_is_not_a_string_is_a_422_naming_the_field(api):
    # Found by the API fuzzer: a list as the metric name was a 500 (unhashable set look-up).
    for metric in (["queue_depth"], {"name": "x"}):
        resp = api.post("/api/v1/samples", {"samples": [{"metric": metric, "value": 1}]})
        assert resp.status_code == 422
        assert resp.json()["error"].startswith("samples[0].metric:")
