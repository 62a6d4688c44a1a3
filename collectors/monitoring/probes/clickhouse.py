"""OLAP probe for ClickHouse over its HTTP interface: /ping, query latency, storage used.

config: url (required, e.g. http://clickhouse:8123), user / password (optional),
query ("SELECT 1": the query whose latency is measured).
"""

from __future__ import annotations

from urllib.parse import quote

from collectors.monitoring.probes import httpjson
from collectors.monitoring.probes.base import ProbeResult, Stopwatch, need

STORAGE_SQL = "SELECT sum(bytes_on_disk) FROM system.parts WHERE active"


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    base = str(need(config, "url")).rstrip("/")
    auth = {"user": config.get("user", ""), "password": config.get("password", "")}
    watch = Stopwatch()
    pong = httpjson.get(f"{base}/ping", timeout=timeout)
    ping_ms = watch.ms
    if pong.strip() != "Ok.":
        return ProbeResult.failure(
            f"/ping answered {pong[:60]!r}, expected 'Ok.'", latency_ms=ping_ms
        )
    query = str(config.get("query", "SELECT 1"))
    watch = Stopwatch()
    httpjson.get(f"{base}/?query={quote(query)}", timeout=timeout, **auth)
    query_ms = watch.ms
    storage = httpjson.get(f"{base}/?query={quote(STORAGE_SQL)}", timeout=timeout, **auth).strip()
    try:
        storage_bytes = float(storage or 0)
    except ValueError:
        storage_bytes = None
    result = ProbeResult(
        ok=True, latency_ms=ping_ms, message=f"ping {ping_ms:.0f} ms, query {query_ms:.0f} ms"
    )
    result.add("olap_query_latency_ms", query_ms)
    result.add("olap_storage_bytes", storage_bytes)
    result.details = {"ping_ms": ping_ms, "query_ms": query_ms, "storage_bytes": storage_bytes}
    return result
