"""Redis access for queue lengths and health (one shared client per process)."""

from __future__ import annotations

import functools

import redis
from django.conf import settings

CELERY_QUEUE_PREFIXES = ("celery", "host-", "probes-")


@functools.cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def celery_queue_lengths() -> dict[str, int]:
    """Length of every Celery queue (the default one, the per-host and per-location ones)."""
    client = redis_client()
    names = {"celery"} | {
        k.decode()
        for prefix in CELERY_QUEUE_PREFIXES[1:]
        for k in client.scan_iter(match=f"{prefix}*", count=1000)
        if client.type(k) == b"list"
    }
    pipe = client.pipeline()
    ordered = sorted(names)
    for name in ordered:
        pipe.llen(name)
    return dict(zip(ordered, pipe.execute(), strict=True))
