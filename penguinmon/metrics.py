"""PenguinMon's own Prometheus metrics, served at /metrics.

With PROMETHEUS_MULTIPROC_DIR set (``make run`` and docker-compose set it), counters from the
gunicorn workers and the Celery worker are summed across processes.
"""

from __future__ import annotations

import os
import time

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from penguinmon.queues import celery_queue_lengths

SAMPLES_INGESTED = Counter(
    "penguinmon_samples_ingested", "Samples written to the metric store", ["source"]
)
INGEST_REJECTED = Counter(
    "penguinmon_ingest_rejected_batches", "Ingest batches rejected as invalid", ["endpoint"]
)
TASK_DURATION = Histogram(
    "penguinmon_task_duration_seconds",
    "Celery task run time",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TASK_FAILURES = Counter("penguinmon_task_failures", "Celery tasks that raised", ["task"])
LAST_TASK_SUCCESS = Gauge(
    "penguinmon_task_last_success_timestamp_seconds",
    "Unix time of the last successful run",
    ["task"],
    multiprocess_mode="max",
)

CELERY_QUEUES = ("celery",)


class QueueLengthCollector:
    """Reads the Celery queue lengths from Redis at scrape time."""

    def collect(self):
        family = GaugeMetricFamily(
            "penguinmon_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
        )
        try:
            for queue, length in celery_queue_lengths().items():
                family.add_metric([queue], length)
        except Exception:  # a scrape must answer even with Redis gone
            family.add_metric(["redis_unreachable"], -1)
        yield family


_QUEUES = QueueLengthCollector()
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    REGISTRY.register(_QUEUES)


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_QUEUES)
    return registry


@require_GET
def metrics_view(request):
    """Prometheus exposition. Scrapers send a read-scoped token (`authorization: credentials:`
    in the scrape config); a logged-in browser session works too."""
    if not request.user.is_authenticated:
        from ninja.errors import HttpError

        from penguinmon.api_auth import token_for

        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        try:
            allowed = (
                scheme.lower() == "bearer"
                and raw
                and token_for(raw.strip(), "read", request) is not None
            )
        except HttpError as exc:
            return HttpResponse(str(exc), status=exc.status_code, content_type="text/plain")
        if not allowed:
            response = HttpResponse(
                "send Authorization: Bearer <token with the read scope>\n",
                status=401,
                content_type="text/plain",
            )
            response["WWW-Authenticate"] = 'Bearer realm="penguinmon"'
            return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def _connect_celery_signals() -> None:
    from celery.signals import task_failure, task_postrun, task_prerun

    starts: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _start(task_id=None, **_):
        starts[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _stop(task_id=None, task=None, state=None, **_):
        began = starts.pop(task_id, None)
        if began is not None and task is not None:
            TASK_DURATION.labels(task.name).observe(time.perf_counter() - began)
            if state == "SUCCESS":
                LAST_TASK_SUCCESS.labels(task.name).set(time.time())

    @task_failure.connect(weak=False)
    def _failed(sender=None, **_):
        TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


_connect_celery_signals()
