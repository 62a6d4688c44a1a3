"""An OpenTelemetry SDK exporting to a PenguinMon under test, as an instrumented app would."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource


def sdk_meter_provider(
    base_url: str, token: str, service: str
) -> tuple[MeterProvider, PeriodicExportingMetricReader]:
    """A MeterProvider with the OTLP/HTTP exporter pointed at ``base_url``/v1/metrics; the
    reader exports only when flushed (``reader.force_flush()``)."""
    exporter = OTLPMetricExporter(
        endpoint=f"{base_url}/v1/metrics",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": service})
    )
    return provider, reader
