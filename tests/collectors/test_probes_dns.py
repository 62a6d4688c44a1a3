"""The dns probe against tests/support/dns_server.py on 127.0.0.1."""

from __future__ import annotations

import pytest

from collectors.monitoring.probes import run_check
from tests.support.dns_server import DNSTestServer

ZONE = {
    "api.penguinmails.test.": {"A": ["192.0.2.10"]},
    "mx.penguinmails.test.": {"MX": ["10 mail.test."]},
}


@pytest.fixture(scope="module")
def dns_server():
    with DNSTestServer(
        ZONE, hang={"slow.penguinmails.test."}, refuse={"refused.penguinmails.test."}
    ) as server:
        yield server


def probe(server, name, **extra):
    config = {"name": name, "nameserver": "127.0.0.1", "port": server.port, **extra}
    return run_check("dns", config, timeout=1)


def test_it_resolves_a_name(dns_server):
    result = probe(dns_server, "api.penguinmails.test")
    assert result.ok
    assert result.details["answers"] == ["192.0.2.10"]


def test_it_checks_the_expected_answer(dns_server):
    assert probe(dns_server, "api.penguinmails.test", expect="192.0.2.10").ok
    wrong = probe(dns_server, "api.penguinmails.test", expect="192.0.2.99")
    assert not wrong.ok
    assert "expected 192.0.2.99" in wrong.message


def test_an_unknown_name_fails_with_nxdomain(dns_server):
    result = probe(dns_server, "nope.penguinmails.test")
    assert not result.ok
    assert "NXDOMAIN" in result.message


def test_a_name_without_records_of_the_type_fails(dns_server):
    result = probe(dns_server, "mx.penguinmails.test", rdtype="A")
    assert not result.ok
    assert "no A records" in result.message


def test_a_server_that_never_answers_times_out(dns_server):
    result = probe(dns_server, "slow.penguinmails.test")
    assert not result.ok
    assert "within 1 s" in result.message


def test_a_refusing_server_fails(dns_server):
    result = probe(dns_server, "refused.penguinmails.test")
    assert not result.ok
    assert "no server answered" in result.message
