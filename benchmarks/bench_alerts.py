"""Alerts: (1) one evaluation cycle over 1,000 enabled rules; (2) time from a sample crossing
a threshold to a webhook on 127.0.0.1 receiving the notification, through a real Celery
worker subprocess, an evaluation loop running every 15 s and the grouping flush every 5 s
(the new alert's group waits group_wait, 30 s, before it is sent).

The 1,000 rules cover 20 metrics x 50 hosts with four aggregations (last, avg, max, p95),
so the batched evaluator reads the store once per (metric, aggregation, window) group: 80
reads per cycle. Everything created here is tagged "bench_alerts" and removed at the end.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.common import ROOT, delete_points, free_port, percentile, row

PREFIX = "bench_alerts"
METRICS = 20
HOSTS = 50
AGGS = ("last", "avg", "max", "p95")
INTERVAL_S = 15.0
TRIALS = 4
BENCH_REDIS_DB = "12"  # the worker and this process share a broker db nobody else consumes
# Notifications are grouped (alerts.grouping): a new group waits group_wait (30 s, the
# Alertmanager default) for its siblings, and beat flushes every FLUSH_S.
GROUP_WAIT_S = 30.0
FLUSH_S = 5.0


def _metric(j: int) -> str:
    return f"{PREFIX}_m{j:02d}"


def _setup_rules():
    from alerts.models import AlertRule
    from collectors.store import write_samples

    now = datetime.now(UTC)
    rng = random.Random(11)
    items = []
    for j in range(METRICS):
        for h in range(HOSTS):
            base = rng.uniform(10, 80)
            for k in range(20):  # 5 minutes at 15 s
                items.append(
                    {
                        "metric": _metric(j),
                        "labels": {"host": f"h{h:02d}"},
                        "value": base + rng.uniform(-5, 5),
                        "ts": now - timedelta(seconds=15 * k + 1),
                    }
                )
    for i in range(0, len(items), 5000):
        write_samples(items[i : i + 5000])
    rules = []
    for n in range(1000):
        j, h = divmod(n, HOSTS)
        j %= METRICS
        agg = AGGS[n % len(AGGS)]
        rules.append(
            AlertRule(
                name=f"{PREFIX} rule {n:04d}",
                metric=_metric(j),
                label_filters={"host": f"h{h:02d}"},
                aggregation=agg,
                window_seconds=300,
                comparator=">",
                threshold=75 if n % 10 == 0 else 95,
                severity=("critical", "warning", "info")[n % 3],
                message_template="{host} {value}",
            )
        )
    AlertRule.objects.bulk_create(rules)
    return len(items)


def _cycles() -> tuple[list[float], int, int]:
    from alerts.evaluation import evaluate_rules
    from alerts.models import AlertRule

    times, fired, queries = [], 0, 0
    for _ in range(8):
        t0 = time.perf_counter()
        summary = evaluate_rules(
            rules=AlertRule.objects.filter(name__startswith=PREFIX, enabled=True)
        )
        times.append(time.perf_counter() - t0)
        fired += summary.fired
        queries = summary.queries
    return times, fired, queries


class _Receiver(BaseHTTPRequestHandler):
    arrivals: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Receiver.arrivals.append((time.monotonic(), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _latency() -> list[float]:
    from django.conf import settings
    from django.db import connection

    from alerts import grouping
    from alerts.evaluation import evaluate_rules
    from alerts.models import AlertRule, Channel
    from collectors.store import write_samples
    from penguinmon.celery import app as celery_app

    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/" + BENCH_REDIS_DB
    celery_app.conf.broker_url = redis_url
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Channel.objects.create(
        name=f"{PREFIX} hook",
        kind="webhook",
        on_call=True,
        config={"url": f"http://127.0.0.1:{port}/hook", "secret": "bench"},
    )
    rule = AlertRule.objects.create(
        name=f"{PREFIX} latency",
        metric=f"{PREFIX}_latency",
        aggregation="last",
        window_seconds=60,
        comparator=">",
        threshold=100,
        severity="critical",
    )
    env = {**os.environ, "REDIS_URL": redis_url, "PENGUINMON_TESTING": "0"}
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "penguinmon",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Event()

    def loop():
        # The beat-driven cycle: every enabled bench rule (1,001 of them) each INTERVAL_S,
        # then a grouping flush, as the evaluate task does.
        try:
            while not stop.is_set():
                started = time.monotonic()
                evaluate_rules(
                    rules=AlertRule.objects.filter(name__startswith=PREFIX, enabled=True)
                )
                grouping.flush()
                stop.wait(max(0.0, INTERVAL_S - (time.monotonic() - started)))
        finally:
            connection.close()

    def flusher():
        # Beat's alerts-flush-groups tick: a group whose group_wait is over goes out here.
        try:
            while not stop.wait(FLUSH_S):
                grouping.flush()
        finally:
            connection.close()

    latencies = []
    evaluator = threading.Thread(target=loop, daemon=True)
    ticker = threading.Thread(target=flusher, daemon=True)
    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(timeout=1.0):
            if time.monotonic() > deadline:
                raise RuntimeError("celery worker did not start")
        evaluator.start()
        ticker.start()
        rng = random.Random(5)
        for trial in range(TRIALS):
            time.sleep(
                rng.uniform(0, INTERVAL_S)
            )  # cross the threshold at a random phase of the loop
            seen = len(_Receiver.arrivals)
            crossed = time.monotonic()
            write_samples(
                [
                    {
                        "metric": f"{PREFIX}_latency",
                        "value": 500 + trial,
                        "labels": {"service": "bench"},
                    }
                ]
            )
            while time.monotonic() - crossed < 3 * INTERVAL_S + GROUP_WAIT_S:
                hits = [
                    t
                    for t, body in _Receiver.arrivals[seen:]
                    if body["event"] == "trigger" and body["rule"] == rule.name
                ]
                if hits:
                    latencies.append(hits[0] - crossed)
                    break
                time.sleep(0.02)
            else:
                raise RuntimeError(
                    "no notification arrived within 3 evaluation intervals and the group wait"
                )
            write_samples(
                [{"metric": f"{PREFIX}_latency", "value": 0, "labels": {"service": "bench"}}]
            )
            resolved_by = time.monotonic() + 2 * INTERVAL_S + 5
            while time.monotonic() < resolved_by and not any(
                b["event"] == "resolve" and b["rule"] == rule.name
                for _, b in _Receiver.arrivals[seen:]
            ):
                time.sleep(0.1)
    finally:
        stop.set()
        evaluator.join(INTERVAL_S + 30)
        ticker.join(FLUSH_S + 30)
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        server.shutdown()
    return latencies


def _cleanup() -> None:

    from alerts.models import AlertRule, Channel
    from collectors.models import Series

    AlertRule.objects.filter(name__startswith=PREFIX).delete()
    Channel.objects.filter(name__startswith=PREFIX).delete()
    ids = list(Series.objects.filter(name__startswith=PREFIX).values_list("id", flat=True))
    if ids:
        delete_points(ids)
        Series.objects.filter(id__in=ids).delete()


def run() -> list[dict]:
    _cleanup()
    try:
        samples = _setup_rules()
        times, fired, queries = _cycles()
        steady = times[1:]  # the first cycle also creates the alerts
        print(
            f"   {samples:,} samples, 1,000 rules, {queries} store reads per cycle, {fired} alerts fired; "
            f"first cycle {times[0] * 1000:.0f} ms",
            flush=True,
        )
        latencies = _latency()
        print("   trigger latencies: " + ", ".join(f"{v:.2f} s" for v in latencies), flush=True)
    finally:
        _cleanup()
    limit = INTERVAL_S + GROUP_WAIT_S + FLUSH_S + 2
    return [
        row(
            "alerts: evaluate 1,000 rules, one cycle (median)",
            statistics.median(steady) * 1000,
            "ms",
            target="< 1000 ms",
        ),
        row(
            "alerts: evaluate 1,000 rules, one cycle (p95)",
            percentile(steady, 0.95) * 1000,
            "ms",
            target="< 1000 ms",
        ),
        row(
            f"alerts: threshold crossed -> webhook received (worst of {len(latencies)})",
            max(latencies),
            "s",
            reference="1 evaluation interval + group wait + 1 flush tick + 2 s",
            reference_value=limit,
            target=f"<= {limit:.0f} s",
        ),
        row(
            "alerts: threshold crossed -> webhook received (mean)",
            statistics.mean(latencies),
            "s",
            reference="1 evaluation interval + group wait + 1 flush tick + 2 s",
            reference_value=limit,
            target=f"<= {limit:.0f} s",
        ),
    ]
