"""Reputation fixtures: a real DNS server on 127.0.0.1 the app is pointed at, and IP rows."""

from __future__ import annotations

import pytest

from reputation.models import SendingIP
from tests.support.dns_server import DNSTestServer


@pytest.fixture
def dns(settings):
    """Start a DNS test server; ``dns(zone, hang=..., refuse=...)`` returns it. The app's
    resolver setting points at it, with a short timeout so timeout tests stay quick."""
    servers = []

    def start(zone: dict, **kwargs) -> DNSTestServer:
        server = DNSTestServer(zone, **kwargs).__enter__()
        servers.append(server)
        settings.REPUTATION_RESOLVER = f"127.0.0.1:{server.port}"
        settings.REPUTATION_DNS_TIMEOUT = 1.0
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def make_ip(db):
    def make(
        address: str, *, provider: str = "AWS", pool: str = "primary", active: bool = True, **kw
    ) -> SendingIP:
        return SendingIP.objects.create(
            address=address, provider=provider, pool=pool, active=active, **kw
        )

    return make


def reversed_name(address: str, zone: str) -> str:
    return ".".join(reversed(address.split("."))) + "." + zone
