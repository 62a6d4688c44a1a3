"""Ingest: samples/s through POST /api/v1/samples (10k-sample batches, one gunicorn worker),
in both item shapes, against raw psycopg binary COPY of the same rows into the same table,
measured in the same run."""

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


def _post_all(base: str, bodies: list[bytes], headers: dict) -> float:
    """Samples/s over every batch but the first, which warms the worker."""
    with requests.Session() as http:
        warm = http.post(f"{base}/api/v1/samples", data=bodies[0], headers=headers, timeout=60)
        assert warm.status_code == 200, warm.text
        began = time.perf_counter()
        for body in bodies[1:]:
            resp = http.post(f"{base}/api/v1/samples", data=body, headers=headers, timeout=60)
            assert resp.status_code == 200, resp.text
        return (len(bodies) - 1) * BATCH / (time.perf_counter() - began)


def _copy_reference(url: str, series_ids: list[int], start: datetime) -> float:
    """What a hand-written loader gets: psycopg binary COPY of ready-made rows."""
    batches = [
        [
            (sid, ts, i * 0.5 + k)
            for k, ts in enumerate(_stamps(start, b))
            for i, sid in enumerate(series_ids)
        ]
        for b in range(BATCHES)
    ]
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


def _delete_bench_rows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM collectors_sample WHERE series_id IN "
            "(SELECT id FROM collectors_series WHERE name = 'bench_ingest')"
        )
        conn.execute("DELETE FROM collectors_dirty_range")


def run() -> list[dict]:
    from collectors.models import Series
    from collectors.store.partitions import ensure_all_tables

    now = datetime.now(UTC).replace(microsecond=0)
    ensure_all_tables({(now - timedelta(days=d)).date() for d in range(0, 7)})
    db = settings.DATABASES["default"]
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    _delete_bench_rows(url)
    headers = {
        "Authorization": f"Bearer {bench_token(['ingest'])}",
        "Content-Type": "application/json",
    }
    with gunicorn(workers=1) as (base, _proc):
        flat_rate = _post_all(base, _bodies(now - timedelta(days=2), grouped=False), headers)
        grouped_rate = _post_all(base, _bodies(now - timedelta(days=3), grouped=True), headers)
    ids = list(
        Series.objects.filter(name="bench_ingest").order_by("id").values_list("id", flat=True)
    )
    copy_rate = _copy_reference(url, ids, now - timedelta(days=5))
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
    ]
