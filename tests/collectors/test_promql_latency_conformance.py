"""PenguinMon's own request timings read through PromQL as Prometheus would read the same
requests exported as a classic histogram and counters: the store's per-minute latency
histograms and status-class counts (POST /api/v1/requests) against a real Prometheus given
cumulative ``http_request_duration_ms_bucket{le}`` / ``_count`` / ``_sum`` and ``http_requests``
counters stamped at each minute's end; answers equal within 1e-9."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from itertools import accumulate

import pytest
import requests

from collectors.promql.reads import le_label
from collectors.store import histogram, write_request_timings
from tests.support.prometheus import (
    REMOTE_WRITE_HEADERS,
    canonical,
    differences,
    prometheus,
    write_request,
)

MINUTES = 40
QUERIES = [
    "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_ms_bucket[5m])))",
    "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_ms_bucket[5m])))",
    "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_ms_bucket[10m])))",
    "rate(http_request_duration_ms_sum[5m]) / rate(http_request_duration_ms_count[5m])",
    "sum by (status_class) (increase(http_requests[10m]))",
    "irate(http_request_duration_ms_count[3m])",
    "http_requests",
    "http_request_duration_ms_count",
]


def _requests(first_minute: int) -> list[dict]:
    rng = random.Random(1616)
    items = []
    for m in range(MINUTES):
        minute = first_minute + 60 * m
        for route, mu in (("/a", 3.0), ("/b", 5.0)):
            if m % 11 == 7 and route == "/b":
                continue  # a quiet minute: no row, no sample
            for _ in range(rng.randrange(1, 30)):
                items.append(
                    {
                        "service": "api",
                        "route": route,
                        "method": "GET",
                        "status": rng.choice([200, 200, 200, 404, 500]),
                        "duration_ms": round(rng.lognormvariate(mu, 0.9), 3),
                        "ts": minute + rng.randrange(60),
                    }
                )
    return items


def _as_prometheus(items: list[dict]) -> list[tuple[dict, list[tuple[int, float]]]]:
    """The same requests as a Prometheus client library would count them, sampled at each
    minute's end (what the store's per-minute rows become)."""
    per_minute: dict[tuple, dict[int, list]] = defaultdict(dict)
    counts: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for item in items:
        minute = item["ts"] // 60 * 60
        key = (item["service"], item["route"], item["method"])
        entry = per_minute[key].setdefault(minute, [0, 0.0, histogram.empty()])
        entry[0] += 1
        entry[1] += item["duration_ms"]
        entry[2][histogram.bucket_index(item["duration_ms"])] += 1
        counts[(*key, f"{item['status'] // 100}xx")][minute] += 1
    series = []
    for (service, route, method), minutes in per_minute.items():
        labels = {"service": service, "route": route, "method": method}
        order = sorted(minutes)
        stamps = [(m + 60) * 1000 for m in order]
        rows = [minutes[m] for m in order]
        for name, per in (
            ("http_request_duration_ms_count", [float(r[0]) for r in rows]),
            ("http_request_duration_ms_sum", [r[1] for r in rows]),
        ):
            series.append(
                ({"__name__": name, **labels}, list(zip(stamps, accumulate(per), strict=True)))
            )
        for i in range(histogram.N_BUCKETS):
            per = [float(sum(r[2][: i + 1])) for r in rows]
            bucket = {"__name__": "http_request_duration_ms_bucket", "le": le_label(i), **labels}
            series.append((bucket, list(zip(stamps, accumulate(per), strict=True))))
    for (service, route, method, status_class), minutes in counts.items():
        labels = {
            "__name__": "http_requests",
            "service": service,
            "route": route,
            "method": method,
            "status_class": status_class,
        }
        order = sorted(minutes)
        stamps = [(m + 60) * 1000 for m in order]
        series.append(
            (labels, list(zip(stamps, accumulate(minutes[m] for m in order), strict=True)))
        )
    return series


@pytest.mark.django_db
def test_latency_histograms_answer_like_prometheus(client, make_token):
    this_minute = int(time.time()) // 60 * 60
    first = this_minute - (MINUTES + 2) * 60
    items = _requests(first)
    write_request_timings(items)
    headers = {"Authorization": f"Bearer {make_token('read')}"}
    end = first + MINUTES * 60  # the last minute's end
    asks = [
        ("query", {"time": end - 30}),
        ("query", {"time": first + 17 * 60 + 12.5}),
        ("query_range", {"start": first + 300, "end": end + 120, "step": "60"}),
        ("query_range", {"start": first + 7, "end": end, "step": "45"}),
    ]
    problems = []
    with prometheus() as base:
        sent = requests.post(
            f"{base}/api/v1/write",
            data=write_request(_as_prometheus(items)),
            headers=REMOTE_WRITE_HEADERS,
            timeout=30,
        )
        assert sent.status_code == 204, sent.text
        for query in QUERIES:
            for path, params in asks:
                ours = client.get(
                    f"/api/prom/api/v1/{path}", {"query": query, **params}, headers=headers
                )
                theirs = requests.get(
                    f"{base}/api/v1/{path}", params={"query": query, **params}, timeout=30
                )
                assert ours.status_code == theirs.status_code == 200, (query, ours.content)
                got, want = canonical(ours.json()["data"]), canonical(theirs.json()["data"])
                assert want[1], (query, params)  # the question has an answer
                problems += [f"{path} {query} {params}: {d}" for d in differences(got, want)[:3]]
    assert not problems, "\n".join(problems[:30])
