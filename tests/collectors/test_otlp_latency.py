"""OTLP HTTP server duration histograms merged into the request-latency histograms: the
dashboards' p95, request counts and error ratios read them like pushed timings."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

from collectors.models import Series
from collectors.store import histogram
from tests.collectors.test_otlp import CUMULATIVE, DELTA, _attr, export, ns
from tests.support.otel import sdk_meter_provider


@pytest.fixture
def otlp(client, make_token):
    """POST an ExportMetricsServiceRequest as protobuf with an ingest token."""
    token = make_token("ingest")

    def post(request):
        return client.post(
            "/v1/metrics",
            request.SerializeToString(),
            content_type="application/x-protobuf",
            headers={"Authorization": f"Bearer {token}"},
        )

    return post


# The semantic conventions' advice for http.server.request.duration (seconds).
SEMCONV_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


def _durations_s(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(math.log(0.12), 0.8, n)


def _explicit(name, unit, points, *, temporality=CUMULATIVE, bounds=SEMCONV_BOUNDS):
    """points: (t, values, attributes)."""

    def build(m):
        m.name, m.unit = name, unit
        m.histogram.aggregation_temporality = temporality
        for t, values, attrs in points:
            counts = np.bincount(
                np.searchsorted(bounds, values, side="left"), minlength=len(bounds) + 1
            )
            p = m.histogram.data_points.add(
                start_time_unix_nano=ns(t - 3600),
                time_unix_nano=ns(t),
                count=len(values),
                sum=float(np.sum(values)),
                explicit_bounds=bounds,
                bucket_counts=[int(c) for c in counts],
            )
            for k, v in attrs.items():
                _attr(p.attributes, k, v)

    return build


def _query(api, metric, agg, t, **labels):
    body = api.get(
        "/api/v1/query",
        metric=metric,
        agg=agg,
        by="",
        label=[f"{k}={v}" for k, v in labels.items()],
        start=int(t // 7200 * 7200),  # one 2 h bucket holding t
        end=int(t // 7200 * 7200 + 7200),
        step="2h",
    ).json()
    return [p[1] for s in body["series"] for p in s["points"] if p[1] is not None]


def _otlp_side_quantile(bounds, counts, q):
    """Prometheus' histogram_quantile on the OTLP buckets (linear inside the bucket)."""
    rank, seen = q * sum(counts), 0
    for i, c in enumerate(counts):
        if seen + c >= rank and c:
            lo = bounds[i - 1] if i else 0.0
            return lo + (bounds[i] - lo) * (rank - seen) / c
        seen += c
    return bounds[-1]


GET_CHECKOUT = {"http.route": "/checkout", "http.request.method": "GET"}


def test_a_cumulative_semconv_histogram_gives_the_dashboards_p95_and_counts(otlp, api):
    t = time.time() // 60 * 60 - 120 + 5
    ok = _durations_s(4000, 1)
    failed = _durations_s(250, 2)
    resp = otlp(
        export(
            _explicit(
                "http.server.request.duration",
                "s",
                [
                    (t, ok, {**GET_CHECKOUT, "http.response.status_code": 200}),
                    (t, failed, {**GET_CHECKOUT, "http.response.status_code": 503}),
                ],
            )
        )
    )
    assert resp.status_code == 200, resp.content
    labels = {"service": "checkout", "route": "/checkout", "method": "GET"}
    assert _query(api, "http_request_duration_ms", "count", t, **labels) == [4250.0]
    assert _query(api, "http_requests", "sum", t, status_class="5xx", **labels) == [250.0]
    assert _query(api, "http_requests", "error_ratio", t, **labels) == [pytest.approx(250 / 4250)]
    [p95] = _query(api, "http_request_duration_ms", "p95", t, **labels)
    values_ms = np.concatenate([ok, failed]) * 1000
    exact = float(np.percentile(values_ms, 95))
    bounds_ms = [b * 1000 for b in SEMCONV_BOUNDS]
    counts = np.bincount(np.searchsorted(bounds_ms, values_ms, side="left"), minlength=15)
    otlp_side = _otlp_side_quantile(bounds_ms, list(counts), 0.95)
    # The documented bound: inside the OTLP bucket holding the true p95, widened by one
    # store bucket (×2^(1/4)) each side — the same bucket that bounds the OTLP-side estimate.
    i = int(np.searchsorted(bounds_ms, exact, side="left"))
    lo, hi = bounds_ms[i - 1] / histogram.GROWTH, bounds_ms[i] * histogram.GROWTH
    assert lo <= p95 <= hi, (p95, exact, otlp_side)
    assert lo <= otlp_side <= hi
    print(f"p95 exact {exact:.1f} ms, OTLP-side {otlp_side:.1f} ms, merged {p95:.1f} ms")
    [total_ms] = _query(api, "http_request_duration_ms", "sum", t, **labels)
    assert total_ms == pytest.approx(float(values_ms.sum()))


