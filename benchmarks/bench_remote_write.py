"""remote_write: samples/s into POST /api/v1/write (one gunicorn worker) against Prometheus'
own remote-write receiver (Debian's prometheus, `--web.enable-remote-write-receiver`), the
same snappy-compressed WriteRequests sent one after another to each, in the same run."""

from __future__ import annotations

import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cramjam
import requests
from django.db import connection

from benchmarks.common import bench_token, free_port, gunicorn, row
from collectors.receivers.remote_write_pb import WriteRequest

BATCHES = 30
SERIES = 200
PER_SERIES = 50  # 10,000 samples per request, the store's batch limit
PROMETHEUS = "/usr/bin/prometheus"


def _bodies(start: datetime) -> list[bytes]:
    """Requests in time order (receivers refuse out-of-order samples)."""
    base_ms = int(start.timestamp() * 1000)
    bodies = []
    for b in range(BATCHES):
        request = WriteRequest()
        for s in range(SERIES):
            series = request.timeseries.add()
            series.labels.add(name="__name__", value="bench_remote_write")
            series.labels.add(name="dc", value="bench")
            series.labels.add(name="host", value=f"h{s:03d}")
            for k in range(PER_SERIES):
                step = b * PER_SERIES + k
                series.samples.add(value=s * 0.5 + k, timestamp=base_ms + step * 15_000)
        bodies.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    return bodies


def _send_all(url: str, bodies: list[bytes], headers: dict) -> float:
    """Samples/s over every request but the first, which warms the receiver."""
    with requests.Session() as http:
        warm = http.post(url, data=bodies[0], headers=headers, timeout=60)
        assert warm.status_code < 300, warm.text
        began = time.perf_counter()
        for body in bodies[1:]:
            resp = http.post(url, data=body, headers=headers, timeout=60)
            assert resp.status_code < 300, resp.text
        return (len(bodies) - 1) * SERIES * PER_SERIES / (time.perf_counter() - began)


def _prometheus_rate(bodies: list[bytes], headers: dict) -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prometheus.yml").write_text("global: {}\n")
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp}/prometheus.yml",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            return _send_all(f"http://127.0.0.1:{port}/api/v1/write", bodies, headers)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _delete_bench_rows() -> None:
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM collectors_sample WHERE series_id IN "
            "(SELECT id FROM collectors_series WHERE name = 'bench_remote_write')"
        )
        cur.execute("DELETE FROM collectors_dirty_range")


def run() -> list[dict]:
    from collectors.store.partitions import ensure_all_tables

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=7)
    ensure_all_tables({(start + timedelta(days=d)).date() for d in range(0, 2)})
    _delete_bench_rows()
    bodies = _bodies(start)
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    with gunicorn(workers=1) as (base, _proc):
        ours = _send_all(
            f"{base}/api/v1/write",
            bodies,
            {**headers, "Authorization": f"Bearer {bench_token(['ingest'])}"},
        )
    theirs = _prometheus_rate(bodies, headers)
    _delete_bench_rows()
    return [
        row(
            "remote_write POST /api/v1/write, 10k samples/request",
            ours,
            "samples/s",
            reference="Prometheus 2.42 remote-write receiver, same requests",
            reference_value=theirs,
            target="reported (the store writes to Postgres, Prometheus to its TSDB head)",
        )
    ]
