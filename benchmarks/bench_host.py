"""Host sampler: CPU per sample including its write to the store, against Debian's
prometheus-node-exporter CPU per scrape, measured in the same run.

Our figure counts this process's CPU (psutil reads, building rows, the Django/psycopg write,
the Redis counters) plus the CPU of the Postgres backend that stored the rows, so the store
write is not hidden in another process. node_exporter's figure is its own process CPU per
/metrics scrape (default collectors), read with psutil.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import psutil
import requests
from django.db import connection

from benchmarks.common import free_port, row, wait_for_http

SAMPLES = 200
SCRAPES = 100
INTERVAL_S = 15
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def _backend_cpu(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def _measure_sampler() -> tuple[float, float]:
    """(ms CPU per sample in this process, ms CPU per sample in the Postgres backend)."""
    from collectors.models import Host, Series
    from collectors.monitoring.hosts import sample_host
    from penguinmon.queues import redis_client

    name = f"bench-host-{os.getpid()}"
    sample_host(hostname=name)  # warm up: series created, counters in Redis, caches filled
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        backend = cur.fetchone()[0]
    try:
        db_before = _backend_cpu(backend)
        began = time.process_time()
        for _ in range(SAMPLES):
            sample_host(hostname=name)
        ours = (time.process_time() - began) / SAMPLES * 1000
        db = (_backend_cpu(backend) - db_before) / SAMPLES * 1000
    finally:
        ids = list(Series.objects.filter(labels__host=name).values_list("id", flat=True))
        with connection.cursor() as cur:
            cur.execute("DELETE FROM collectors_sample WHERE series_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM collectors_rollup_1m WHERE series_id = ANY(%s)", [ids])
        Series.objects.filter(id__in=ids).delete()
        Host.objects.filter(name=name).delete()
        redis_client().delete(f"penguinmon:host-counters:{name}")
    return ours, db


def _measure_node_exporter() -> float:
    """ms CPU per scrape of node_exporter (its default collectors), measured now."""
    if not shutil.which(NODE_EXPORTER):
        raise RuntimeError(
            f"{NODE_EXPORTER} is missing: `make bench-deps` installs prometheus-node-exporter"
        )
    port = free_port()
    proc = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_for_http(
            url, "prometheus-node-exporter did not answer", ok=lambda r: r.ok, seconds=20, every=0.1
        )
        for _ in range(5):  # warm-up scrapes
            requests.get(url, timeout=10)
        exporter = psutil.Process(proc.pid)
        before = exporter.cpu_times()
        for _ in range(SCRAPES):
            requests.get(url, timeout=10)
        after = exporter.cpu_times()
        return ((after.user + after.system) - (before.user + before.system)) / SCRAPES * 1000
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run() -> list[dict]:
    ours_ms, db_ms = _measure_sampler()
    total_ms = ours_ms + db_ms
    node_ms = _measure_node_exporter()
    return [
        row(
            "host sample CPU incl. store write (process + Postgres backend)",
            total_ms,
            "ms",
            reference="prometheus-node-exporter CPU per scrape, measured in this run",
            reference_value=node_ms,
            target="ratio <= 1 (below node_exporter)",
        ),
        row(
            "host sample CPU, sampler process only",
            ours_ms,
            "ms",
            target="(part of the figure above)",
        ),
        row(
            "host sample CPU, Postgres backend only",
            db_ms,
            "ms",
            target="(part of the figure above)",
        ),
        row(
            "host sampler share of one core at 15 s interval",
            total_ms / (INTERVAL_S * 1000) * 100,
            "%",
            target="< 0.5 %",
        ),
    ]
