"""OpenTelemetry OTLP/HTTP metrics receiver (``POST /v1/metrics``, protobuf or JSON) → store.

Mapping (the same rules as Prometheus' own OTLP receiver, where it has one):
- names: the metric name with every character outside ``[a-zA-Z0-9_:]`` turned into ``_``
  (``http.server.duration`` → ``http_server_duration``); a monotonic sum gets ``_total`` unless
  its name already ends so, so ``rate(x_total[5m])`` reads as in Prometheus. The OTLP unit is
  kept as the series' unit, not appended to the name.
- labels: the data point's attributes (names sanitised the same way, values as text; arrays
  and maps as JSON), plus from the resource ``service.name`` → ``service``,
  ``service.namespace`` → ``namespace``, ``service.instance.id`` → ``instance``,
  ``deployment.environment`` → ``environment``. Other resource attributes and the
  instrumentation scope are not labels: they would multiply series without telling them apart.
- gauge → one sample per point; sum, cumulative → the value as sent (a counter, ready for
  ``rate``); sum, **delta** → added to the series' last stored value, so the stored series is
  cumulative either way (serialised per series with an advisory lock, so two exporters' deltas
  never overwrite each other).
- histogram (explicit buckets) → ``<name>_bucket{le=…}`` (cumulative counts, ``+Inf`` last),
  ``<name>_count``, ``<name>_sum``, as Prometheus stores a classic histogram, so
  ``histogram_quantile`` works on them; delta histograms are accumulated like delta sums.
- exponential histogram → ``<name>_count`` and ``<name>_sum`` (its sparse buckets are not
  stored: they would add up to 160 series per histogram); summary → ``<name>_count``,
  ``<name>_sum`` and ``<name>{quantile=…}``.
- HTTP server duration histograms (explicit and exponential) are also merged into the
  request-latency histograms of ``POST /api/v1/requests``: see ``otlp_latency``.
- points flagged "no recorded value" and NaN values are skipped and reported back in
  ``partial_success``.

A request is all or nothing: a value the store refuses (a label too long, a time out of range)
or a metric with no known data type is a 400 carrying a ``google.rpc.Status`` (protobuf or JSON,
like the request) naming the metric, and nothing is written.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db import connection, transaction
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from collectors.receivers import otlp_latency
from collectors.receivers.common import ReceiverError, chunks
from collectors.store import IngestError, add_request_histograms, write_samples
from collectors.store.series import resolve, series_key

MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
NO_RECORDED_VALUE = metrics_pb2.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
RESOURCE_LABELS = {
    "service.name": "service",
    "service.namespace": "namespace",
    "service.instance.id": "instance",
    "deployment.environment": "environment",
}
_NAME_RE = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_RE = re.compile(r"[^a-zA-Z0-9_]")
# Advisory-lock namespace for delta accumulation (kept apart from the partition locks).
_DELTA_LOCK_BASE = 7 << 40


class OtlpError(ReceiverError):
    """An OTLP export request refused; nothing of it was written."""


@dataclass
class Series:
    metric: str
    labels: dict[str, str]
    unit: str
    delta: bool
    points: list[list[float]] = field(default_factory=list)
    where: str = ""


@dataclass
class ExportResult:
    points: int = 0
    rejected: int = 0
    reasons: set[str] = field(default_factory=set)


def decode(body: bytes, *, content_type: str, encoding: str = "") -> ExportMetricsServiceRequest:
    if encoding.lower() == "gzip":
        try:
            body = gzip.GzipFile(fileobj=io.BytesIO(body)).read(MAX_UNCOMPRESSED_BYTES + 1)
        except (OSError, EOFError):
            raise OtlpError("body is not valid gzip") from None
        if len(body) > MAX_UNCOMPRESSED_BYTES:
            raise OtlpError(f"uncompressed body exceeds {MAX_UNCOMPRESSED_BYTES} bytes", 413)
    elif encoding not in ("", "identity"):
        raise OtlpError(f"unsupported Content-Encoding {encoding!r}: send gzip or none", 415)
    request = ExportMetricsServiceRequest()
    if content_type == "application/json":
        try:
            json_format.Parse(body, request, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
            raise OtlpError(
                f"body is not an OTLP JSON ExportMetricsServiceRequest: {exc}"
            ) from None
    elif content_type == "application/x-protobuf":
        try:
            request.ParseFromString(body)
        except DecodeError:
            raise OtlpError("body is not a protobuf ExportMetricsServiceRequest") from None
    else:
        raise OtlpError(
            f"unsupported Content-Type {content_type!r}: send application/x-protobuf or "
            "application/json",
            415,
        )
    return request


def metric_name(name: str) -> str:
    clean = _NAME_RE.sub("_", name)
    return "_" + clean if clean[:1].isdigit() else clean


def label_name(name: str) -> str:
    clean = _LABEL_RE.sub("_", name)
    return "_" + clean if clean[:1].isdigit() or not clean else clean


def _value_text(value) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind is None:
        return ""
    return orjson.dumps(json_format.MessageToDict(value)).decode()


def _labels(attributes, base: dict[str, str]) -> dict[str, str]:
    labels = dict(base)
    for kv in attributes:
        labels[label_name(kv.key)] = _value_text(kv.value)
    return labels


def _seconds(unix_nano: int) -> float:
    return unix_nano / 1e9


def _number(point) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else point.as_double


def to_series(
    request: ExportMetricsServiceRequest,
    result: ExportResult,
    latency: list[otlp_latency.Point] | None = None,
) -> list[Series]:
    """The request's points as series; HTTP server duration points also go to ``latency``."""
    out: dict[tuple, Series] = {}
    latency = [] if latency is None else latency

    def add(metric, labels, unit, delta, when, value, where):
        if value is None or math.isnan(value) or math.isinf(value):
            result.rejected += 1
            result.reasons.add("NaN or infinite value")
            return
        key = (metric, tuple(sorted(labels.items())), delta)
        series = out.get(key)
        if series is None:
            series = out[key] = Series(metric, labels, unit, delta, where=where)
        series.points.append([when, value])
        result.points += 1

    def recorded(point) -> bool:
        if point.flags & NO_RECORDED_VALUE:
            result.rejected += 1
            result.reasons.add("no recorded value")
            return False
        return True

    for r, resource_metrics in enumerate(request.resource_metrics):
        base = {}
        for kv in resource_metrics.resource.attributes:
            if kv.key in RESOURCE_LABELS:
                base[RESOURCE_LABELS[kv.key]] = _value_text(kv.value)
        for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
            for m, metric in enumerate(scope_metrics.metrics):
                where = f"resource_metrics[{r}].scope_metrics[{s}].metrics[{m}] ({metric.name})"
                name = metric_name(metric.name)
                if not name:
                    raise OtlpError(f"{where}: metric has no name")
                unit = metric.unit[:32]
                kind = metric.WhichOneof("data")
                ms = otlp_latency.ms_factor(metric.name, metric.unit)
                if kind in ("gauge", "sum"):
                    data = getattr(metric, kind)
                    delta = kind == "sum" and data.aggregation_temporality == DELTA
                    if kind == "sum" and data.is_monotonic and not name.endswith("_total"):
                        name += "_total"
                    for p in data.data_points:
                        if not recorded(p):
                            continue
                        add(
                            name,
                            _labels(p.attributes, base),
                            unit,
                            delta,
                            _seconds(p.time_unix_nano),
                            _number(p),
                            where,
                        )
                elif kind == "histogram":
                    delta = metric.histogram.aggregation_temporality == DELTA
                    for p in metric.histogram.data_points:
                        if not recorded(p):
                            continue
                        labels = _labels(p.attributes, base)
                        when = _seconds(p.time_unix_nano)
                        if len(p.bucket_counts) not in (0, len(p.explicit_bounds) + 1):
                            raise OtlpError(
                                f"{where}: {len(p.bucket_counts)} bucket counts for "
                                f"{len(p.explicit_bounds)} bounds (need bounds + 1)"
                            )
                        running = 0
                        bounds = [*(repr(float(b)) for b in p.explicit_bounds), "+Inf"]
                        for le, count in zip(bounds, p.bucket_counts, strict=False):
                            running += count
                            add(
                                f"{name}_bucket",
                                {**labels, "le": le},
                                unit,
                                delta,
                                when,
                                float(running),
                                where,
                            )
                        add(f"{name}_count", labels, unit, delta, when, float(p.count), where)
                        if p.HasField("sum"):
                            add(f"{name}_sum", labels, unit, delta, when, p.sum, where)
                        if ms is not None:
                            point = otlp_latency.explicit_point(
                                name, labels, ms, p, delta=delta, when=when
                            )
                            if point is not None:
                                latency.append(point)
                elif kind == "exponential_histogram":
                    delta = metric.exponential_histogram.aggregation_temporality == DELTA
                    for p in metric.exponential_histogram.data_points:
                        labels = _labels(p.attributes, base)
                        when = _seconds(p.time_unix_nano)
                        add(f"{name}_count", labels, unit, delta, when, float(p.count), where)
                        if p.HasField("sum"):
                            add(f"{name}_sum", labels, unit, delta, when, p.sum, where)
                        if ms is not None and not p.flags & NO_RECORDED_VALUE:
                            point = otlp_latency.exponential_point(
                                name, labels, ms, p, delta=delta, when=when
                            )
                            if point is not None:
                                latency.append(point)
                elif kind == "summary":
                    for p in metric.summary.data_points:
                        labels = _labels(p.attributes, base)
                        when = _seconds(p.time_unix_nano)
                        add(f"{name}_count", labels, unit, False, when, float(p.count), where)
                        add(f"{name}_sum", labels, unit, False, when, p.sum, where)
                        for q in p.quantile_values:
                            add(
                                name,
                                {**labels, "quantile": repr(float(q.quantile))},
                                unit,
                                False,
                                when,
                                q.value,
                                where,
                            )
                else:
                    raise OtlpError(
                        f"{where}: unknown or missing metric data type (expected gauge, sum, "
                        "histogram, exponential_histogram or summary)"
                    )
    return list(out.values())


