"""Ingest: samples/s through POST /api/v1/samples over real HTTP (10k-sample batches, one
gunicorn worker), in both item shapes, and request timings/s through POST /api/v1/requests
(10k a batch), against raw psycopg binary COPY of the same rows into
the same table, measured in the same run: a batch of each in turn, so that load from
elsewhere on the machine weighs on the three figures alike. Goal: JSON >= 50% of COPY."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import requests
from django.conf import settings

from benchmarks.common import bench_token, gunicorn, row

BATCHES = 30
BATCH = 10_000
SERIES = 200
PER_SERIES = BATCH // SERIES


def _stamps(start: datetime, b: int) -> list[datetime]:
    return [start + timedelta(seconds=15 * (b * PER_SERIES + k)) for k in range(PER_SERIES)]


def _bodies(start: datetime, *, grouped: bool) -> list[bytes]:
    """One item per sample, or (grouped) one item per series carrying 50 points."""
    bodies = []
    for b in range(BATCHES):
        stamps = [ts.timestamp() for ts in _stamps(start, b)]
        items = []
        for s in range(SERIES):
            labels = {"host": f"h{s:03d}", "dc": "bench"}
            if grouped:
                points = [[ts, s * 0.5 + k] for k, ts in enumerate(stamps)]
                items.append({"metric": "bench_ingest", "labels": labels, "points": points})
            else:
                items.extend(
                    {"metric": "bench_ingest", "labels": labels, "value": s * 0.5 + k, "ts": ts}
                    for k, ts in enumerate(stamps)
                )
        bodies.append(orjson.dumps({"samples": items}))
    return bodies


def _request_bodies(start: datetime) -> list[bytes]:
    """Request timings: 10,000 a batch over 40 routes of 5 services, one every 0.3 ms."""
    bodies = []
    for b in range(BATCHES):
        t0 = start.timestamp() + b * BATCH * 0.0003
        items = [
            {
                "service": f"svc{i % 5}",
                "route": f"/v1/r{i % 40}",
                "method": "GET" if i % 3 else "POST",
                "status": 200 if i % 17 else 503,
                "duration_ms": (i % 997) * 0.7,
                "ts": t0 + i * 0.0003,
            }
            for i in range(BATCH)
        ]
        bodies.append(orjson.dumps({"requests": items}))
    return bodies


def _post(
    http: requests.Session, base: str, body: bytes, headers: dict, path: str = "/api/v1/samples"
) -> float:
    began = time.perf_counter()
    resp = http.post(f"{base}{path}", data=body, headers=headers, timeout=60)
    elapsed = time.perf_counter() - began
    assert resp.status_code == 200, resp.text
    return elapsed


def _copy(conn: psycopg.Connection, rows: list[tuple]) -> float:
    """What a hand-written loader gets: psycopg binary COPY of ready-made rows, committed."""
    began = time.perf_counter()
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY collectors_sample (series_id, ts, value) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["int8", "timestamptz", "float8"])
        for r in rows:
            copy.write_row(r)
    conn.commit()
    return time.perf_counter() - began


def _delete_bench_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM collectors_sample WHERE series_id IN "
            "(SELECT id FROM collectors_series WHERE name = 'bench_ingest' "
            "OR labels->>'service' LIKE 'svc_')"
        )
        conn.execute(
            "DELETE FROM collectors_histogram_1m WHERE series_id IN "
            "(SELECT id FROM collectors_series WHERE labels->>'service' LIKE 'svc_')"
        )
        conn.execute("DELETE FROM collectors_dirty_range")


def run() -> list[dict]:
    from collectors.models import Series
    from collectors.store.partitions import ensure_all_tables

    now = datetime.now(UTC).replace(microsecond=0)
    ensure_all_tables({(now - timedelta(days=d)).date() for d in range(0, 7)})
    db = settings.DATABASES["default"]
    url = psycopg.conninfo.make_conninfo(
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"],
        dbname=db["NAME"],
    )
    _delete_bench_rows(url)
    headers = {
        "Authorization": f"Bearer {bench_token(['ingest'])}",
        "Content-Type": "application/json",
    }
    flat = _bodies(now - timedelta(days=2), grouped=False)
    grouped = _bodies(now - timedelta(days=3), grouped=True)
    # One batch of each kind in turn (the machine is shared: load that comes and goes falls
    # on all three figures alike); the first JSON batches create the series and warm the worker.
    timings = _request_bodies(now - timedelta(hours=2))
    spent = {"flat": 0.0, "grouped": 0.0, "requests": 0.0, "copy": 0.0}
    with (
        gunicorn(workers=1) as (base, _proc),
        requests.Session() as http,
        psycopg.connect(url) as conn,
    ):
        _post(http, base, flat[0], headers)
        _post(http, base, grouped[0], headers)
        _post(http, base, timings[0], headers, "/api/v1/requests")
        ids = list(
            Series.objects.filter(name="bench_ingest").order_by("id").values_list("id", flat=True)
        )
        copy_start = now - timedelta(days=5)
        for b in range(1, BATCHES):
            spent["flat"] += _post(http, base, flat[b], headers)
            spent["grouped"] += _post(http, base, grouped[b], headers)
            spent["requests"] += _post(http, base, timings[b], headers, "/api/v1/requests")
            rows = [
                (sid, ts, i * 0.5 + k)
                for k, ts in enumerate(_stamps(copy_start, b))
                for i, sid in enumerate(ids)
            ]
            spent["copy"] += _copy(conn, rows)
    flat_rate, grouped_rate, requests_rate, copy_rate = (
        (BATCHES - 1) * BATCH / spent[kind] for kind in ("flat", "grouped", "requests", "copy")
    )
    _delete_bench_rows(url)
    reference = "psycopg binary COPY, same table"
    target = ">= 100k/s and >= 50% of COPY"
    return [
        row(
            "ingest POST /api/v1/samples, one item per sample",
            flat_rate,
            "samples/s",
            reference=reference,
            reference_value=copy_rate,
            target=target,
        ),
        row(
            "ingest POST /api/v1/samples, series-grouped points",
            grouped_rate,
            "samples/s",
            reference=reference,
            reference_value=copy_rate,
            target=target,
        ),
        row(
            "ingest POST /api/v1/requests (folded per minute)",
            requests_rate,
            "requests/s",
            reference=reference + " (samples/s)",
            reference_value=copy_rate,
            target=">= 50% of COPY",
        ),
    ]
