"""Ingest: samples/s through POST /api/v1/samples (10k batches, one gunicorn worker) against
raw psycopg binary COPY of the same rows into the same table, in the same run."""

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


def _bodies(start: datetime) -> list[bytes]:
    bodies = []
    per_series = BATCH // SERIES
    for b in range(BATCHES):
        items = []
        for k in range(per_series):
            ts = (start + timedelta(seconds=15 * (b * per_series + k))).timestamp()
            for s in range(SERIES):
                items.append(
                    {
                        "metric": "bench_ingest",
                        "labels": {"host": f"h{s:03d}", "dc": "bench"},
                        "value": s * 0.5 + k,
                        "ts": ts,
                    }
                )
        bodies.append(orjson.dumps({"samples": items}))
    return bodies


def _copy_reference(url: str, series_ids: list[int], start: datetime) -> float:
    per_series = BATCH // SERIES
    batches = []
    for b in range(BATCHES):
        rows = []
        for k in range(per_series):
            ts = start + timedelta(seconds=15 * (b * per_series + k))
            rows.extend((sid, ts, i * 0.5 + k) for i, sid in enumerate(series_ids))
        batches.append(rows)
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        for rows in batches:
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
        return BATCHES * BATCH / (time.perf_counter() - began)


def run() -> list[dict]:
    from collectors.models import Series
    from collectors.store.partitions import ensure_all_tables

    now = datetime.now(UTC).replace(microsecond=0)
    api_start = now - timedelta(days=2)
    copy_start = now - timedelta(days=4)
    ensure_all_tables({(now - timedelta(days=d)).date() for d in range(0, 6)})
    db = settings.DATABASES["default"]
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM collectors_sample WHERE series_id IN (SELECT id FROM collectors_series WHERE name = 'bench_ingest')"
        )
    token = bench_token(["ingest"])
    bodies = _bodies(api_start)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with gunicorn(workers=1) as (base, _proc), requests.Session() as http:
        warm = http.post(f"{base}/api/v1/samples", data=bodies[0], headers=headers, timeout=60)
        assert warm.status_code == 200, warm.text
        began = time.perf_counter()
        for body in bodies[1:]:
            resp = http.post(f"{base}/api/v1/samples", data=body, headers=headers, timeout=60)
            assert resp.status_code == 200, resp.text
        api_rate = (BATCHES - 1) * BATCH / (time.perf_counter() - began)
    ids = list(
        Series.objects.filter(name="bench_ingest").order_by("id").values_list("id", flat=True)
    )
    copy_rate = _copy_reference(url, ids, copy_start)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM collectors_sample WHERE series_id = ANY(%s)", [ids])
        conn.execute("DELETE FROM collectors_dirty_range")
    return [
        row(
            "ingest via POST /api/v1/samples (10k batches, 1 worker)",
            api_rate,
            "samples/s",
            reference="psycopg binary COPY, same table",
            reference_value=copy_rate,
            target=">= 100k/s and >= 50% of COPY",
        ),
    ]