def _accumulate_deltas(deltas: list[Series]) -> None:
    """Turn delta points into cumulative ones on top of each series' last stored value."""
    wanted = {
        series_key(s.metric, s.labels): (s.metric, s.labels, s.unit, "counter") for s in deltas
    }
    ids = resolve(wanted)
    with connection.cursor() as cur:
        for series in deltas:
            series_id = ids[series_key(series.metric, series.labels)]
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_DELTA_LOCK_BASE + series_id])
            cur.execute(
                "SELECT value FROM collectors_sample WHERE series_id = %s ORDER BY ts DESC LIMIT 1",
                [series_id],
            )
            row = cur.fetchone()
            total = row[0] if row else 0.0
            for point in sorted(series.points):
                total += point[1]
                point[1] = total


def _items(series: list[Series]) -> list[dict]:
    return [
        {
            "metric": s.metric,
            "labels": s.labels,
            "unit": s.unit or None,
            "points": s.points,
            "_where": s.where,
        }
        for s in series
    ]


def receive(body: bytes, *, content_type: str, encoding: str = "") -> ExportResult:
    """Decode and store one OTLP export request atomically."""
    request = decode(body, content_type=content_type, encoding=encoding)
    result = ExportResult()
    latency: list[otlp_latency.Point] = []
    series = to_series(request, result, latency)
    with transaction.atomic():
        # Before the classic series are written: cumulative points diff against the stored ones.
        latency_rows = otlp_latency.prepare(latency) if latency else []
        deltas = [s for s in series if s.delta]
        if deltas:
            _accumulate_deltas(deltas)
        for batch in chunks(_items(series), settings.INGEST_MAX_BATCH):
            plain = [{k: v for k, v in item.items() if k != "_where"} for item in batch]
            try:
                write_samples(plain, source="otlp")
            except IngestError as exc:
                if exc.index is None:
                    raise OtlpError(str(exc)) from exc
                detail = str(exc).split(": ", 1)[-1]
                raise OtlpError(
                    f"{batch[exc.index]['_where']}: {exc.field or 'point'}: {detail}"
                ) from exc
        if latency_rows:
            try:
                add_request_histograms(latency_rows)
            except IngestError as exc:
                raise OtlpError(f"HTTP server duration histogram: {exc}") from exc
    return result


def success_body(result: ExportResult, *, json: bool) -> bytes:
    response = ExportMetricsServiceResponse()
    if result.rejected:
        response.partial_success.rejected_data_points = result.rejected
        response.partial_success.error_message = "skipped: " + ", ".join(sorted(result.reasons))
    if json:
        return json_format.MessageToJson(response).encode()
    return response.SerializeToString()


def error_body(message: str, status: int, *, json: bool) -> bytes:
    code = code_pb2.INVALID_ARGUMENT if status < 500 else code_pb2.UNAVAILABLE
    rpc_status = status_pb2.Status(code=code, message=message)
    if json:
        return json_format.MessageToJson(rpc_status).encode()
    return rpc_status.SerializeToString()
