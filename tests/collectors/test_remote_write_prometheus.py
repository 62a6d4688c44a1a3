"""End to end: a real Prometheus (Debian's prometheus 2.42) scraping itself and sending what it
scrapes to PenguinMon's live server with ``remote_write:``."""

from __future__ import annotations

import subprocess

import pytest
import requests

from collectors.models import Series
from tests.support.net import free_port, wait_until

PROMETHEUS = "/usr/bin/prometheus"


@pytest.mark.django_db(transaction=True)
def test_prometheus_remote_write_lands_in_the_store(tmp_path, live_server, make_token):
    token = make_token("ingest")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:{port}"]
remote_write:
  - url: {live_server.url}/api/v1/write
    authorization:
      credentials: {token}
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 2000
"""
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        up = wait_until(
            lambda: Series.objects.filter(name="up", labels__job="self").first(),
            60,
            "Prometheus' up series in PenguinMon",
        )
        assert up.labels == {"job": "self", "instance": f"127.0.0.1:{port}"}
        # Prometheus counts what it sent; none of it may have failed.
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        failed = [
            line
            for line in metrics.splitlines()
            if line.startswith("prometheus_remote_storage_samples_failed_total")
        ]
        assert failed and all(line.endswith(" 0") for line in failed), failed
        assert Series.objects.filter(name="prometheus_build_info").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
