"""Cardinality: PenguinMon's own metrics are not writable through the API, per-metric series
limits hold at ingest, rules count only series with data in their window, idle series go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from collectors.models import ExponentialState, Series
from collectors.store import series as store_series
from collectors.store import write_samples
from collectors.store.series import prune_idle_series


def _stored(metric: str) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM collectors_sample x JOIN collectors_series s ON s.id = x.series_id "
            "WHERE s.name = %s",
            [metric],
        )
        return cur.fetchone()[0]


def test_an_ingest_token_cannot_write_a_probe_result(client, make_token):
    token = make_token("ingest")
    write_samples([{"metric": "probe_up", "labels": {"service": "api", "probe": "h"}, "value": 0}])
    resp = client.post(
        "/api/v1/samples",
        [
            {"metric": "queue_depth", "value": 3},
            {"metric": "probe_up", "labels": {"service": "api", "probe": "h"}, "value": 1},
        ],
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 403
    assert resp.json()["error"] == (
        "samples[1].metric: probe_up is written only by PenguinMon's own collectors "
        "(probes, checks, reputation); an API token cannot write it"
    )
    assert _stored("probe_up") == 1 and _stored("queue_depth") == 0


def test_a_batch_past_a_metrics_series_limit_is_refused_whole(api, settings):
    settings.INGEST_SERIES_LIMITS = {"queue_depth": 3}
    ok = api.post(
        "/api/v1/samples",
        [{"metric": "queue_depth", "labels": {"queue": f"q{i}"}, "value": i} for i in range(3)],
    )
    assert ok.status_code == 200
    resp = api.post(
        "/api/v1/samples",
        [
            {"metric": "queue_depth", "labels": {"queue": "q0"}, "value": 9},
            {"metric": "queue_depth", "labels": {"queue": "q3"}, "value": 9},
        ],
    )
    assert resp.status_code == 422
    assert resp.json()["error"].startswith(
        "metric 'queue_depth' is limited to 3 active series: 3 reported in the last 24 h "
        "and this batch adds 1 new one(s)"
    )
    assert _stored("queue_depth") == 3  # the known series' sample of the batch went nowhere
    assert Series.objects.filter(name="queue_depth").count() == 3
    # Series that stopped reporting a day ago no longer count.
    Series.objects.filter(name="queue_depth").update(
        last_seen_at=datetime.now(UTC) - timedelta(hours=25)
    )
    store_series.forget_all()
    resp = api.post(
        "/api/v1/samples", [{"metric": "queue_depth", "labels": {"queue": "q3"}, "value": 9}]
    )
    assert resp.status_code == 200


@pytest.fixture
def now():
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)


def test_idle_series_are_pruned_with_their_samples_and_come_back_when_written(db):
    write_samples([{"metric": "queue_depth", "labels": {"queue": "gone"}, "value": 1}])
    write_samples([{"metric": "queue_depth", "labels": {"queue": "live"}, "value": 2}])
    Series.objects.filter(labels={"queue": "gone"}).update(
        last_seen_at=datetime.now(UTC) - timedelta(days=31)
    )
    store_series._seen.clear()  # this process last refreshed it more than an hour ago
    # An OTLP exponential stream's diff state, as idle as the series, goes with them.
    for stream, days in (("gone_count", 31), ("live_count", 0)):
        ExponentialState.objects.create(
            stream=stream,
            at=datetime.now(UTC) - timedelta(days=days),
            scale=3,
            zero_threshold=0.0,
            zero_count=0,
            offset=0,
            counts=[1],
        )

    assert prune_idle_series() == 1
    assert list(Series.objects.values_list("labels", flat=True)) == [{"queue": "live"}]
    assert list(ExponentialState.objects.values_list("stream", flat=True)) == ["live_count"]
    assert _stored("queue_depth") == 1

    # A writer that still has the pruned series cached recreates it instead of writing
    # samples for an id that no longer exists.
    write_samples([{"metric": "queue_depth", "labels": {"queue": "gone"}, "value": 3}])
    assert Series.objects.filter(labels={"queue": "gone"}).exists()
    assert _stored("queue_depth") == 2
