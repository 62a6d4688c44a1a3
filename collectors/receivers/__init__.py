"""Protocols other systems already speak, received into the metric store: Prometheus
remote_write (``prometheus.py``) and OpenTelemetry OTLP/HTTP metrics (``otlp.py``). Each turns
its payload into the store's series-grouped samples and writes them through
``collectors.store.write_samples``, so the same validation, limits and atomicity apply."""
