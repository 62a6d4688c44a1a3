"""The elasticsearch and clickhouse probes against HTTP servers on 127.0.0.1 answering like them."""

from __future__ import annotations

import pytest

from collectors.monitoring.probes import run_check
from tests.collectors.servers import SilentServer, closed_port


def es_health(status: str, unassigned: int = 0) -> dict:
    return {
        "cluster_name": "pm-search",
        "status": status,
        "number_of_nodes": 3,
        "active_shards": 42,
        "unassigned_shards": unassigned,
    }


@pytest.mark.parametrize(
    ("colour", "ok", "degraded", "code"),
    [
        ("green", True, False, 0),
        ("yellow", True, True, 1),
        ("red", False, False, 2),
    ],
)
def test_cluster_colour_sets_the_result(httpserver, colour, ok, degraded, code):
    httpserver.expect_request("/_cluster/health").respond_with_json(es_health(colour, unassigned=3))
    httpserver.expect_request("/_stats/indexing").respond_with_json(
        {"_all": {"primaries": {"indexing": {"index_total": 1000}}}}
    )
    result = run_check("elasticsearch", {"url": httpserver.url_for("/")}, timeout=2)
    assert (result.ok, result.degraded) == (ok, degraded)
    values = {m.name: m.value for m in result.metrics}
    assert values["es_cluster_status"] == code
    assert values["es_unassigned_shards"] == 3
    assert result.message == f"cluster {colour}, 3 unassigned shards"


def test_indexing_rate_comes_from_two_runs(httpserver):
    httpserver.expect_request("/_cluster/health").respond_with_json(es_health("green"))
    httpserver.expect_request("/_stats/indexing").respond_with_json(
        {"_all": {"primaries": {"indexing": {"index_total": 5000}}}}
    )
    first = run_check("elasticsearch", {"url": httpserver.url_for("/")}, timeout=2)
    assert "es_indexing_rate" not in {m.name for m in first.metrics}
    earlier = {"ts": first.state["ts"] - 10, "index_total": 4000}
    second = run_check("elasticsearch", {"url": httpserver.url_for("/")}, timeout=2, state=earlier)
    rate = {m.name: m.value for m in second.metrics}["es_indexing_rate"]
    assert 95 < rate <= 100  # 1000 documents over ~10 s


def test_elasticsearch_refusing_connections_fails():
    result = run_check("elasticsearch", {"url": f"http://127.0.0.1:{closed_port()}"}, timeout=1)
    assert not result.ok
    assert result.message == "connection refused"


def test_elasticsearch_that_hangs_times_out():
    with SilentServer() as silent:
        result = run_check("elasticsearch", {"url": silent.url}, timeout=0.3)
    assert result.message == "timed out after 0.3 s"


def clickhouse(httpserver, *, ping="Ok.\n", storage="123456789\n"):
    httpserver.expect_request("/ping").respond_with_data(ping)
    httpserver.expect_request("/", query_string={"query": "SELECT 1"}).respond_with_data("1\n")
    httpserver.expect_request(
        "/", query_string={"query": "SELECT sum(bytes_on_disk) FROM system.parts WHERE active"}
    ).respond_with_data(storage)


def test_clickhouse_reports_query_latency_and_storage(httpserver):
    clickhouse(httpserver)
    result = run_check("clickhouse", {"url": httpserver.url_for("/")}, timeout=2)
    assert result.ok, result.message
    values = {m.name: m.value for m in result.metrics}
    assert values["olap_storage_bytes"] == 123456789
    assert values["olap_query_latency_ms"] > 0


def test_clickhouse_with_a_wrong_ping_answer_fails(httpserver):
    clickhouse(httpserver, ping="<html>proxy error</html>")
    result = run_check("clickhouse", {"url": httpserver.url_for("/")}, timeout=2)
    assert not result.ok
    assert "expected 'Ok.'" in result.message


def test_clickhouse_query_errors_fail_with_the_servers_message(httpserver):
    httpserver.expect_request("/ping").respond_with_data("Ok.\n")
    httpserver.expect_request("/").respond_with_data("Code: 516. Authentication failed", status=516)
    result = run_check("clickhouse", {"url": httpserver.url_for("/")}, timeout=2)
    assert not result.ok
    assert "Authentication failed" in result.message
