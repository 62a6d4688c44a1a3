"""Forwarding for scale: every sample the store accepts is also sent by Prometheus
remote_write to ``REMOTE_WRITE_FORWARD_URL`` (Mimir, VictoriaMetrics, Thanos Receive, a
Prometheus with ``--web.enable-remote-write-receiver``), the path for a user who outgrows one
Postgres.

Durability: ``enqueue`` runs inside the ingest transaction and writes the batch, already
encoded, to the ``collectors_forward_queue`` table (plain SQL like the store's other tables), so a sample is queued exactly when it is stored, and the queue
lives in Postgres: worker, Redis or receiver restarts lose nothing. ``drain`` (a beat task
every 5 s) sends the oldest batches first, one at a time, claiming each with a compare-and-set
lease on ``next_attempt_at`` (no lock held across the HTTP call, and two workers never send the
same batch at once). A 2xx deletes the batch; a 4xx other than 429 means the receiver will never
take it (it is logged and dropped, as Prometheus does); anything else is retried with backoff,
and the drain stops there so batches are delivered in order.

What is forwarded: samples written through ``write_samples`` (the samples API, remote_write,
OTLP, probes and the host sampler). Request timings (``POST /api/v1/requests``) become
per-minute histograms and counters inside PenguinMon and are not forwarded.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import cramjam
import requests
from django.conf import settings
from django.db import connection
from django.utils import timezone

from collectors.receivers.remote_write_pb import WriteRequest

if TYPE_CHECKING:  # ingest imports this module: the type only
    from collectors.store.ingest import Samples

log = logging.getLogger(__name__)

HTTP_TIMEOUT = (3.05, 10)
LEASE = timedelta(seconds=60)  # a claimed batch is someone else's to retry after this
MAX_BACKOFF_S = 300
PG_EPOCH_MS = 946_684_800_000  # 2000-01-01, the epoch of the store's microsecond timestamps


def enabled() -> bool:
    return bool(settings.REMOTE_WRITE_FORWARD_URL)


def encode(wanted: dict[str, tuple], rows: list[tuple[str, int, float]]) -> bytes:
    """A snappy-compressed WriteRequest for ``rows`` ([(series key, pg µs, value)]);
    ``wanted`` maps each key to (metric, labels, ...). Samples are sorted per series, as
    receivers require."""
    by_key: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for key, us, value in rows:
        by_key[key].append((us, value))
    request = WriteRequest()
    for key, samples in by_key.items():
        metric, labels = wanted[key][0], wanted[key][1]
        series = request.timeseries.add()
        series.labels.add(name="__name__", value=metric)
        for name in sorted(labels):
            series.labels.add(name=name, value=labels[name])
        for us, value in sorted(samples):
            series.samples.add(value=value, timestamp=us // 1000 + PG_EPOCH_MS)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def enqueue(batch: Samples) -> None:
    """Queue a batch of samples (``ingest.Samples``) for forwarding; call inside the
    transaction that stores it."""
    if len(batch) and enabled():
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO collectors_forward_queue (payload, samples) VALUES (%s, %s)",
                [encode(batch.wanted, batch.rows()), len(batch)],
            )


def _headers() -> dict[str, str]:
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        "User-Agent": "PenguinMon-remote-write",
    }
    if settings.REMOTE_WRITE_FORWARD_BEARER_TOKEN:
        headers["Authorization"] = f"Bearer {settings.REMOTE_WRITE_FORWARD_BEARER_TOKEN}"
    headers.update(settings.REMOTE_WRITE_FORWARD_HEADERS)
    return headers


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def _claim(cur, batch_id: int, now: datetime) -> tuple[bytes, int, int] | None:
    """Lease one due batch (compare-and-set); its payload, size and attempts, or None."""
    cur.execute(
        """
        UPDATE collectors_forward_queue SET next_attempt_at = %s
        WHERE id = %s AND next_attempt_at <= %s
        RETURNING payload, samples, attempts
        """,
        [now + LEASE, batch_id, now],
    )
    return cur.fetchone()


def queued() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM collectors_forward_queue")
        return cur.fetchone()[0]


def drain(*, now: datetime | None = None, limit: int = 50) -> dict:
    """Send due batches in order; stop at the first one the receiver should get again later."""
    result = {"sent": 0, "samples": 0, "dropped": 0, "retrying": 0, "queued": 0}
    if not enabled():
        return result
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id FROM collectors_forward_queue WHERE next_attempt_at <= %s "
            "ORDER BY id LIMIT %s",
            [now, limit],
        )
        due = [row[0] for row in cur.fetchall()]
        for batch_id in due:
            claimed = _claim(cur, batch_id, now)
            if claimed is None:
                continue  # another worker has it
            payload, samples, attempts = claimed
            error, permanent = "", False
            try:
                resp = requests.post(
                    settings.REMOTE_WRITE_FORWARD_URL,
                    data=bytes(payload),
                    headers=_headers(),
                    timeout=HTTP_TIMEOUT,
                )
                if resp.status_code < 300:
                    cur.execute("DELETE FROM collectors_forward_queue WHERE id = %s", [batch_id])
                    result["sent"] += 1
                    result["samples"] += samples
                    continue
                error = f"HTTP {resp.status_code}: {resp.text[:200]}"
                permanent = 400 <= resp.status_code < 500 and resp.status_code != 429
            except requests.RequestException as exc:
                error = exc.__class__.__name__
            if permanent:
                log.error("remote_write forward: batch %s refused, dropped: %s", batch_id, error)
                cur.execute("DELETE FROM collectors_forward_queue WHERE id = %s", [batch_id])
                result["dropped"] += 1
                continue
            attempts += 1
            cur.execute(
                "UPDATE collectors_forward_queue SET attempts = %s, next_attempt_at = %s, "
                "last_error = %s WHERE id = %s",
                [min(attempts, 32767), now + backoff(attempts), error[:500], batch_id],
            )
            result["retrying"] += 1
            log.warning("remote_write forward: batch %s failed (%s), retrying", batch_id, error)
            break  # keep order: later batches wait for this one
    result["queued"] = queued()
    return result
