"""PromQL conformance: the same remote_write payloads sent to a real Prometheus (Debian's 2.42)
and to PenguinMon, then every query of a table asked of both through ``query`` and
``query_range``; the answers must be equal (values within 1e-9 relative).

``make test`` asks each query at two instants and over one range; ``make test-promql-long``
(PENGUINMON_PROMQL_LONG=1) adds more instants and ranges with odd steps."""

from __future__ import annotations

import os
import random
import time

import pytest
import requests

from tests.support.prometheus import (
    REMOTE_WRITE_HEADERS,
    canonical,
    differences,
    prometheus,
    write_request,
)

LONG = os.environ.get("PENGUINMON_PROMQL_LONG") == "1"
SCRAPE_MS = 15_000
SPAN_MS = 60 * 60_000

QUERIES = [
    # selectors
    "conf_temperature",
    'conf_temperature{room="kitchen"}',
    'conf_temperature{room!="kitchen"}',
    'conf_temperature{room=~"kit.*"}',
    'conf_temperature{room=~"itch"}',
    'conf_temperature{room!~"kitchen|hall"}',
    '{__name__=~"conf_temp.*"}',
    'conf_requests_total{code="500"} offset 10m',
    'conf_requests_total{instance="gone"}',
    # counters
    "rate(conf_requests_total[5m])",
    "rate(conf_requests_total[1m])",
    "rate(conf_requests_total[10m] offset 5m)",
    "irate(conf_requests_total[5m])",
    "increase(conf_requests_total[15m])",
    "increase(conf_requests_total[2m])",
    # *_over_time
    "avg_over_time(conf_temperature[10m])",
    "min_over_time(conf_temperature[10m])",
    "max_over_time(conf_temperature[3m] offset 7m)",
    "sum_over_time(conf_temperature[10m])",
    "count_over_time(conf_requests_total[4m])",
    "last_over_time(conf_temperature[10m])",
    "count_over_time(conf_temperature[1m] offset 30m)",
    # aggregations
    "sum(rate(conf_requests_total[5m]))",
    "sum by (code) (rate(conf_requests_total[5m]))",
    "sum without (instance) (rate(conf_requests_total[5m]))",
    "avg by (floor) (conf_temperature)",
    "min(conf_temperature)",
    "max by (floor) (conf_temperature)",
    "count by (code) (conf_requests_total)",
    "count without (room) (conf_temperature)",
    "sum without (le) (rate(conf_latency_seconds_bucket[5m]))",
    "avg(conf_temperature)",
    "max(rate(conf_requests_total[5m]))",
    'min by (code) (increase(conf_requests_total{instance!="gone"}[10m]))',
    # classic histograms
    "histogram_quantile(0.95, sum by (le) (rate(conf_latency_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (le, route) (rate(conf_latency_seconds_bucket[10m])))",
    "histogram_quantile(0.99, rate(conf_latency_seconds_bucket[5m]))",
    "histogram_quantile(1.5, sum by (le) (rate(conf_latency_seconds_bucket[5m])))",
    "histogram_quantile(0, sum by (le) (rate(conf_latency_seconds_bucket[5m])))",
    # with scalars
    "conf_temperature * 2 + 1",
    "conf_temperature > 20",
    "conf_temperature > bool 20",
    "25 < conf_temperature",
    "conf_temperature / 0",
    "conf_temperature % 7",
    "conf_temperature ^ 2",
    "-conf_temperature",
    "2 ^ 3 + 1",
    "1 > bool 2",
    "42",
    # between vectors
    "rate(conf_latency_seconds_sum[5m]) / rate(conf_latency_seconds_count[5m])",
    'conf_requests_total{code="500"} / ignoring(code) conf_requests_total{code="200"}',
    'sum by (instance) (rate(conf_requests_total{code="500"}[5m])) / on(instance) '
    "sum by (instance) (rate(conf_requests_total[5m]))",
    "conf_temperature > on(room, floor) conf_temperature_target",
    "conf_temperature >= bool ignoring(kind) conf_temperature_target",
    "conf_temperature == conf_temperature",
    "conf_temperature - ignoring(kind) conf_temperature_target",
    "conf_temperature - conf_temperature_target",  # no match: kind is on one side only
    "sum by (floor) (conf_temperature) > 40",
    "count(conf_requests_total) * 3",
]


def _samples(start: int, end: int, value_at, rng: random.Random, jitter: bool = True):
    out, t = [], start
    while t <= end:
        stamp = t + (rng.randrange(-400, 400) if jitter else 0)
        out.append((stamp, value_at(t)))
        t += SCRAPE_MS
    return out


def _counter(rng: random.Random, start: int, end: int, resets: tuple[int, ...] = ()):
    """A counter growing by random steps, back to a small value at each reset minute."""
    value, samples, t = rng.uniform(0, 500), [], start
    while t <= end:
        minute = (t - start) // 60_000
        if minute in resets and (t - start) % 60_000 < SCRAPE_MS:
            value = rng.uniform(0, 3)
        else:
            value += rng.choice([0, 0.5, 1, 2, 3, 7, 12])
        samples.append((t + rng.randrange(-300, 300), value))
        t += SCRAPE_MS
    return samples