def test_a_second_cumulative_export_adds_only_the_delta_and_a_retry_adds_nothing(otlp, api):
    t1 = time.time() // 60 * 60 - 240 + 10
    t2 = t1 + 60
    first = _durations_s(300, 3)
    more = np.concatenate([first, _durations_s(120, 4)])
    attrs = {**GET_CHECKOUT, "http.response.status_code": 200}
    labels = {"service": "checkout", "route": "/checkout", "method": "GET"}

    def send(t, values):
        build = _explicit("http.server.request.duration", "s", [(t, values, attrs)])
        resp = otlp(export(build))
        assert resp.status_code == 200, resp.content

    send(t1, first)
    send(t2, more)
    send(t2, more)  # the exporter retried: already stored, not merged again

    def minute_counts():
        body = api.get(
            "/api/v1/query",
            metric="http_request_duration_ms",
            agg="count",
            by="",
            label=[f"{k}={v}" for k, v in labels.items()],
            start=int(t1 - 10),
            end=int(t2 + 50),
            step="1m",
        ).json()
        return [p[1] for s in body["series"] for p in s["points"]]

    assert minute_counts() == [300.0, 120.0]
    [p95] = _query(api, "http_request_duration_ms", "p95", t1, **labels)
    assert p95 == pytest.approx(float(np.percentile(more * 1000, 95)), rel=0.5)


def _exponential(values_ms, scale: int, t: float, temporality: int):
    """An http.server.duration exponential histogram point of ``values_ms`` at ``scale``."""
    index = np.ceil(np.log2(values_ms) * 2**scale).astype(int) - 1  # (base^i, base^(i+1)]
    offset = int(index.min())
    counts = np.bincount(index - offset)

    def build(m):
        m.name, m.unit = "http.server.duration", "ms"
        m.exponential_histogram.aggregation_temporality = temporality
        p = m.exponential_histogram.data_points.add(
            time_unix_nano=ns(t), count=len(values_ms), sum=float(values_ms.sum()), scale=scale
        )
        p.positive.offset = offset
        p.positive.bucket_counts.extend(int(c) for c in counts)
        for k, v in {"http.route": "/pay", "http.method": "post", "http.status_code": 201}.items():
            _attr(p.attributes, k, v)

    return build


def test_delta_exponential_histograms_merge_with_the_stores_own_error(otlp, api):
    t = time.time() // 60 * 60 - 360 + 20
    values = _durations_s(5000, 5) * 1000  # milliseconds, as http.server.duration
    scale = 3
    resp = otlp(export(_exponential(values, scale, t, DELTA), service="billing"))
    assert resp.status_code == 200, resp.content
    labels = {"service": "billing", "route": "/pay", "method": "POST"}
    assert _query(api, "http_request_duration_ms", "count", t, **labels) == [5000.0]
    for q, agg in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        [got] = _query(api, "http_request_duration_ms", agg, t, **labels)
        exact = float(np.percentile(values, q * 100))
        # OTLP buckets of 2^(1/8) inside the store's 2^(1/4): both errors at most.
        bound = histogram.GROWTH * 2 ** (2**-scale)
        assert exact / bound <= got <= exact * bound, (agg, got, exact)


