"""The prometheus probe scrapes a real /metrics endpoint and returns its samples."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from collectors.monitoring.probes import run_check


def exposition() -> bytes:
    registry = CollectorRegistry()
    Gauge("mta_queue_messages", "queued", ["queue"], registry=registry).labels("deferred").set(42)
    Counter("mta_sent", "sent", registry=registry).inc(7)
    return generate_latest(registry)


def test_it_stores_every_sample(httpserver):
    httpserver.expect_request("/metrics").respond_with_data(exposition(), content_type="text/plain")
    result = run_check("prometheus", {"url": httpserver.url_for("/metrics")}, timeout=2)
    assert result.ok, result.message
    samples = {(m.name, tuple(sorted(m.labels.items()))): m.value for m in result.metrics}
    assert samples[("mta_queue_messages", (("queue", "deferred"),))] == 42
    assert samples[("mta_sent_total", ())] == 7


def test_include_and_prefix_limit_what_is_stored(httpserver):
    httpserver.expect_request("/metrics").respond_with_data(exposition())
    config = {"url": httpserver.url_for("/metrics"), "include": ["mta_queue"], "prefix": "edge_"}
    result = run_check("prometheus", config, timeout=2)
    assert [m.name for m in result.metrics] == ["edge_mta_queue_messages"]


def test_a_scrape_over_the_limit_is_degraded(httpserver):
    httpserver.expect_request("/metrics").respond_with_data(exposition())
    result = run_check(
        "prometheus", {"url": httpserver.url_for("/metrics"), "max_samples": 1}, timeout=2
    )
    assert result.ok and result.degraded
    assert len(result.metrics) == 1
    assert "over the 1-sample limit" in result.message


def test_a_page_that_is_not_exposition_format_fails(httpserver):
    httpserver.expect_request("/metrics").respond_with_data("<html><body>login</body></html>")
    result = run_check("prometheus", {"url": httpserver.url_for("/metrics")}, timeout=2)
    assert not result.ok
    assert result.message.startswith("not Prometheus text format")
