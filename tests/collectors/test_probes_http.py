"""The http probe against real servers on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from collectors.monitoring.probes import run_check
from tests.collectors.servers import (
    HttpsServer,
    SilentServer,
    TricklingServer,
    closed_port,
    make_certificate,
)


def test_it_reports_status_and_latency(httpserver):
    httpserver.expect_request("/health").respond_with_data("all good", status=200)
    result = run_check("http", {"url": httpserver.url_for("/health")}, timeout=2)
    assert result.ok
    assert result.details["status"] == 200
    assert 0 < result.latency_ms < 2000


def test_it_fails_on_an_unexpected_status(httpserver):
    httpserver.expect_request("/health").respond_with_data("oops", status=503)
    result = run_check("http", {"url": httpserver.url_for("/health")}, timeout=2)
    assert not result.ok
    assert "HTTP 503" in result.message


def test_it_accepts_a_configured_expected_status(httpserver):
    httpserver.expect_request("/auth").respond_with_data("no", status=401)
    result = run_check(
        "http", {"url": httpserver.url_for("/auth"), "expected_status": [401, 403]}, timeout=2
    )
    assert result.ok


def test_it_fails_when_the_keyword_is_missing(httpserver):
    httpserver.expect_request("/").respond_with_data("maintenance page", status=200)
    result = run_check("http", {"url": httpserver.url_for("/"), "keyword": "indicator"}, timeout=2)
    assert not result.ok
    assert "lacks 'indicator'" in result.message


def test_it_reports_connection_refused():
    result = run_check("http", {"url": f"http://127.0.0.1:{closed_port()}/"}, timeout=2)
    assert not result.ok
    assert result.message == "connection refused"


def test_a_hanging_server_times_out_within_the_timeout():
    with SilentServer() as silent:
        began = time.monotonic()
        result = run_check("http", {"url": silent.url}, timeout=0.5)
    assert not result.ok
    assert result.message == "timed out after 0.5 s"
    # Without the timeout this would wait forever; the bound is generous for a loaded box.
    assert time.monotonic() - began < 10


def test_a_body_trickling_in_past_the_timeout_fails():
    # 50 bytes at one per 0.1 s: every read is quick, the whole answer takes 5 s.
    with TricklingServer(length=50, every=0.1) as slow:
        result = run_check("http", {"url": slow.url}, timeout=0.5)
    assert not result.ok
    assert result.message == "timed out after 0.5 s"


def test_bad_config_is_a_failed_result_not_an_exception():
    result = run_check("http", {"url": "ftp://example.test/"}, timeout=1)
    assert not result.ok
    assert result.message.startswith("bad config: url must be http")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return tmp_path_factory.mktemp("tls")


def test_it_reports_tls_certificate_days_left(certificates):
    ca, cert, key = make_certificate(certificates, days=90)
    with HttpsServer(cert, key) as server:
        result = run_check("http", {"url": server.url, "ca_file": str(ca)}, timeout=3)
    assert result.ok, result.message
    assert 89 < result.details["tls_cert_days_left"] <= 90
    assert [m.name for m in result.metrics] == ["tls_cert_days_left"]
    assert not result.degraded


def test_a_certificate_about_to_expire_marks_it_degraded(tmp_path):
    ca, cert, key = make_certificate(tmp_path, days=5)
    with HttpsServer(cert, key) as server:
        result = run_check(
            "http", {"url": server.url, "ca_file": str(ca), "tls_warn_days": 14}, timeout=3
        )
    assert result.ok and result.degraded
    assert "TLS certificate expires in" in result.message


def test_an_untrusted_certificate_fails(certificates):
    _, cert, key = make_certificate(certificates, days=90)
    with HttpsServer(cert, key) as server:
        result = run_check("http", {"url": server.url}, timeout=3)
    assert not result.ok
    assert result.message.startswith("TLS certificate rejected")
