"""PostgreSQL (OLTP) probe: connect and ``select 1`` latency, connections used vs
max_connections, database size, per-table operations/hour, slowest statements.

config: dsn (libpq conninfo or URL; blank = PenguinMon's own database), tables (list of table
names to report; default the 50 busiest), pool_degraded_pct (80: the seed's "connection pool
80% utilized"), statements (5: how many slowest statements to show; 0 to skip),
create_extension (false: run CREATE EXTENSION IF NOT EXISTS pg_stat_statements when missing).
"""

from __future__ import annotations

import math
import time

import psycopg
from django.conf import settings

from collectors.monitoring.probes.base import ProbeResult, Stopwatch, per_hour

# Traffic levels by operations/hour (DESIGN.md: CRITICAL 100K–2M, HIGH 5K–500K, MEDIUM 100–10K).
# The seed's bands overlap; a measured rate takes the highest level whose floor it reaches.
# The dashboards' tables grade with the same function.
TRAFFIC_LEVELS = (("CRITICAL", 100_000), ("HIGH", 5_000), ("MEDIUM", 100))


def traffic_level(ops_per_hour: float) -> str:
    for level, floor in TRAFFIC_LEVELS:
        if ops_per_hour >= floor:
            return level
    return "LOW"


def app_conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = {
        "host": db.get("HOST") or "",
        "port": db.get("PORT") or "",
        "dbname": db["NAME"],
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


TABLE_OPS_SQL = """
SELECT relname, n_tup_ins + n_tup_upd + n_tup_del + coalesce(seq_scan, 0) + coalesce(idx_scan, 0)
FROM pg_stat_user_tables
"""

STATEMENTS_SQL = """
SELECT left(query, 300), calls, round(mean_exec_time::numeric, 3), round(total_exec_time::numeric, 1)
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC LIMIT %s
"""


def _slowest_statements(cur, limit: int, create: bool) -> list[dict] | str:
    cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if cur.fetchone() is None:
        if not create:
            return "pg_stat_statements is not installed in this database"
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error as exc:
            return f"cannot create pg_stat_statements: {exc.diag.message_primary or exc}"
    try:
        cur.execute(STATEMENTS_SQL, (limit,))
    except psycopg.Error as exc:  # e.g. not in shared_preload_libraries
        return f"pg_stat_statements unavailable: {exc.diag.message_primary or exc}"
    return [
        {"query": q, "calls": c, "mean_ms": float(m), "total_ms": float(t)}
        for q, c, m, t in cur.fetchall()
    ]


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    conninfo = str(config.get("dsn") or app_conninfo())
    statement_ms = max(1, int(timeout * 1000))
    watch = Stopwatch()
    with psycopg.connect(
        conninfo,
        connect_timeout=max(1, math.ceil(timeout)),
        autocommit=True,
        options=f"-c statement_timeout={statement_ms}",
        application_name="penguinmon-probe",
    ) as conn:
        connect_ms = watch.ms
        with conn.cursor() as cur:
            query_watch = Stopwatch()
            cur.execute("SELECT 1")
            cur.fetchone()
            select_ms = query_watch.ms
            # Only client backends count against max_connections: autovacuum, the checkpointer,
            # WAL writer and other background processes are listed too but use no slot.
            cur.execute(
                "SELECT count(*) FILTER (WHERE backend_type = 'client backend'), "
                "current_setting('max_connections')::int, "
                "pg_database_size(current_database()) FROM pg_stat_activity"
            )
            used, max_connections, size_bytes = cur.fetchone()
            cur.execute(TABLE_OPS_SQL)
            counters = {name: float(ops) for name, ops in cur.fetchall()}
            limit = int(config.get("statements", 5))
            statements = (
                _slowest_statements(cur, limit, bool(config.get("create_extension")))
                if limit
                else []
            )

    utilisation = round(100.0 * used / max_connections, 2) if max_connections else None
    result = ProbeResult(ok=True, latency_ms=connect_ms + select_ms)
    result.add("db_query_latency_ms", select_ms)
    result.add("db_pool_utilisation_pct", utilisation)
    result.add("db_size_bytes", size_bytes)

    wanted = config.get("tables")
    if wanted:
        counters = {k: v for k, v in counters.items() if k in set(wanted)}
    rates, result.state = per_hour(counters, state, time.time())
    busiest = sorted(rates.items(), key=lambda kv: kv[1], reverse=True)
    if not wanted:
        busiest = busiest[:50]
    for table, rate in busiest:
        result.add("table_ops_per_hour", round(rate, 1), table=table)

    result.details = {
        "connect_ms": connect_ms,
        "select1_ms": select_ms,
        "connections": used,
        "max_connections": max_connections,
        "pool_utilisation_pct": utilisation,
        "size_bytes": size_bytes,
        "tables": [
            {"table": t, "ops_per_hour": round(r), "level": traffic_level(r)}
            for t, r in busiest[:20]
        ],
        "slowest_statements": statements,
    }
    result.message = (
        f"connect {connect_ms:.0f} ms, select 1 {select_ms:.1f} ms, pool {utilisation}%"
    )
    if utilisation is not None and utilisation >= float(config.get("pool_degraded_pct", 80)):
        result.degraded = True
        result.message = f"connection pool {utilisation:.0f}% used ({used}/{max_connections})"
    return result
