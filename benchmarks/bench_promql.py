"""PromQL: ``query_range`` p95 through /api/prom/ (one gunicorn worker) against Prometheus 2.42
(Debian's package) holding the same samples, in the same run, the same requests one after the
other:

- ``rate(bench_promql_requests_total[5m])`` (4 counters with resets),
- ``histogram_quantile(0.95, sum by (le) (rate(bench_promql_latency_seconds_bucket[5m])))``
  (2 routes × 8 buckets),

each over the last 24 hours at a 1-minute step and over 30 days at a 30-minute step (1,441
points either way, what a Grafana panel asks). One sample a minute per series for 30 days.

PenguinMon gets the samples through the store's backfill path (raw samples and rollups; ingest
refuses samples older than raw retention), Prometheus through
``promtool tsdb create-blocks-from openmetrics``. The dataset and the blocks are kept in the
bench database and var/bench/ between runs and rebuilt when older than a day.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import requests
from django.db import connection

from benchmarks.common import (
    PROMTOOL,
    STORE_TABLES,
    bench_dir,
    bench_token,
    gunicorn,
    percentile,
    promtool_backfill,
    row,
)
from collectors.store.backfill import backfill_series
from tests.support.prometheus import prometheus

PROMETHEUS = "/usr/bin/prometheus"
DAYS = 30
INTERVAL_S = 60
INSTANCES = 4
ROUTES = ("/a", "/b")
BOUNDS = ("0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf")
COUNTER = "bench_promql_requests_total"
BUCKETS = "bench_promql_latency_seconds_bucket"
REQUESTS = 30
WARMUP = 3
MAX_AGE_S = 86400
QUERIES = {
    "rate": f"rate({COUNTER}[5m])",
    "p95": f"histogram_quantile(0.95, sum by (le) (rate({BUCKETS}[5m])))",
}
RANGES = {"24h": (86400, 60), "30d": (DAYS * 86400, 1800)}


def _marker() -> Path:
    return bench_dir() / "promql_dataset.json"


def _blocks(end: int) -> Path:
    return bench_dir() / f"prometheus-promql-{end}"


def _series(end: int) -> dict[tuple[str, tuple], list[tuple[int, float]]]:
    """Counters growing by random steps (each instance reset twice) and cumulative histogram
    buckets of lognormal latencies, one sample a minute."""
    rng = random.Random(16)
    start = end - DAYS * 86400
    times = list(range(start, end, INTERVAL_S))
    out: dict[tuple[str, tuple], list[tuple[int, float]]] = {}
    for i in range(INSTANCES):
        value, points = 0.0, []
        resets = {rng.randrange(len(times)) for _ in range(2)}
        for k, t in enumerate(times):
            value = rng.uniform(0, 5) if k in resets else value + rng.randrange(0, 120)
            points.append((t, value))
        out[(COUNTER, (("instance", f"i{i}"), ("job", "bench")))] = points
    for route in ROUTES:
        cumulative = [0.0] * len(BOUNDS)
        per_bound: list[list[tuple[int, float]]] = [[] for _ in BOUNDS]
        for t in times:
            for _ in range(rng.randrange(20, 60)):
                duration = rng.lognormvariate(-2.5 if route == "/a" else -1.2, 0.8)
                for b, bound in enumerate(BOUNDS):
                    if duration <= float(bound):
                        cumulative[b] += 1
            for b in range(len(BOUNDS)):
                per_bound[b].append((t, cumulative[b]))
        for bound, points in zip(BOUNDS, per_bound, strict=True):
            out[(BUCKETS, (("le", bound), ("route", route)))] = points
    return out


def _delete_old() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM collectors_series WHERE name = ANY(%s)", [[COUNTER, BUCKETS]])
        ids = [r[0] for r in cur.fetchall()]
        for table in ("collectors_sample", "collectors_rollup_1m", "collectors_rollup_1h"):
            cur.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", [ids])


def _openmetrics(series, path: Path) -> None:
    with path.open("w") as om:
        for (metric, labels), points in series.items():
            text = ",".join(f'{k}="{v}"' for k, v in labels)
            prefix = f"{metric}{{{text}}} "
            om.write("".join(f"{prefix}{v!r} {t}\n" for t, v in points))
        om.write("# EOF\n")


def _ensure_dataset() -> int:
    """The dataset's end (unix seconds), loading it into both stores when missing or stale."""
    now = int(time.time())
    marker = json.loads(_marker().read_text()) if _marker().exists() else {}
    end = marker.get("end")
    if end and now - end < MAX_AGE_S and (_blocks(end) / "ready").exists():
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM collectors_series WHERE name = %s", [COUNTER])
            if cur.fetchone()[0] == INSTANCES:
                return end
    end = now // 3600 * 3600
    series = _series(end)
    _delete_old()
    began = time.monotonic()
    points = {
        key: [(datetime.fromtimestamp(t, UTC), v) for t, v in values]
        for key, values in series.items()
    }
    start = datetime.fromtimestamp(end - DAYS * 86400, UTC)
    loaded = backfill_series(points, raw_since=start)
    print(f"   PenguinMon backfill of {loaded:,} samples: {time.monotonic() - began:.0f} s")
    with connection.cursor() as cur:
        # Planner statistics for every table a query reads (a 30-day range reads the rollups
        # past raw retention), as autovacuum would have gathered by the time anyone asks.
        for table in STORE_TABLES:
            cur.execute(f"VACUUM ANALYZE {table}")
    bench_dir().mkdir(parents=True, exist_ok=True)
    for old in bench_dir().glob("prometheus-promql-*"):
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=bench_dir()) as tmp:
        om = Path(tmp) / "points.om"
        _openmetrics(series, om)
        took = promtool_backfill(om, _blocks(end))
        print(f"   promtool backfill: {took:.0f} s")
    (_blocks(end) / "ready").write_text("")
    _marker().write_text(json.dumps({"end": end}))
    return end


