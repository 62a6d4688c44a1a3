"""A real DNS server on 127.0.0.1 for tests: serves a fixed zone over UDP and TCP.

    with DNSTestServer({"example.test.": {"A": ["192.0.2.1"]}}) as dns:
        resolver.nameservers = ["127.0.0.1"]; resolver.port = dns.port

Names not in the zone get NXDOMAIN; names listed in ``hang`` are never answered (to test
timeouts); names in ``refuse`` get REFUSED; names in ``truncate`` get an empty UDP answer with
the TC bit set (the client must retry over TCP, which gets the full answer).
"""

from __future__ import annotations

import socket
import threading

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from tests.support.net import free_port

_RDATA = {"A": A, "AAAA": AAAA, "TXT": TXT, "MX": lambda v: MX(v)}


class _ZoneResolver(BaseResolver):
    def __init__(
        self, zone: dict, hang: set[str], refuse: set[str], truncate: set[str] = frozenset()
    ):
        self.zone = {k.lower().rstrip(".") + ".": v for k, v in zone.items()}
        self.hang = {h.lower().rstrip(".") + "." for h in hang}
        self.refuse = {h.lower().rstrip(".") + "." for h in refuse}
        self.truncate = {h.lower().rstrip(".") + "." for h in truncate}
        self.queries: list[tuple[str, str]] = []
        self.stopped = threading.Event()

    def resolve(self, request: DNSRecord, handler):
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        reply = request.reply()
        if qname in self.hang:
            # Hold the request (each runs in its own thread) until the server stops, so the
            # client sees a real timeout rather than an error answer.
            self.stopped.wait()
            return reply
        if qname in self.refuse:
            reply.header.rcode = RCODE.REFUSED
            return reply
        if qname in self.truncate and getattr(handler, "protocol", "udp") == "udp":
            reply.header.tc = 1
            return reply
        records = self.zone.get(qname)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in records.get(qtype, []):
            reply.add_answer(RR(qname, QTYPE.reverse[qtype], rdata=_RDATA[qtype](value), ttl=60))
        return reply


class DNSTestServer:
    def __init__(
        self,
        zone: dict,
        *,
        hang: set[str] = frozenset(),
        refuse: set[str] = frozenset(),
        truncate: set[str] = frozenset(),
    ):
        self.resolver = _ZoneResolver(zone, set(hang), set(refuse), set(truncate))
        # A port free for UDP may be taken for TCP by another process (tests run in parallel
        # on this machine): try a few ports until both bind.
        for attempt in range(20):
            self.port = free_port(socket.SOCK_DGRAM)
            self._servers = []
            try:
                for tcp in (False, True):
                    self._servers.append(
                        DNSServer(
                            self.resolver,
                            address="127.0.0.1",
                            port=self.port,
                            tcp=tcp,
                            logger=_Quiet(),
                        )
                    )
                break
            except OSError:
                for server in self._servers:
                    server.server.server_close()
                if attempt == 19:
                    raise

    @property
    def queries(self) -> list[tuple[str, str]]:
        return self.resolver.queries

    def set(self, name: str, records: dict) -> None:
        self.resolver.zone[name.lower().rstrip(".") + "."] = records

    def remove(self, name: str) -> None:
        self.resolver.zone.pop(name.lower().rstrip(".") + ".", None)

    def __enter__(self) -> DNSTestServer:
        for server in self._servers:
            server.start_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.resolver.stopped.set()
        for server in self._servers:
            server.stop()
            server.server.server_close()


class _Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None
