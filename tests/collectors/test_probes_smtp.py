"""The smtp probe against aiosmtpd on 127.0.0.1, with and without STARTTLS, and its queue sources."""

from __future__ import annotations

import json
import ssl
import sys

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from collectors.monitoring.probes import run_check
from tests.collectors.servers import (
    SilentServer,
    TricklingBannerServer,
    closed_port,
    make_certificate,
)


@pytest.fixture
def smtp_plain():
    controller = Controller(
        Sink(), hostname="127.0.0.1", port=closed_port(), server_hostname="mx.test"
    )
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def smtp_tls(tmp_path):
    _, cert, key = make_certificate(tmp_path, days=30)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=closed_port(),
        tls_context=context,
        server_hostname="mx.test",
    )
    controller.start()
    yield controller
    controller.stop()


def test_it_reads_the_banner_and_ehlo(smtp_plain):
    result = run_check("smtp", {"host": "127.0.0.1", "port": smtp_plain.port}, timeout=3)
    assert result.ok, result.message
    assert "mx.test" in result.details["banner"]
    assert result.details["starttls"] is False
    assert "STARTTLS not offered" in result.message


def test_it_sees_starttls_offered(smtp_tls):
    result = run_check(
        "smtp", {"host": "127.0.0.1", "port": smtp_tls.port, "require_starttls": True}, timeout=3
    )
    assert result.ok, result.message
    assert result.details["starttls"] is True


def test_requiring_starttls_fails_a_server_without_it(smtp_plain):
    result = run_check(
        "smtp", {"host": "127.0.0.1", "port": smtp_plain.port, "require_starttls": True}, timeout=3
    )
    assert not result.ok
    assert result.message == "STARTTLS not offered"


def test_it_counts_the_postqueue_json_backlog(smtp_plain):
    lines = [json.dumps({"queue_name": "deferred", "queue_id": f"Q{i}"}) for i in range(7)]
    output = "\n".join(lines)
    script = f"print({output!r})"
    config = {
        "host": "127.0.0.1",
        "port": smtp_plain.port,
        "queue_command": [sys.executable, "-c", script],
    }
    result = run_check("smtp", config, timeout=3)
    assert result.ok
    assert result.details["queue_size"] == 7
    assert [(m.name, m.value) for m in result.metrics] == [("smtp_queue_size", 7.0)]


def _check_with_queue_url(smtp_plain, httpserver):
    """The smtp probe against ``smtp_plain``, reading its queue size from ``httpserver``."""
    config = {
        "host": "127.0.0.1",
        "port": smtp_plain.port,
        "queue_url": httpserver.url_for("/queue"),
    }
    return run_check("smtp", config, timeout=3)


def test_a_backlog_over_the_threshold_is_degraded(smtp_plain, httpserver):
    httpserver.expect_request("/queue").respond_with_json({"count": 12500})
    result = _check_with_queue_url(smtp_plain, httpserver)
    assert result.ok and result.degraded
    assert result.message == "queue backlog 12500 exceeds 10000"


def test_a_broken_queue_source_is_reported_without_failing_the_probe(smtp_plain, httpserver):
    httpserver.expect_request("/queue").respond_with_data("<html>", status=200)
    result = _check_with_queue_url(smtp_plain, httpserver)
    assert result.ok and result.degraded
    assert "queue size unknown" in result.message


def test_a_refused_port_fails():
    result = run_check("smtp", {"host": "127.0.0.1", "port": closed_port()}, timeout=2)
    assert not result.ok
    assert result.message == "connection refused"


def test_a_server_that_never_sends_a_banner_times_out():
    with SilentServer() as silent:
        result = run_check("smtp", {"host": "127.0.0.1", "port": silent.port}, timeout=0.5)
    assert not result.ok
    assert result.message == "timed out after 0.5 s"


def test_a_server_trickling_its_banner_times_out_before_it_finishes():
    # Each byte arrives well within the timeout; the whole banner takes 7 s.
    with TricklingBannerServer(every=0.1) as trickle:
        result = run_check("smtp", {"host": "127.0.0.1", "port": trickle.port}, timeout=0.5)
        finished_first = trickle.sent_all.is_set()
    assert not result.ok
    assert result.message == "timed out after 0.5 s"
    assert not finished_first
