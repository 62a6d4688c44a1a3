"""Finding (or creating) series ids for a batch, with a per-process cache of known keys."""

from __future__ import annotations

import math
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction

from collectors.store.catalog import metric_def
from collectors.store.errors import IngestError
from collectors.store.partitions import PARTITIONED

_cache: dict[str, int] = {}
_CACHE_LIMIT = 500_000


def series_key(metric: str, labels: dict[str, str]) -> str:
    return metric + (orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode() if labels else "{}")


def series_cache() -> dict[str, int]:
    """Keys of committed series (their labels were validated when they were created)."""
    return _cache


# Ingest refreshes a series' last_seen_at at most this often per process: an hour's precision
# is all the limits and pruning need, and it keeps the write path from updating series rows.
SEEN_REFRESH_SECONDS = 3600.0
_seen: dict[int, float] = {}


def series_limit(metric: str) -> int:
    """How many active series ``metric`` may have (INGEST_SERIES_LIMITS, else the default)."""
    return settings.INGEST_SERIES_LIMITS.get(metric, settings.INGEST_MAX_SERIES_PER_METRIC)


def resolve(wanted: dict[str, tuple[str, dict, str, str | None]]) -> dict[str, int]:
    """Map series keys to ids, creating missing series inside the current transaction.

    ``wanted``: key -> (metric, labels, unit, kind or None for the catalogue default).
    New series count against their metric's limit (IngestError naming the metric and limit);
    known ones get their last_seen_at refreshed (at most hourly per process).
    """
    ids = {k: _cache[k] for k in wanted if k in _cache}
    clock = time.monotonic()
    stale = sorted(
        {i for i in ids.values() if clock - _seen.get(i, -math.inf) > SEEN_REFRESH_SECONDS}
    )
    refreshed = _touch(stale)
    if len(refreshed) < len(stale):
        # Pruned since this process cached them: resolve (and recreate) them afresh.
        for key in [k for k, i in ids.items() if i not in refreshed and i in set(stale)]:
            del ids[key]
            _cache.pop(key, None)
    missing = sorted(k for k in wanted if k not in ids)
    found: dict[str, int] = {}
    if missing:
        with connection.cursor() as cur:
            cur.execute("SELECT key, id FROM collectors_series WHERE key = ANY(%s)", [missing])
            found = dict(cur.fetchall())
        refreshed |= _touch(sorted(found.values()))
        new = [k for k in missing if k not in found]
        if new:
            _check_limits(new, wanted)
            created = _create(new, wanted)
            found.update(created)
            refreshed |= set(created.values())
    ids.update(found)

    def remember():
        if len(_cache) > _CACHE_LIMIT:
            _cache.clear()
            _seen.clear()
        _cache.update(found)
        _seen.update(dict.fromkeys(refreshed, clock))

    # Only ids that are committed may be cached: a rolled-back batch leaves no ghosts.
    transaction.on_commit(remember)
    return ids


def _touch(ids: list[int]) -> set[int]:
    """Mark series seen now; returns the ids that still exist."""
    if not ids:
        return set()
    with connection.cursor() as cur:
        # ids sorted: concurrent writers lock series rows in one order (no deadlock).
        cur.execute(
            "UPDATE collectors_series SET last_seen_at = now() WHERE id = ANY(%s) RETURNING id",
            [ids],
        )
        return {row[0] for row in cur.fetchall()}


def _check_limits(new: list[str], wanted: dict) -> None:
    per_metric = Counter(wanted[k][0] for k in new)
    metrics = sorted(per_metric)
    hours = settings.SERIES_ACTIVE_HOURS
    with connection.cursor() as cur:
        for metric in metrics:
            # Series creation of one metric is serialised (in name order: no deadlock), so
            # concurrent batches cannot each pass the check and together exceed the limit.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["pm_series:" + metric])
        cur.execute(
            "SELECT name, count(*) FROM collectors_series WHERE name = ANY(%s) "
            "AND last_seen_at >= now() - make_interval(hours => %s) GROUP BY name",
            [metrics, hours],
        )
        active = dict(cur.fetchall())
    for metric in metrics:
        limit, have, adding = series_limit(metric), active.get(metric, 0), per_metric[metric]
        if have + adding > limit:
            raise IngestError(
                f"metric {metric!r} is limited to {limit:,} active series: {have:,} reported "
                f"in the last {hours} h and this batch adds {adding:,} new one(s); "
                "drop a high-cardinality label or ask for a higher INGEST_SERIES_LIMITS",
                status=422,
            )


def _create(new: list[str], wanted: dict) -> dict[str, int]:
    names, labels, units, kinds = [], [], [], []
    for key in new:
        metric, lbls, unit, kind = wanted[key]
        known = metric_def(metric)
        names.append(metric)
        labels.append(orjson.dumps(lbls).decode())
        units.append(unit or (known.unit if known else ""))
        kinds.append(kind or (known.kind if known else "gauge"))
    with connection.cursor() as cur:
        # Keys sorted; a series another batch created meanwhile is updated and returned too.
        cur.execute(
            """
            INSERT INTO collectors_series (name, labels, key, unit, kind, created_at, last_seen_at)
            SELECT n, l::jsonb, k, u, kd, now(), now()
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS t(n, l, k, u, kd)
            ON CONFLICT (key) DO UPDATE SET last_seen_at = now()
            RETURNING key, id
            """,
            [names, labels, new, units, kinds],
        )
        return dict(cur.fetchall())


def forget_all() -> None:
    _cache.clear()
    _seen.clear()


def prune_idle_series(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Remove series that reported nothing for SERIES_IDLE_DAYS, with their samples, rollups
    and histograms; returns how many. Idle series never count against limits or rules (those
    look at recent data), this keeps the series table from growing for ever."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.SERIES_IDLE_DAYS)
    removed = 0
    while True:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "SELECT id FROM collectors_series WHERE last_seen_at < %s "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                [cutoff, batch],
            )
            ids = [row[0] for row in cur.fetchall()]
            if not ids:
                # OTLP exponential streams' diff state goes with their idle series.
                cur.execute("DELETE FROM collectors_exponentialstate WHERE at < %s", [cutoff])
                return removed
            for table in PARTITIONED:
                cur.execute(f"DELETE FROM {table} WHERE series_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM collectors_series WHERE id = ANY(%s)", [ids])
            removed += len(ids)
