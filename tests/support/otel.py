"""An OpenTelemetry SDK exporting to a PenguinMon under test, as an instrumented app would."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource


def sdk_meter_provider(
    base_url: str, token: str, service: str, views: Sequence[View] = ()
) -> tuple[MeterProvider, PeriodicExportingMetricReader]:
    """A MeterProvider with the OTLP/HTTP exporter pointed at ``base_url``/v1/metrics (and
    ``views``, e.g. an exponential histogram aggregation); the reader exports only when
    flushed (``reader.force_flush()``)."""
    exporter = OTLPMetricExporter(
        endpoint=f"{base_url}/v1/metrics",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": service}),
        views=list(views),
    )
    return provider, reader