def test_cumulative_exponential_exports_add_their_increase_across_a_scale_change(otlp, api):
    t1 = time.time() // 60 * 60 - 600 + 20
    t2, t3 = t1 + 60, t1 + 120
    first = _durations_s(2000, 6) * 1000
    later = _durations_s(3000, 7) * 3000  # slower: the SDK lowers its scale to fit them
    restarted = _durations_s(500, 8) * 1000
    sent = [
        (t1, first, 3),
        (t2, np.concatenate([first, later]), 2),
        (t2, np.concatenate([first, later]), 2),  # a retried export adds nothing
        (t3, restarted, 3),  # the process restarted: its counts start again
    ]
    for t, values, scale in sent:
        resp = otlp(export(_exponential(values, scale, t, CUMULATIVE), service="billing"))
        assert resp.status_code == 200, resp.content
    labels = {"service": "billing", "route": "/pay", "method": "POST"}

    def minutes(agg):
        body = api.get(
            "/api/v1/query",
            metric="http_request_duration_ms",
            agg=agg,
            by="",
            label=[f"{k}={v}" for k, v in labels.items()],
            start=int(t1 - 20),
            end=int(t3 + 40),
            step="1m",
        ).json()
        return [p[1] for s in body["series"] for p in s["points"]]

    assert minutes("count") == [2000.0, 3000.0, 500.0]
    # The second minute holds exactly the later requests: first's buckets subtracted at scale 2.
    for q, agg in ((0.5, "p50"), (0.95, "p95")):
        got = minutes(agg)[1]
        exact = float(np.percentile(later, q * 100))
        bound = histogram.GROWTH * 2 ** (2**-2)
        assert exact / bound <= got <= exact * bound, (agg, got, exact)


def test_other_units_and_other_duration_histograms_are_not_merged(otlp, api):
    t = time.time() // 60 * 60 - 480 + 5
    attrs = {**GET_CHECKOUT, "http.response.status_code": 200}
    values = _durations_s(50, 6)
    resp = otlp(
        export(
            _explicit("http.server.request.duration", "By", [(t, values, attrs)]),
            _explicit("db.client.operation.duration", "s", [(t, values, attrs)]),
        )
    )
    assert resp.status_code == 200, resp.content
    assert not Series.objects.filter(name="http_request_duration_ms").exists()
    assert not Series.objects.filter(name="http_requests").exists()
    # They are still there as classic histograms.
    assert Series.objects.filter(name="db_client_operation_duration_count").exists()


def test_a_refused_request_merges_nothing(otlp):
    t = time.time() // 60 * 60 - 60
    attrs = {**GET_CHECKOUT, "http.response.status_code": 200, "x": "y" * 5000}
    resp = otlp(
        export(_explicit("http.server.request.duration", "s", [(t, _durations_s(9, 7), attrs)]))
    )
    assert resp.status_code == 400
    assert not Series.objects.filter(name="http_request_duration_ms").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "views",
    [
        (),  # explicit buckets, the SDK's default
        [View(instrument_name="*", aggregation=ExponentialBucketHistogramAggregation())],
    ],
    ids=["explicit", "exponential"],
)
def test_the_opentelemetry_sdk_http_server_duration_reaches_the_latency_histograms(
    live_server, make_token, api, views
):
    # Cumulative temporality, the SDK exporter's default.
    provider, reader = sdk_meter_provider(live_server.url, make_token("ingest"), "shop", views)
    duration = provider.get_meter("shop.http").create_histogram("http.server.duration", unit="ms")
    attrs = {"http.route": "/cart", "http.method": "GET"}
    for value, status in ((12, 200), (40, 200), (250, 200), (900, 500)):
        duration.record(value, {**attrs, "http.status_code": status})
    assert reader.force_flush(timeout_millis=10_000)
    for value in (30, 60):  # the second (cumulative) export carries these two more
        duration.record(value, {**attrs, "http.status_code": 200})
    assert reader.force_flush(timeout_millis=10_000)
    provider.shutdown()
    t = time.time()
    labels = {"service": "shop", "route": "/cart", "method": "GET"}
    assert _query(api, "http_request_duration_ms", "count", t, **labels) == [6.0]
    assert _query(api, "http_requests", "sum", t, status_class="5xx", **labels) == [1.0]
    [total] = _query(api, "http_request_duration_ms", "sum", t, **labels)
    assert total == pytest.approx(12 + 40 + 250 + 900 + 30 + 60)
    assert Series.objects.get(name="http_request_duration_ms").unit == "ms"
