"""The postgres probe against the embedded PostgreSQL server (the test database itself)."""

from __future__ import annotations

import psycopg
import pytest

from collectors.monitoring.probes import run_check
from collectors.monitoring.probes.postgres import app_conninfo, traffic_level
from tests.collectors.servers import SilentServer, closed_port

pytestmark = pytest.mark.django_db(transaction=True)


def values(result) -> dict:
    return {(m.name, m.labels.get("table")): m.value for m in result.metrics}


def test_it_measures_latency_pool_and_size():
    result = run_check("postgres", {}, timeout=5)
    assert result.ok, result.message
    got = values(result)
    assert got[("db_query_latency_ms", None)] > 0
    assert 0 < got[("db_pool_utilisation_pct", None)] < 100
    assert got[("db_size_bytes", None)] > 1_000_000
    assert result.details["connections"] >= 1
    assert result.details["max_connections"] >= 20


def test_table_operations_per_hour_come_from_counter_deltas():
    with psycopg.connect(app_conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS probe_campaigns (id serial PRIMARY KEY, name text)"
        )
        conn.execute("SELECT pg_stat_force_next_flush()")
    first = run_check("postgres", {"tables": ["probe_campaigns"]}, timeout=5)
    assert ("table_ops_per_hour", "probe_campaigns") not in values(first)  # no earlier counters yet

    with psycopg.connect(app_conninfo(), autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO probe_campaigns (name) VALUES (%s)", [(f"c{i}",) for i in range(600)]
            )
        conn.execute("SELECT pg_stat_force_next_flush()")
    # Pretend the first run was an hour ago, so the delta is the hourly rate.
    an_hour_earlier = {**first.state, "ts": first.state["ts"] - 3600}
    second = run_check(
        "postgres", {"tables": ["probe_campaigns"]}, timeout=5, state=an_hour_earlier
    )
    rate = values(second)[("table_ops_per_hour", "probe_campaigns")]
    # The probe divides by its own clock's elapsed time: on a loaded machine the second run
    # starts a few seconds after "an hour later", so 600 rows can read as 599.x per hour.
    assert 590 <= rate < 700
    assert second.details["tables"] == [
        {"table": "probe_campaigns", "ops_per_hour": round(rate), "level": "MEDIUM"}
    ]


def test_traffic_levels_follow_the_seed():
    assert traffic_level(2_000_000) == "CRITICAL"
    assert traffic_level(100_000) == "CRITICAL"
    assert traffic_level(50_000) == "HIGH"
    assert traffic_level(5_000) == "HIGH"
    assert traffic_level(1_000) == "MEDIUM"
    assert traffic_level(50) == "LOW"


def test_it_lists_the_slowest_statements():
    with psycopg.connect(app_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.05)")
    # Other tests' statements share this database's statistics: ask for enough to include ours.
    result = run_check("postgres", {"create_extension": True, "statements": 200}, timeout=5)
    statements = result.details["slowest_statements"]
    assert isinstance(statements, list), statements
    sleep = next(s for s in statements if "pg_sleep" in s["query"])
    assert sleep["mean_ms"] >= 50
    means = [s["mean_ms"] for s in statements]
    assert means == sorted(means, reverse=True)


def test_a_full_pool_is_degraded():
    result = run_check("postgres", {"pool_degraded_pct": 0.001}, timeout=5)
    assert result.ok and result.degraded
    assert result.message.startswith("connection pool")


def test_a_refused_port_fails():
    result = run_check(
        "postgres", {"dsn": f"host=127.0.0.1 port={closed_port()} dbname=x user=x"}, timeout=2
    )
    assert not result.ok
    assert "refused" in result.message.lower()


def test_a_server_that_never_answers_times_out():
    with SilentServer() as silent:
        result = run_check(
            "postgres", {"dsn": f"host=127.0.0.1 port={silent.port} dbname=x user=x"}, timeout=1
        )
    assert not result.ok
    assert "timeout" in result.message.lower() or "timed out" in result.message.lower()