@contextmanager
def _prometheus(end: int):
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(_blocks(end), data, ignore=shutil.ignore_patterns("ready"))
        # Retention far back: the blocks hold 30 days that end now.
        with prometheus(
            storage=tmp, extra=["--storage.tsdb.retention.time=3650d"], seconds=120
        ) as base:
            yield base


def _timed(http, url: str, params: dict, headers: dict | None = None) -> tuple[float, dict]:
    began = time.perf_counter()
    resp = http.get(url, params=params, headers=headers, timeout=120)
    elapsed = (time.perf_counter() - began) * 1000
    assert resp.status_code == 200, resp.text[:300]
    data = resp.json()["data"]
    assert data["result"] and data["result"][0]["values"], resp.text[:300]
    return elapsed, data


def _points(data: dict) -> int:
    return sum(len(r["values"]) for r in data["result"])


def run() -> list[dict]:
    for binary in (PROMETHEUS, PROMTOOL):
        if not os.access(binary, os.X_OK):
            raise RuntimeError(f"{binary} is missing: `make bench-deps` installs it")
    end = _ensure_dataset()
    headers = {"Authorization": f"Bearer {bench_token(['read'])}"}
    times: dict[tuple[str, str, str], list[float]] = {}
    with (
        gunicorn(workers=1) as (base, _proc),
        _prometheus(end) as prom_base,
        requests.Session() as http,
    ):
        ours_url = f"{base}/api/prom/api/v1/query_range"
        theirs_url = f"{prom_base}/api/v1/query_range"
        for name, query in QUERIES.items():
            for span, (seconds, step) in RANGES.items():
                params = {"query": query, "start": end - seconds, "end": end, "step": step}
                for i in range(REQUESTS + WARMUP):
                    ours, our_data = _timed(http, ours_url, params, headers)
                    theirs, their_data = _timed(http, theirs_url, params)
                    if i == 0:
                        # Same data, same query: the same number of points in each answer.
                        assert _points(our_data) == _points(their_data), (name, span)
                    if i >= WARMUP:
                        times.setdefault((name, span, "ours"), []).append(ours)
                        times.setdefault((name, span, "theirs"), []).append(theirs)
    rows = []
    for name, query in QUERIES.items():
        for span, (_, step) in RANGES.items():
            rows.append(
                row(
                    f"PromQL query_range p95 {span} step {step}s: {query}",
                    percentile(times[(name, span, "ours")], 0.95),
                    "ms",
                    reference="Prometheus 2.42, same samples and query",
                    reference_value=percentile(times[(name, span, "theirs")], 0.95),
                    target="reported (Python over Postgres rows vs Prometheus' TSDB)",
                )
            )
    return rows
