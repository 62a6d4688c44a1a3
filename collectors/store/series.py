"""Finding (or creating) series ids for a batch, with a per-process cache of known keys."""

from __future__ import annotations

import orjson
from django.db import connection, transaction

from collectors.catalog import metric_def

_cache: dict[str, int] = {}
_CACHE_LIMIT = 500_000


def series_key(metric: str, labels: dict[str, str]) -> str:
    return metric + (orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode() if labels else "{}")


def series_cache() -> dict[str, int]:
    """Keys of committed series (their labels were validated when they were created)."""
    return _cache


def resolve(wanted: dict[str, tuple[str, dict, str, str | None]]) -> dict[str, int]:
    """Map series keys to ids, creating missing series inside the current transaction.

    ``wanted``: key -> (metric, labels, unit, kind or None for the catalogue default).
    """
    ids = {k: _cache[k] for k in wanted if k in _cache}
    missing = [k for k in wanted if k not in ids]
    if not missing:
        return ids
    names, labels, units, kinds = [], [], [], []
    for key in missing:
        metric, lbls, unit, kind = wanted[key]
        known = metric_def(metric)
        names.append(metric)
        labels.append(orjson.dumps(lbls).decode())
        units.append(unit or (known.unit if known else ""))
        kinds.append(kind or (known.kind if known else "gauge"))
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO collectors_series (name, labels, key, unit, kind, created_at)
            SELECT n, l::jsonb, k, u, kd, now()
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) AS t(n, l, k, u, kd)
            ON CONFLICT (key) DO NOTHING
            """,
            [names, labels, missing, units, kinds],
        )
        cur.execute("SELECT key, id FROM collectors_series WHERE key = ANY(%s)", [missing])
        found = dict(cur.fetchall())
    ids.update(found)

    def remember():
        if len(_cache) > _CACHE_LIMIT:
            _cache.clear()
        _cache.update(found)

    # Only ids that are committed may be cached: a rolled-back batch leaves no ghosts.
    transaction.on_commit(remember)
    return ids


def forget_all() -> None:
    _cache.clear()
