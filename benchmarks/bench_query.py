"""Query: 200 series x 30 days at 15 s (34.56M raw points, kept in the bench database between
runs), then GET /api/v1/query through gunicorn for a 30-day chart at 1-hour step and a 24-hour
chart at 1-minute step. The Prometheus figures are the ones TARGETS.md measured on this machine
kind (Prometheus is not loaded in this run)."""

from __future__ import annotations

import random
import struct
import time
from datetime import UTC, datetime, timedelta

import requests
from django.db import connection

from benchmarks.common import bench_token, gunicorn, percentile, row
from collectors.store.ingest import _COPY_HEADER, _COPY_TRAILER, PG_EPOCH_S
from collectors.store.partitions import ensure_all_tables
from collectors.store.rollups import run_rollups
from collectors.store.series import resolve, series_key

SERIES = 200
DAYS = 30
STEP_S = 15
REQUESTS = 200
_ROW = struct.Struct(">hiqiqid")


def _load(end: datetime) -> int:
    """Write the dataset once (about 2-4 minutes); later runs reuse it."""
    keys = {
        series_key("bench_query", {"host": f"h{i:03d}"}): (
            "bench_query",
            {"host": f"h{i:03d}"},
            "%",
            "gauge",
        )
        for i in range(SERIES)
    }
    ids = list(resolve(keys).values())
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM collectors_rollup_1h WHERE series_id = %s", [ids[0]])
        if cur.fetchone()[0] >= DAYS * 24 - 2:
            return 0
    start = end - timedelta(days=DAYS)
    ensure_all_tables({(start + timedelta(days=d)).date() for d in range(DAYS + 2)})
    with connection.cursor() as cur:
        cur.execute("DELETE FROM collectors_sample WHERE series_id = ANY(%s)", [ids])
    connection.commit() if not connection.get_autocommit() else None
    rng = random.Random(7)
    written = 0
    t0 = int((start.timestamp() - PG_EPOCH_S) * 1_000_000)
    per_day = 86400 // STEP_S
    for day in range(DAYS):
        payload = []
        for sid in ids:
            base = rng.uniform(10, 70)
            for k in range(per_day):
                n = day * per_day + k
                payload.append(
                    _ROW.pack(3, 8, sid, 8, t0 + n * STEP_S * 1_000_000, 8, base + (n % 240) / 24)
                )
        with (
            connection.cursor() as wrapper,
            wrapper.cursor.copy(
                "COPY collectors_sample (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.write(_COPY_HEADER + b"".join(payload) + _COPY_TRAILER)
        written += len(payload)
        print(f"   loaded day {day + 1}/{DAYS} ({written:,} points)", flush=True)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO collectors_dirty_range (kind, start_ts, end_ts) VALUES ('sample', %s, %s)",
            [start, end],
        )
    began = time.monotonic()
    run_rollups()
    print(f"   rollups of {written:,} points took {time.monotonic() - began:.0f} s", flush=True)
    with connection.cursor() as cur:
        # What autovacuum does to settled partitions within minutes; index-only scans need it.
        cur.execute("VACUUM ANALYZE collectors_rollup_1m")
        cur.execute("VACUUM ANALYZE collectors_rollup_1h")
    return written


def _timed(http, url, params, headers) -> float:
    began = time.perf_counter()
    resp = http.get(url, params=params, headers=headers, timeout=30)
    elapsed = (time.perf_counter() - began) * 1000
    assert resp.status_code == 200, resp.text
    assert resp.json()["series"][0]["points"], resp.text
    return elapsed


def run() -> list[dict]:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    loaded = _load(end)
    token = bench_token(["read"])
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(1)
    long_ms, day_ms = [], []
    with gunicorn(workers=1) as (base, _proc), requests.Session() as http:
        url = f"{base}/api/v1/query"
        for i in range(REQUESTS + 10):
            host = f"h{rng.randrange(SERIES):03d}"
            now = int(time.time())
            t_long = _timed(
                http,
                url,
                {
                    "metric": "bench_query",
                    "label": f"host={host}",
                    "start": now - 30 * 86400,
                    "end": now,
                    "step": "1h",
                    "agg": "avg",
                },
                headers,
            )
            t_day = _timed(
                http,
                url,
                {
                    "metric": "bench_query",
                    "label": f"host={host}",
                    "start": now - 86400,
                    "end": now,
                    "step": "1m",
                    "agg": "avg",
                },
                headers,
            )
            if i >= 10:  # the first requests warm caches and connections
                long_ms.append(t_long)
                day_ms.append(t_day)
    rows = [
        row(
            "query 30 d at 1 h step, p95 (35M points stored)",
            percentile(long_ms, 0.95),
            "ms",
            reference="Prometheus 2.42 avg_over_time[1h] (TARGETS.md)",
            reference_value=11.6,
            target="<= 50 ms (issue), goal <= 12 ms",
        ),
        row(
            "query 24 h at 1 min step, p95",
            percentile(day_ms, 0.95),
            "ms",
            reference="Prometheus 2.42 (TARGETS.md)",
            reference_value=4.3,
            target="<= 50 ms (issue), goal <= 5 ms",
        ),
        row("query 30 d at 1 h step, p50", percentile(long_ms, 0.5), "ms"),
        row("query 24 h at 1 min step, p50", percentile(day_ms, 0.5), "ms"),
    ]
    if loaded:
        rows.append(row("query dataset loaded this run", float(loaded), "points"))
    return rows
