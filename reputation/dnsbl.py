"""DNS blocklist look-ups: many (target, zone) pairs at once, each with its own timeout.

Semantics (RFC 5782, and the Spamhaus/SURBL/URIBL error conventions):
- the name queried is the IP's octets reversed (nibbles for IPv6) or the domain, then the zone;
- an A answer in 127.0.0.0/8 means *listed*, its code decoded with the zone's map, and the
  zone's TXT record at the same name is read for the reason;
- NXDOMAIN (or a name without an A record) means *clean*;
- 127.255.255.x (Spamhaus: public resolver blocked, rate limited, bad DQS key), 127.0.0.1
  (URIBL/SURBL: query refused), codes the zone declares as errors, answers outside
  127.0.0.0/8 (a resolver rewriting NXDOMAIN), SERVFAIL/REFUSED and timeouts are *unknown*:
  never listed, never clean.

Why a small client of our own: a full resolver object per query (dnspython's asyncio resolver)
costs ~250 µs of Python per look-up, so 8,000 look-ups take seconds. Here every query of a run
shares one UDP socket, answers are matched by id *and* question, a query is a few bytes built
by hand and a reply is parsed only as far as A/TXT records need. Retransmission and timeouts
are timer callbacks, not tasks. Truncated answers are retried over TCP with dnspython.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

LISTED, CLEAN, UNKNOWN = "listed", "clean", "unknown"
TYPE_A, TYPE_TXT = 1, 16
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
# Also the default error_codes of the Spamhaus zones (reputation.zones).
SPAMHAUS_ERRORS = {
    "127.255.255.252": "typo in the DQS key",
    "127.255.255.254": "query via a public/open resolver (Spamhaus refuses them; use DQS or your own resolver)",
    "127.255.255.255": "excessive number of queries (rate limited)",
}


@dataclass(frozen=True)
class ZoneSpec:
    key: str  # the zone's configured name, used to report results
    query_zone: str  # what is actually queried (e.g. the DQS rewrite)
    kind: str = "ip"  # ip | domain
    return_codes: dict = field(default_factory=dict, hash=False, compare=False)
    error_codes: dict = field(default_factory=dict, hash=False, compare=False)
    bitmask: bool = False


@dataclass
class LookupResult:
    target: str
    zone: str
    result: str
    codes: list[str] = field(default_factory=list)
    meanings: list[str] = field(default_factory=list)
    reason: str = ""
    detail: str = ""
    duration_ms: float = 0.0


class InvalidTarget(ValueError):
    pass


def parse_resolver(raw: str) -> tuple[str, int]:
    """ "127.0.0.1:5353" / "127.0.0.1" / "[::1]:5353" / "::1" -> (address, port)."""
    raw = raw.strip()
    host, port = raw, 53
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            port = int(rest.lstrip(":"))
    elif raw.count(":") == 1:
        host, port_s = raw.split(":")
        port = int(port_s)
    ipaddress.ip_address(host)  # a resolver is an address, never a name to resolve first
    if not 0 < port < 65536:
        raise ValueError(f"resolver port out of range: {port}")
    return host, port


def reverse_ip(address: str) -> str:
    """Reversed octets for IPv4, reversed nibbles for IPv6 (RFC 5782 section 2.4)."""
    parts = address.split(".")
    if len(parts) == 4 and all(
        p.isdigit() and int(p) < 256 and (p[0] != "0" or p == "0") for p in parts
    ):
        return f"{parts[3]}.{parts[2]}.{parts[1]}.{parts[0]}"  # the common case, without ipaddress
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as exc:
        raise InvalidTarget(f"not an IP address: {address!r}") from exc
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return ".".join(reversed(str(ip).split(".")))
    return ".".join(reversed(ip.exploded.replace(":", "")))


def query_name(target: str, spec: ZoneSpec) -> str:
    if spec.kind == "ip":
        return f"{reverse_ip(target)}.{spec.query_zone}"
    try:
        domain = target.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidTarget(f"not a domain name: {target!r}") from exc
    if not domain:
        raise InvalidTarget("empty domain name")
    return f"{domain}.{spec.query_zone}"


def _decode(code: str, spec: ZoneSpec) -> str:
    if spec.bitmask:
        last = int(code.rsplit(".", 1)[1])
        parts = [meaning for bit, meaning in spec.return_codes.items() if last & int(bit)]
        return ", ".join(parts) or f"listed ({code})"
    return spec.return_codes.get(code) or f"listed ({code})"


def classify(addresses: list[str], spec: ZoneSpec) -> tuple[str, list[str], list[str], str]:
    """(result, listed codes, meanings, detail) for the A answers of one look-up."""
    if not addresses:
        return CLEAN, [], [], "name exists without an A record"
    codes, meanings, problems = [], [], []
    for addr in addresses:
        if addr in spec.error_codes:
            problems.append(f"{addr}: {spec.error_codes[addr]}")
        elif addr.startswith("127.255.255."):
            problems.append(f"{addr}: {SPAMHAUS_ERRORS.get(addr, 'query refused by the list')}")
        elif addr == "127.0.0.1":
            problems.append(f"{addr}: query refused by the list (127.0.0.1 is never a listing)")
        elif not addr.startswith("127."):
            problems.append(f"{addr}: answer outside 127.0.0.0/8 (resolver rewrites NXDOMAIN?)")
        else:
            codes.append(addr)
            meanings.append(_decode(addr, spec))
    if codes:
        return LISTED, codes, meanings, "; ".join(problems)
    return UNKNOWN, [], [], "; ".join(problems)


# --- the wire client --------------------------------------------------------------------------


class DNSQueryError(Exception):
    pass


class _Truncated(Exception):
    pass


@dataclass
class _Reply:
    rcode: int
    records: list[tuple[int, bytes]]  # (type, rdata)


def _encode_name(name: str) -> bytes:
    try:
        labels = name.rstrip(".").encode("ascii").split(b".")
    except UnicodeEncodeError:
        raise InvalidTarget(f"DNS names are ASCII (IDNA-encode first): {name!r}") from None
    for label in labels:
        if not 0 < len(label) < 64:
            raise InvalidTarget(f"bad DNS label in {name!r}")
    wire = b"".join([bytes((len(label),)) + label for label in labels]) + b"\x00"
    if len(wire) > 255:
        raise InvalidTarget(f"DNS name too long: {name!r}")
    return wire


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length >= 0xC0:  # compression pointer ends the name
            return offset + 2
        offset += length + 1


def _parse_reply(data: bytes, question: bytes) -> _Reply | None:
    """None when the datagram is not the answer to ``question`` (lowercased wire form)."""
    if len(data) < 12:
        return None
    _, flags, qdcount, ancount = struct.unpack_from("!HHHH", data)
    end = 12 + len(question)
    if not flags & 0x8000 or qdcount != 1 or data[12:end].lower() != question:
        return None
    if flags & 0x0200:
        raise _Truncated
    records = []
    offset = end
    try:
        for _ in range(ancount):
            offset = _skip_name(data, offset)
            rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", data, offset)
            offset += 10
            records.append((rtype, data[offset : offset + rdlen]))
            offset += rdlen
    except (IndexError, struct.error):
        raise DNSQueryError("malformed reply") from None
    return _Reply(flags & 0x000F, records)


class _Pending:
    __slots__ = ("future", "question", "packet", "deadline", "tries_left", "truncated")

    def __init__(self, future, packet: bytes, question: bytes, deadline: float, tries: int):
        self.future, self.packet, self.question = future, packet, question
        self.deadline, self.tries_left, self.truncated = deadline, tries - 1, False


class DNSClient:
    """One UDP socket to one resolver; use as ``async with DNSClient(host, port) as c``.

    The socket is read directly (all queued datagrams per wake-up) and deadlines are kept in
    one FIFO swept by a single timer: every query has the same retransmission step, so the
    FIFO is always in deadline order and no per-query timer is needed.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 3.0, tries: int = 2):
        self.host, self.port = host, port
        self.timeout, self.tries = timeout, max(1, tries)
        self.step = timeout / self.tries
        self.pending: dict[int, _Pending] = {}
        self._deadlines: deque[tuple[float, int, _Pending]] = deque()
        self._outbox: deque[bytes] = deque()
        self._sweeper = None
        self.sock: socket.socket | None = None

    async def __aenter__(self) -> DNSClient:
        self.loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        # Hundreds of answers can arrive while the loop is busy; a default-sized receive
        # buffer overflows, the kernel drops answers, and those look-ups wait for a resend.
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
                break
            except OSError:  # FORCE needs CAP_NET_ADMIN; plain SO_RCVBUF is capped by rmem_max
                continue
        sock.connect((self.host, self.port))  # only the resolver's answers are accepted
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._read_ready)
        return self

    async def __aexit__(self, *exc) -> None:
        self.loop.remove_reader(self.sock.fileno())
        if self._outbox:
            self.loop.remove_writer(self.sock.fileno())
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.sock.close()
        self._fail_all(DNSQueryError("client closed"))

    # -- I/O callbacks --

    def _read_ready(self) -> None:
        sock, pending = self.sock, self.pending
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # ICMP port unreachable on the connected socket: nobody is listening, so
                # every outstanding query fails now instead of waiting for its timeout.
                self._fail_all(DNSQueryError(f"resolver unreachable ({exc.__class__.__name__})"))
                return
            if len(data) < 12:
                continue
            entry = pending.get(int.from_bytes(data[:2], "big"))
            if entry is None or entry.future.done():
                continue
            try:
                reply = _parse_reply(data, entry.question)
            except _Truncated:
                entry.truncated = True
                entry.future.set_result(None)
                continue
            except DNSQueryError as exc:
                entry.future.set_exception(exc)
                continue
            if reply is not None:  # a stray or mismatched datagram is ignored
                entry.future.set_result(reply)

    def _send(self, packet: bytes) -> None:
        if self._outbox:
            self._outbox.append(packet)
            return
        try:
            self.sock.send(packet)
        except (BlockingIOError, InterruptedError):
            self._outbox.append(packet)
            self.loop.add_writer(self.sock.fileno(), self._flush)
        except OSError as exc:
            self._fail_all(DNSQueryError(f"resolver unreachable ({exc.__class__.__name__})"))

    def _flush(self) -> None:
        while self._outbox:
            try:
                self.sock.send(self._outbox[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._outbox.clear()
                self._fail_all(DNSQueryError(f"resolver unreachable ({exc.__class__.__name__})"))
                break
            self._outbox.popleft()
        self.loop.remove_writer(self.sock.fileno())

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.loop.time()
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, qid, entry = deadlines.popleft()
            if entry.future.done() or self.pending.get(qid) is not entry:
                continue
            if entry.tries_left > 0:  # UDP may lose a datagram: send again, same id
                entry.tries_left -= 1
                entry.deadline = now + self.step
                deadlines.append((entry.deadline, qid, entry))
                self._send(entry.packet)
            else:
                entry.future.set_exception(TimeoutError())
        self._arm()

    def _arm(self) -> None:
        if self._sweeper is None and self._deadlines:
            self._sweeper = self.loop.call_at(self._deadlines[0][0], self._sweep)

    def _fail_all(self, exc: Exception) -> None:
        for entry in self.pending.values():
            if not entry.future.done():
                entry.future.set_exception(exc)

    # -- queries --

    def _new_id(self) -> int:
        while True:
            qid = random.getrandbits(16)
            if qid not in self.pending:
                return qid

    async def query(self, name: str, qtype: int) -> _Reply:
        """Raises TimeoutError, DNSQueryError or InvalidTarget; rcodes are the caller's call."""
        question = _encode_name(name).lower() + struct.pack("!HH", qtype, 1)
        qid = self._new_id()
        packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
        entry = _Pending(
            self.loop.create_future(), packet, question, self.loop.time() + self.step, self.tries
        )
        self.pending[qid] = entry
        self._deadlines.append((entry.deadline, qid, entry))
        self._arm()
        try:
            self._send(packet)
            reply = await entry.future
        finally:
            del self.pending[qid]
        if entry.truncated:
            return await self._query_tcp(name, qtype)
        return reply

    async def _query_tcp(self, name: str, qtype: int) -> _Reply:
        import dns.asyncquery
        import dns.exception
        import dns.message

        request = dns.message.make_query(name, qtype)
        try:
            response = await dns.asyncquery.tcp(
                request, self.host, timeout=self.timeout, port=self.port
            )
        except dns.exception.Timeout as exc:
            raise TimeoutError() from exc
        except (OSError, dns.exception.DNSException) as exc:
            raise DNSQueryError(f"TCP retry failed: {exc.__class__.__name__}") from exc
        records = [(rrset.rdtype, rd.to_wire()) for rrset in response.answer for rd in rrset]
        return _Reply(response.rcode(), records)

    async def lookup(self, name: str, qtype: int) -> tuple[str, list[str]]:
        """("ok"|"nxdomain"|"error: …", values): A answers as dotted quads, TXT as strings."""
        try:
            reply = await self.query(name, qtype)
        except TimeoutError:
            return f"timeout after {self.timeout:g} s", []
        except DNSQueryError as exc:
            return f"error: {exc}", []
        if reply.rcode == 3:
            return "nxdomain", []
        if reply.rcode != 0:
            return RCODE_NAMES.get(reply.rcode, f"rcode {reply.rcode}"), []
        values = []
        for rtype, rdata in reply.records:
            if rtype != qtype:
                continue
            if qtype == TYPE_A and len(rdata) == 4:
                values.append("{}.{}.{}.{}".format(*rdata))
            elif qtype == TYPE_TXT:
                values.append(_txt(rdata))
        return "ok", values


def _txt(rdata: bytes) -> str:
    parts, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        parts.append(rdata[i + 1 : i + 1 + n].decode("utf-8", "replace"))
        i += 1 + n
    return "".join(parts)


# --- runs -------------------------------------------------------------------------------------


async def _check_one(
    client: DNSClient, target: str, spec: ZoneSpec, read_reason: bool
) -> LookupResult:
    started = time.perf_counter()
    result = LookupResult(target=target, zone=spec.key, result=UNKNOWN)
    try:
        name = query_name(target, spec)
        _encode_name(name)  # too long with the zone appended: unknown, not a crashed run
    except InvalidTarget as exc:
        result.detail = str(exc)
        return result
    status, addresses = await client.lookup(name, TYPE_A)
    if status == "nxdomain":
        result.result = CLEAN
    elif status != "ok":
        result.detail = status
    else:
        try:
            result.result, result.codes, result.meanings, result.detail = classify(addresses, spec)
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            # A zone's answer table that does not fit (e.g. a list): unknown, never a crashed run.
            result.detail = f"cannot read the answer with this zone's codes: {exc}"[:300]
            return result
        if result.result == LISTED and read_reason:
            txt_status, texts = await client.lookup(name, TYPE_TXT)
            result.reason = " | ".join(texts) if txt_status == "ok" else ""
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


async def check_async(
    pairs: Iterable[tuple[str, ZoneSpec]],
    *,
    resolver: tuple[str, int],
    timeout: float = 3.0,
    concurrency: int = 256,
    read_reason: bool = True,
) -> list[LookupResult]:
    """Look up every (target, zone) pair; results come back in the order of ``pairs``.

    At most ``concurrency`` look-ups are in flight; each query is answered, or counted as
    unknown, within ``timeout`` seconds, so a hanging name never holds up the others.
    """
    jobs = list(pairs)
    results: list[LookupResult | None] = [None] * len(jobs)
    position = iter(range(len(jobs)))

    async with DNSClient(*resolver, timeout=timeout) as client:

        async def worker() -> None:
            for i in position:
                target, spec = jobs[i]
                results[i] = await _check_one(client, target, spec, read_reason)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(jobs)) or 1)))
    return results  # type: ignore[return-value]


def check(pairs: Iterable[tuple[str, ZoneSpec]], **kwargs) -> list[LookupResult]:
    """Synchronous wrapper for services and Celery tasks."""
    return asyncio.run(check_async(pairs, **kwargs))


async def lookup_txt_async(
    names: list[str], *, resolver: tuple[str, int], timeout: float = 3.0
) -> dict[str, tuple[str, list[str]]]:
    """TXT records of several names at once (sender-DNS checks): name -> (status, strings)."""
    async with DNSClient(*resolver, timeout=timeout) as client:

        async def one(name: str):
            try:
                return await client.lookup(name, TYPE_TXT)
            except InvalidTarget as exc:
                return f"error: {exc}", []

        answers = await asyncio.gather(*(one(n) for n in names))
    return dict(zip(names, answers, strict=True))
