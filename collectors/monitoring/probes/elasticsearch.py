"""Elasticsearch probe: cluster health colour, unassigned shards, indexing rate.

config: url (required, e.g. http://es:9200), user / password (basic auth, optional).
Green is healthy, yellow degraded (replicas missing), red a failure (primary shards missing).
"""

from __future__ import annotations

import time

from collectors.monitoring.probes import httpjson
from collectors.monitoring.probes.base import ProbeResult, Stopwatch, need

STATUS_CODES = {"green": 0, "yellow": 1, "red": 2}


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    base = str(need(config, "url")).rstrip("/")
    auth = {"user": config.get("user", ""), "password": config.get("password", "")}
    watch = Stopwatch()
    health = httpjson.get_json(f"{base}/_cluster/health", timeout=timeout, **auth)
    latency = watch.ms
    colour = str(health.get("status", "unknown"))
    if colour not in STATUS_CODES:
        return ProbeResult.failure(f"unexpected cluster status {colour!r}", latency_ms=latency)
    unassigned = int(health.get("unassigned_shards", 0))

    result = ProbeResult(ok=colour != "red", latency_ms=latency, degraded=colour == "yellow")
    result.add("es_cluster_status", STATUS_CODES[colour])
    result.add("es_unassigned_shards", unassigned)
    result.details = {
        "cluster": health.get("cluster_name"),
        "status": colour,
        "unassigned_shards": unassigned,
        "nodes": health.get("number_of_nodes"),
        "active_shards": health.get("active_shards"),
    }
    try:
        stats = httpjson.get_json(f"{base}/_stats/indexing", timeout=timeout, **auth)
        index_total = float(stats["_all"]["primaries"]["indexing"]["index_total"])
    except (httpjson.HttpError, KeyError, TypeError, ValueError):
        index_total = None  # stats need extra privileges on some clusters; health still counts
    if index_total is not None:
        now = time.time()
        if "index_total" in state and now > state["ts"] and index_total >= state["index_total"]:
            rate = (index_total - state["index_total"]) / (now - state["ts"])
            result.add("es_indexing_rate", round(rate, 3))
            result.details["indexing_rate"] = round(rate, 3)
        result.state = {"ts": now, "index_total": index_total}
    result.message = f"cluster {colour}, {unassigned} unassigned shards"
    return result
