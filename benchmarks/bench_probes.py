"""Probe runner: 500 http probes against a local HTTP server, 10% of them pointing at a socket
that accepts and never answers; one cycle must finish within the 15 s interval. Reports the
cycle time and the p95 scheduling lag (due time -> the probe's start)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import requests
from django.db import connection

from benchmarks.common import free_port, percentile, row

PROBES = 500
HANGING_SHARE = 0.10
TIMEOUT_S = 5.0
INTERVAL_S = 15
CYCLES = 3


SERVER = """
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # socketserver's default of 5 refuses a burst of probes

Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def _http_server() -> tuple[subprocess.Popen, str]:
    """A threading HTTP server in its own process, so it does not share the runner's GIL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/health"
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return proc, url


def run() -> list[dict]:
    from collectors.models import Probe, ProbeLocation, Series, Service
    from collectors.monitoring.probing import run_due_probes

    location = f"bench-{os.getpid()}"
    server, url = _http_server()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1024)  # accepts (the kernel completes handshakes) and never answers
    hang_url = f"http://127.0.0.1:{silent.getsockname()[1]}/health"
    service = Service.objects.create(name=location, display_name="Probe benchmark", kind="api")
    hanging_every = int(1 / HANGING_SHARE)
    Probe.objects.bulk_create(
        [
            Probe(
                service=service,
                name=f"p{i:03d}",
                kind="http",
                locations=[location],
                interval_seconds=INTERVAL_S,
                timeout_seconds=TIMEOUT_S,
                config={"url": hang_url if i % hanging_every == 0 else url},
            )
            for i in range(PROBES)
        ]
    )
    cycles, lags, failed_fast = [], [], 0
    try:
        for _ in range(CYCLES):
            ProbeLocation.objects.filter(location=location).update(next_run_at=None)
            summary = run_due_probes(location=location)
            assert len(summary.outcomes) == PROBES, len(summary.outcomes)
            cycles.append(summary.elapsed_s)
            lags.extend(o.lag_s for o in summary.outcomes)
            failed_fast += sum(
                1 for o in summary.outcomes if o.probe.config["url"] == url and not o.result.ok
            )
    finally:
        ids = list(Series.objects.filter(labels__service=location).values_list("id", flat=True))
        with connection.cursor() as cur:
            cur.execute("DELETE FROM collectors_sample WHERE series_id = ANY(%s)", [ids])
        Series.objects.filter(id__in=ids).delete()
        service.delete()
        silent.close()
        server.terminate()
        server.wait(10)
    return [
        row(
            f"probe cycle, {PROBES} http probes, {HANGING_SHARE:.0%} hanging (worst of {CYCLES})",
            max(cycles),
            "s",
            reference="the probe interval",
            reference_value=float(INTERVAL_S),
            target="< 15 s",
        ),
        row(
            "probe scheduling lag p95",
            percentile(lags, 0.95),
            "s",
            target="well under one interval",
        ),
        row(
            "fast probes failing in the cycle (should be 0)",
            float(failed_fast),
            "probes",
            target="0",
        ),
    ]
