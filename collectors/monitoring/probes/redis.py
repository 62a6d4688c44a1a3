"""Redis probe, in one of two roles chosen by its config.

- Cache (the default): used memory vs maxmemory, keyspace hit rate, clients, ops/s;
  memory_degraded_pct (90) marks the probe degraded.
- Celery queues: a config naming ``queues`` (a list of queue names, or "auto" for "celery"
  plus every "host-*" list) or a ``backlog_degraded`` limit (1000 messages waiting in one
  queue marks the probe degraded) measures the queue lengths only.

The roles are separate so a Celery backlog degrades the Celery Queue service, not the Redis
Cache that merely stores the queues, and celery_queue_length is written by one probe only.
config: url (blank = PenguinMon's own Redis).
"""

from __future__ import annotations

import redis as redis_lib
from django.conf import settings

from collectors.monitoring.probes.base import ProbeResult, Stopwatch


def queue_lengths(client: redis_lib.Redis, names: list[str] | None) -> dict[str, int]:
    if names:
        ordered = sorted(set(names))
    else:
        found = {
            k.decode()
            for k in client.scan_iter(match="host-*", count=1000)
            if client.type(k) == b"list"
        }
        ordered = sorted({"celery"} | found)
    pipe = client.pipeline()
    for name in ordered:
        pipe.llen(name)
    return dict(zip(ordered, pipe.execute(), strict=True))


def queue_names(value: object) -> list[str] | None:
    """Queue names from the config (a list, or a comma-separated string); None = discover."""
    if isinstance(value, str):
        value = [] if value.strip().lower() == "auto" else value.split(",")
    return [str(n).strip() for n in value or [] if str(n).strip()] or None


def measures_queues(config: dict) -> bool:
    return bool(config.get("queues")) or config.get("backlog_degraded") not in (None, "")


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    url = str(config.get("url") or settings.REDIS_URL)
    client = redis_lib.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        watch = Stopwatch()
        client.ping()
        latency = watch.ms
        if measures_queues(config):
            queues = queue_lengths(client, queue_names(config.get("queues")))
            return _queue_result(config, latency, queues)
        info = client.info()
    finally:
        client.close()
    return _cache_result(config, latency, info, state)


def _queue_result(config: dict, latency: float, queues: dict[str, int]) -> ProbeResult:
    result = ProbeResult(ok=True, latency_ms=latency, details={"queues": queues})
    for queue, length in queues.items():
        result.add("celery_queue_length", length, queue=queue)
    result.message = f"PING {latency:.1f} ms, {sum(queues.values())} tasks waiting"
    backlog_limit = int(config.get("backlog_degraded") or 1000)
    long_queues = {q: n for q, n in queues.items() if n > backlog_limit}
    if long_queues:
        result.degraded = True
        result.message = "queue backlog: " + ", ".join(f"{q} {n}" for q, n in long_queues.items())
    return result


def _cache_result(config: dict, latency: float, info: dict, state: dict) -> ProbeResult:
    used = info.get("used_memory", 0)
    ceiling = info.get("maxmemory") or info.get("total_system_memory") or 0
    memory_pct = 100.0 * used / ceiling if ceiling else None
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    # Hit rate over the interval since the last run, falling back to the lifetime ratio.
    d_hits, d_misses = hits - state.get("hits", hits), misses - state.get("misses", misses)
    if d_hits >= 0 and d_misses >= 0 and d_hits + d_misses > 0:
        hit_rate = 100.0 * d_hits / (d_hits + d_misses)
    else:
        hit_rate = 100.0 * hits / (hits + misses) if hits + misses else None

    result = ProbeResult(ok=True, latency_ms=latency, state={"hits": hits, "misses": misses})
    result.add("redis_memory_used_pct", memory_pct)
    result.add("redis_hit_rate_pct", None if hit_rate is None else round(hit_rate, 2))
    result.add("redis_connected_clients", info.get("connected_clients"))
    result.add("redis_ops_per_s", info.get("instantaneous_ops_per_sec"))
    result.details = {
        "used_memory_bytes": used,
        "maxmemory_bytes": info.get("maxmemory", 0),
        "memory_pct": memory_pct,
        "hit_rate_pct": hit_rate and round(hit_rate, 2),
        "clients": info.get("connected_clients"),
        "ops_per_s": info.get("instantaneous_ops_per_sec"),
        "version": info.get("redis_version"),
    }
    memory_text = "unknown" if memory_pct is None else f"{memory_pct:.1f}%"
    result.message = f"PING {latency:.1f} ms, memory {memory_text}"
    if memory_pct is not None and memory_pct >= float(config.get("memory_degraded_pct", 90)):
        result.degraded = True
        result.message = f"memory {memory_pct:.0f}% of the limit"
    return result