def dataset(end: int) -> list[tuple[dict, list[tuple[int, float]]]]:
    rng = random.Random(16)
    start = end - SPAN_MS
    series = []
    for instance, resets in (("a", ()), ("b", (30,)), ("c", (12, 41))):
        for code in ("200", "500"):
            labels = {
                "__name__": "conf_requests_total",
                "job": "api",
                "instance": instance,
                "code": code,
            }
            series.append((labels, _counter(rng, start, end, resets)))
    # A series that stopped 20 minutes ago: instant selectors see it only within 5 minutes.
    gone = {"__name__": "conf_requests_total", "job": "api", "instance": "gone", "code": "200"}
    series.append((gone, _counter(rng, start, end - 20 * 60_000)))
    for room, floor, base in (("kitchen", "0", 21), ("hall", "0", 18), ("attic", "1", 26)):
        wave = rng.uniform(1, 4)
        labels = {"__name__": "conf_temperature", "room": room, "floor": floor, "kind": "air"}
        series.append(
            (
                labels,
                _samples(
                    start,
                    end,
                    lambda t, b=base, w=wave: round(b + w * ((t // 60_000) % 13 - 6) / 6, 3),
                    rng,
                ),
            )
        )
        target = {"__name__": "conf_temperature_target", "room": room, "floor": floor}
        series.append((target, _samples(start, end, lambda t, b=base: float(b), rng)))
    bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    for route in ("/a", "/b"):
        per_bucket = [0.0] * len(bounds)
        count = total = 0.0
        points: dict[str, list] = {b: [] for b in bounds}
        counts, sums = [], []
        t = start
        while t <= end:
            for _ in range(rng.randrange(0, 40)):
                duration = rng.lognormvariate(-3 if route == "/a" else -1.5, 1.0)
                for i, b in enumerate(bounds):
                    if duration <= float(b):
                        per_bucket[i] += 1
                count += 1
                total += duration
            stamp = t + rng.randrange(-200, 200)
            for i, b in enumerate(bounds):
                points[b].append((stamp, per_bucket[i]))
            counts.append((stamp, count))
            sums.append((stamp, total))
            t += SCRAPE_MS
        base = {"route": route, "job": "api"}
        for b in bounds:
            series.append(({"__name__": "conf_latency_seconds_bucket", "le": b, **base}, points[b]))
        series.append(({"__name__": "conf_latency_seconds_count", **base}, counts))
        series.append(({"__name__": "conf_latency_seconds_sum", **base}, sums))
    return series


@pytest.fixture
def loaded(client, make_token):
    """(ask PenguinMon, ask Prometheus, the data's end in ms) with the same data in both."""
    end = (int(time.time()) - 180) * 1000
    body = write_request(dataset(end))
    token = make_token("read", "ingest")
    headers = {"Authorization": f"Bearer {token}"}
    stored = client.post(
        "/api/v1/write",
        body,
        content_type="application/x-protobuf",
        headers={**headers, "Content-Encoding": "snappy"},
    )
    assert stored.status_code == 204, stored.content
    with prometheus() as base:
        sent = requests.post(f"{base}/api/v1/write", data=body, headers=REMOTE_WRITE_HEADERS)
        assert sent.status_code == 204, sent.text

        def ours(path: str, **params):
            return client.get(f"/api/prom/api/v1/{path}", params, headers=headers)

        def theirs(path: str, **params):
            return requests.get(f"{base}/api/v1/{path}", params=params, timeout=30)

        yield ours, theirs, end


def _asks(end: int) -> list[tuple[str, dict]]:
    start = end - SPAN_MS
    asks = [
        ("query", {"time": (end - 120_000) / 1000}),
        ("query", {"time": (end - 25 * 60_000 + 7_250) / 1000}),
        ("query_range", {"start": (start + 6 * 60_000) / 1000, "end": end / 1000, "step": "60"}),
    ]
    if LONG:
        asks += [
            ("query", {"time": (end + 4 * 60_000) / 1000}),
            ("query", {"time": (start + 30_000) / 1000}),
            ("query_range", {"start": start / 1000, "end": (end + 600_000) / 1000, "step": "47"}),
            ("query_range", {"start": (start + 1234) / 1000, "end": end / 1000, "step": "15s"}),
            ("query_range", {"start": start / 1000, "end": end / 1000, "step": "7m"}),
        ]
    return asks


@pytest.mark.django_db
def test_answers_equal_prometheus(loaded):
    ours, theirs, end = loaded
    assert len(QUERIES) >= 40
    problems = []
    for query in QUERIES:
        for path, params in _asks(end):
            a, b = ours(path, query=query, **params), theirs(path, query=query, **params)
            assert b.status_code == 200, (query, b.text)
            if a.status_code != 200:
                problems.append(f"{path} {query} {params}: {a.status_code} {a.content[:300]}")
                continue
            got, want = a.json(), b.json()
            assert got["status"] == "success"
            diff = differences(canonical(got["data"]), canonical(want["data"]))
            problems += [f"{path} {query} {params}: {d}" for d in diff[:3]]
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:40])


@pytest.mark.django_db
def test_errors_have_prometheus_shape_like_prometheus(loaded):
    ours, theirs, end = loaded
    asks = [
        ("query", {"query": "sum(rate(conf_requests_total[5m]"}),
        ("query", {"query": "rate(conf_requests_total)"}),
        ("query", {"query": "up", "time": "yesterday"}),
        ("query_range", {"query": "up", "start": "1", "end": "100", "step": "0"}),
        ("query_range", {"query": "up", "start": "1", "end": "100", "step": "soon"}),
        ("query_range", {"query": "up", "start": "100", "end": "1", "step": "1"}),
        ("query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}),
        (
            "query_range",
            {"query": "conf_requests_total[5m]", "start": "1", "end": "9", "step": "1"},
        ),
    ]
    for path, params in asks:
        a, b = ours(path, **params), theirs(path, **params)
        assert (a.status_code, b.status_code) == (400, 400), (params, a.content, b.text)
        got, want = a.json(), b.json()
        assert got["status"] == want["status"] == "error"
        assert got["errorType"] == want["errorType"] == "bad_data", (got, want)
        assert got["error"]
