"""GET /api/v1/query at the edges a script meets: partial buckets, read-after-write, [start, end),
series merged into one line, the 5xx share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from collectors.store import histogram
from collectors.store.rollups import run_rollups

pytestmark = pytest.mark.django_db(transaction=True)


def _hour(hours_ago: int) -> int:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return int((now - timedelta(hours=hours_ago)).timestamp())


def _timings(start: int, minutes: int, routes=("/send", "/lists"), status=200, every=20):
    return [
        {
            "service": "api",
            "route": route,
            "method": "GET",
            "status": status,
            "duration_ms": 20.0 + (i * 37) % 400 + 100 * r,
            "ts": start + i * every + r,
        }
        for r, route in enumerate(routes)
        for i in range(minutes * 60 // every)
    ]


def _points(body) -> list[tuple[float, float]]:
    return [tuple(p) for s in body["series"] for p in s["points"]]


def test_a_step_longer_than_an_hour_keeps_the_partial_first_hour(api):
    # The case: step=5400 from hh:25 must count every request from hh:25 on.
    start = _hour(4) + 25 * 60
    items = _timings(_hour(4), 4 * 60 - 30)
    assert api.post("/api/v1/requests", items).status_code == 200
    run_rollups()
    end = start + 5400
    body = api.get(
        "/api/v1/query",
        metric="http_request_duration_ms",
        label="service=api",
        by="",
        start=start,
        end=end,
        step="5400",
        agg="count",
    ).json()
    expected = sum(1 for i in items if start <= i["ts"] // 60 * 60 < end)
    assert sum(v for _, v in _points(body)) == expected
    assert _points(body)[0][0] == start  # the clipped first point is stamped where it starts


def test_the_default_range_at_one_hour_step_shows_recent_data(api):
    now = int(datetime.now(UTC).timestamp())
    assert (
        api.post("/api/v1/samples", [{"metric": "fresh", "value": 3, "ts": now - 5}]).status_code
        == 200
    )
    body = api.get("/api/v1/query", metric="fresh", step="1h", agg="sum").json()
    assert _points(body) and _points(body)[-1][1] == 3.0


@pytest.mark.parametrize("step", ["15s", "1m", "1h"])
def test_pushed_samples_are_read_back_at_once_at_every_step(api, step):
    # No rollup run between the write and the read: the rows are merged at query time.
    now = int(datetime.now(UTC).timestamp())
    items = [
        {"metric": "raw_then_read", "value": float(i), "ts": now - 600 + 10 * i} for i in range(60)
    ]
    run_rollups()
    assert api.post("/api/v1/samples", items).status_code == 200
    body = api.get(
        "/api/v1/query", metric="raw_then_read", start=now - 3600, end=now + 1, step=step, agg="sum"
    ).json()
    assert sum(v for _, v in _points(body)) == sum(range(60))


def test_late_samples_inside_rolled_up_hours_are_seen_before_the_next_rollup(api):
    start = _hour(3)
    items = [{"metric": "late", "value": 1.0, "ts": start + 30 * i} for i in range(240)]
    api.post("/api/v1/samples", items)
    run_rollups()
    api.post("/api/v1/samples", [{"metric": "late", "value": 100.0, "ts": start + 45}])
    body = api.get(
        "/api/v1/query", metric="late", start=start, end=start + 7200, step="1h", agg="sum"
    ).json()
    assert _points(body) == [(start, 220.0), (start + 3600, 120.0)]


def test_end_is_exclusive_and_start_inclusive(api):
    t = _hour(2)
    api.post(
        "/api/v1/samples",
        [
            {"metric": "edge", "value": 1.0, "ts": t},
            {"metric": "edge", "value": 10.0, "ts": t + 60},
        ],
    )
    body = api.get("/api/v1/query", metric="edge", start=t, end=t + 60, step="1m", agg="sum").json()
    assert _points(body) == [(t, 1.0)]
    schema = api.get("/api/openapi.json").json()
    doc = schema["paths"]["/api/v1/query"]["get"]["description"]
    assert "[start, end)" in doc and "exclusive" in doc


def test_whole_service_p95_is_one_call_over_merged_histograms(api):
    start = _hour(4) // 7200 * 7200  # one 2-hour step
    items = _timings(start, 120, routes=("/send", "/lists", "/stats"))
    api.post("/api/v1/requests", items)
    run_rollups()
    body = api.get(
        "/api/v1/query",
        metric="http_request_duration_ms",
        label="service=api",
        by="",
        start=start,
        end=start + 7200,
        step="2h",
        agg="p95",
    ).json()
    assert [s["labels"] for s in body["series"]] == [{}]
    durations = [i["duration_ms"] for i in items]
    [(_, p95)] = _points(body)
    assert p95 == pytest.approx(histogram.quantile(histogram.from_values(durations), 0.95))
    assert p95 == pytest.approx(float(np.percentile(durations, 95)), rel=0.05)
    by_route = api.get(
        "/api/v1/query",
        metric="http_request_duration_ms",
        label="service=api",
        by="route",
        start=start,
        end=start + 7200,
        step="2h",
        agg="count",
    ).json()
    assert sorted(s["labels"]["route"] for s in by_route["series"]) == ["/lists", "/send", "/stats"]


def test_error_ratio_is_the_share_of_5xx_requests(api):
    start = _hour(2)
    ok = _timings(start, 60, every=10)
    failed = _timings(start, 60, every=30, status=503)
    api.post("/api/v1/requests", ok + failed)
    body = api.get(
        "/api/v1/query",
        metric="http_requests",
        label="service=api",
        by="",
        start=start,
        end=start + 3600,
        step="1h",
        agg="error_ratio",
    ).json()
    assert _points(body) == [(start, pytest.approx(len(failed) / (len(ok) + len(failed))))]
    refused = api.get("/api/v1/query", metric="http_request_duration_ms", agg="error_ratio")
    assert refused.status_code == 400
    assert "status_class" in refused.json()["error"]
