"""POST /v1/metrics: OTLP/HTTP metrics (protobuf and JSON) into the store, and an
OpenTelemetry SDK MeterProvider exporting to a live PenguinMon as the real client."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collectors.models import Series
from tests.support.otel import sdk_meter_provider

CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA


def _attr(kv, key, value):
    item = kv.add(key=key)
    if isinstance(value, bool):
        item.value.bool_value = value
    elif isinstance(value, int):
        item.value.int_value = value
    else:
        item.value.string_value = value


def export(*metrics, service="checkout", extra_resource=None) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    _attr(rm.resource.attributes, "service.name", service)
    _attr(rm.resource.attributes, "host.name", "ip-10-0-0-7")  # not a label
    for key, value in (extra_resource or {}).items():
        _attr(rm.resource.attributes, key, value)
    sm = rm.scope_metrics.add()
    sm.scope.name = "checkout.instrumentation"
    for build in metrics:
        build(sm.metrics.add())
    return request


def ns(seconds: float) -> int:
    return int(seconds * 1e9)


@pytest.fixture
def otlp(client, make_token):
    token = make_token("ingest")

    def post(request=None, *, raw=None, json_body=False, headers=None, path="/v1/metrics"):
        if raw is None:
            raw = (
                json_format.MessageToJson(request).encode()
                if json_body
                else request.SerializeToString()
            )
        return client.post(
            path,
            raw,
            content_type="application/json" if json_body else "application/x-protobuf",
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
        )

    return post


def stored(api, metric, start, end, **labels):
    params = {
        "metric": metric,
        "agg": "last",
        "step": "1s",
        "start": int(start),
        "end": int(end) + 1,
    }
    if labels:
        params["label"] = [f"{k}={v}" for k, v in labels.items()]
    body = api.get("/api/v1/query", **params).json()
    return [p[1] for s in body["series"] for p in s["points"] if p[1] is not None]


def test_gauges_and_cumulative_sums_are_stored_with_resource_labels(otlp, api):
    t = time.time() // 1 - 30

    def gauge(m):
        m.name, m.unit = "queue.depth", "{messages}"
        p = m.gauge.data_points.add(time_unix_nano=ns(t), as_int=42)
        _attr(p.attributes, "queue", "send")

    def counter(m):
        m.name = "emails.sent"
        m.sum.is_monotonic, m.sum.aggregation_temporality = True, CUMULATIVE
        p = m.sum.data_points.add(time_unix_nano=ns(t), as_double=1500.0)
        _attr(p.attributes, "pool", "warm")

    resp = otlp(export(gauge, counter))
    assert resp.status_code == 200, resp.content
    assert (
        ExportMetricsServiceResponse.FromString(resp.content).partial_success.rejected_data_points
        == 0
    )
    series = Series.objects.get(name="queue_depth")
    assert series.labels == {"service": "checkout", "queue": "send"}
    assert series.unit == "{messages}"
    assert stored(api, "queue_depth", t - 1, t + 1) == [42.0]
    assert stored(api, "emails_sent_total", t - 1, t + 1, pool="warm") == [1500.0]


def test_delta_sums_accumulate_into_a_counter(otlp, api):
    t = time.time() // 1 - 60

    def delta(value, at):
        def build(m):
            m.name = "jobs.done"
            m.sum.is_monotonic, m.sum.aggregation_temporality = True, DELTA
            m.sum.data_points.add(time_unix_nano=ns(at), as_int=value)

        return build

    assert otlp(export(delta(5, t))).status_code == 200
    assert otlp(export(delta(7, t + 10))).status_code == 200
    assert otlp(export(delta(1, t + 20))).status_code == 200
    assert stored(api, "jobs_done_total", t - 1, t + 21) == [5.0, 12.0, 13.0]


def test_explicit_histograms_become_classic_bucket_series(otlp, api):
    t = time.time() // 1 - 30

    def hist(m):
        m.name, m.unit = "http.server.duration", "ms"
        m.histogram.aggregation_temporality = CUMULATIVE
        p = m.histogram.data_points.add(
            time_unix_nano=ns(t),
            count=10,
            sum=523.0,
            explicit_bounds=[10, 100],
            bucket_counts=[2, 7, 1],
        )
        _attr(p.attributes, "http.route", "/v1/send")

    assert otlp(export(hist)).status_code == 200
    buckets = {
        s.labels["le"]: stored(api, "http_server_duration_bucket", t - 1, t + 1, le=s.labels["le"])
        for s in Series.objects.filter(name="http_server_duration_bucket")
    }
    assert buckets == {"10.0": [2.0], "100.0": [9.0], "+Inf": [10.0]}
    assert Series.objects.get(name="http_server_duration_count").labels == {
        "service": "checkout",
        "http_route": "/v1/send",
    }
    assert stored(api, "http_server_duration_sum", t - 1, t + 1) == [523.0]


def test_json_encoding_is_answered_in_json(otlp, api):
    t = time.time() // 1 - 30

    def gauge(m):
        m.name = "temperature"
        m.gauge.data_points.add(time_unix_nano=ns(t), as_double=21.5)

    resp = otlp(export(gauge), json_body=True)
    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json"
    json.loads(resp.content)
    assert stored(api, "temperature", t - 1, t + 1) == [21.5]


def test_gzip_bodies_and_the_api_path_are_accepted(otlp, api):
    t = time.time() // 1 - 30

    def gauge(m):
        m.name = "zipped"
        m.gauge.data_points.add(time_unix_nano=ns(t), as_double=3.0)

    raw = gzip.compress(export(gauge).SerializeToString())
    resp = otlp(raw=raw, headers={"Content-Encoding": "gzip"}, path="/api/otlp/v1/metrics")
    assert resp.status_code == 200
    assert stored(api, "zipped", t - 1, t + 1) == [3.0]


def test_nan_and_unrecorded_points_are_reported_as_partial_success(otlp):
    t = time.time() // 1 - 30

    def gauge(m):
        m.name = "ratio"
        m.gauge.data_points.add(time_unix_nano=ns(t), as_double=float("nan"))
        m.gauge.data_points.add(
            time_unix_nano=ns(t),
            as_double=1.0,
            flags=metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK,
        )
        m.gauge.data_points.add(time_unix_nano=ns(t + 1), as_double=0.5)

    resp = otlp(export(gauge))
    partial = ExportMetricsServiceResponse.FromString(resp.content).partial_success
    assert partial.rejected_data_points == 2
    assert "NaN" in partial.error_message


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "message"),
    [
        (b"\x0a\xff\xff\xff\xff", "application/x-protobuf", 400, "not a protobuf"),
        (b"{not json", "application/json", 400, "not an OTLP JSON"),
        (b"", "text/plain", 415, "unsupported Content-Type"),
    ],
)
def test_undecodable_bodies_get_a_status_message(
    client, make_token, raw, content_type, status, message
):
    resp = client.post(
        "/v1/metrics",
        raw,
        content_type=content_type,
        headers={"Authorization": f"Bearer {make_token('ingest')}"},
    )
    assert resp.status_code == status
    if content_type == "application/json":
        assert message in json.loads(resp.content)["message"]
    else:
        assert message in status_pb2.Status.FromString(resp.content).message


def test_a_metric_without_a_data_type_refuses_the_request(otlp):
    t = time.time() // 1 - 30

    def good(m):
        m.name = "good_one"
        m.gauge.data_points.add(time_unix_nano=ns(t), as_double=1.0)

    def typeless(m):
        m.name = "mystery"

    resp = otlp(export(good, typeless))
    assert resp.status_code == 400
    status = status_pb2.Status.FromString(resp.content)
    assert "metrics[1] (mystery): unknown or missing metric data type" in status.message
    assert not Series.objects.filter(name="good_one").exists()


def test_a_value_the_store_refuses_names_the_metric_and_writes_nothing(otlp):
    t = time.time() // 1 - 30

    def fine(m):
        m.name = "fine_gauge"
        m.gauge.data_points.add(time_unix_nano=ns(t), as_double=1.0)

    def too_long(m):
        m.name = "long_label"
        p = m.gauge.data_points.add(time_unix_nano=ns(t), as_double=1.0)
        _attr(p.attributes, "user_agent", "x" * 5000)

    resp = otlp(export(fine, too_long))
    assert resp.status_code == 400
    assert "(long_label): labels" in status_pb2.Status.FromString(resp.content).message
    assert not Series.objects.filter(name="fine_gauge").exists()


def test_tokens_are_required(client, make_token):
    body = export().SerializeToString()
    no_token = client.post("/v1/metrics", body, content_type="application/x-protobuf")
    assert no_token.status_code == 401
    read_only = client.post(
        "/v1/metrics",
        body,
        content_type="application/x-protobuf",
        headers={"Authorization": f"Bearer {make_token('read')}"},
    )
    assert read_only.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_an_opentelemetry_sdk_exports_to_penguinmon(live_server, make_token):
    provider, reader = sdk_meter_provider(live_server.url, make_token("ingest"), "billing")
    meter = provider.get_meter("billing.jobs")
    invoices = meter.create_counter("invoices.created")
    latency = meter.create_histogram("charge.duration", unit="ms")
    invoices.add(3, {"plan": "pro"})
    invoices.add(2, {"plan": "pro"})
    for value in (12, 40, 250):
        latency.record(value, {"gateway": "stripe"})
    assert reader.force_flush(timeout_millis=10_000)
    provider.shutdown()
    counter = Series.objects.get(name="invoices_created_total")
    # The SDK adds a random service.instance.id, which becomes the instance label.
    assert {k: v for k, v in counter.labels.items() if k != "instance"} == {
        "service": "billing",
        "plan": "pro",
    }
    assert (
        Series.objects.filter(name="charge_duration_bucket", labels__gateway="stripe").count() > 1
    )
    assert Series.objects.filter(name="charge_duration_count").exists()
