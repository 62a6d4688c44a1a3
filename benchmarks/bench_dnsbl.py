"""DNSBL look-ups: 1,000 IPv4 + 20 IPv6 addresses x 8 zones against unbound on 127.0.0.1.

Debian's unbound (apt-get install unbound) runs as a child process on a free port and serves
the test zones from local-data: ~5 % of the pairs are listed (127.0.0.2 + a TXT reason), ~1 %
get Spamhaus' "public resolver" refusal 127.255.255.254, the rest NXDOMAIN. A Python DNS server
would be the bottleneck and hide the checkers' speed (TARGETS.md).

In the same run: our engine (reputation.dnsbl, which also reads the TXT reason of every
listing) and pydnsbl 1.1.7 (c-ares through aiodns; its resolver is replaced so it can be given
a port). Each is timed three times and the median is reported. Correct = the verdict matches
what the server was told to answer, with refusals counted as "unknown" (RFC 5782 / Spamhaus):
pydnsbl calls them "listed".
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ZONES = [f"bl{i}.bench-dnsbl.test" for i in range(8)]
N_V4, N_V6 = 1000, 20
REPEATS = 3
TARGET_S = 5.0


def _addresses(rng: random.Random) -> list[str]:
    v4 = {
        str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))) for _ in range(N_V4 * 2)
    }
    v6 = [
        str(ipaddress.IPv6Address((0x2001_0DB8 << 96) | rng.getrandbits(64))) for _ in range(N_V6)
    ]
    return sorted(v4)[:N_V4] + v6


def _expected(rng: random.Random, addresses: list[str]) -> dict[tuple[str, str], str]:
    expected = {}
    for address in addresses:
        for zone in ZONES:
            roll = rng.random()
            expected[(address, zone)] = (
                "listed" if roll < 0.05 else "unknown" if roll < 0.06 else "clean"
            )
    return expected


def _free_port() -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def _unbound_config(workdir: Path, port: int, expected: dict) -> str:
    from reputation.dnsbl import reverse_ip

    lines = [
        "server:",
        "  interface: 127.0.0.1",
        f"  port: {port}",
        "  do-daemonize: no",
        '  username: ""',
        '  chroot: ""',
        f'  directory: "{workdir}"',
        f'  pidfile: "{workdir}/unbound.pid"',
        "  use-syslog: no",
        '  logfile: ""',
        "  verbosity: 0",
        "  num-threads: 1",
        "  do-ip6: no",
        "  access-control: 127.0.0.0/8 allow",
        '  module-config: "iterator"',
        "  ratelimit: 0",
        "  ip-ratelimit: 0",
        "  so-rcvbuf: 4m",
    ]
    for zone in ZONES:
        lines.append(f'  local-zone: "{zone}." static')
    for (address, zone), verdict in expected.items():
        name = f"{reverse_ip(address)}.{zone}."
        if verdict == "listed":
            lines.append(f'  local-data: "{name} 300 IN A 127.0.0.2"')
            lines.append(
                f"  local-data: '{name} 300 IN TXT \"listed for the benchmark: {address}\"'"
            )
        elif verdict == "unknown":
            lines.append(f'  local-data: "{name} 300 IN A 127.255.255.254"')
    lines += ["remote-control:", "  control-enable: no"]
    return "\n".join(lines) + "\n"


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    import dns.message
    import dns.query

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"unbound exited: {proc.stderr.read().decode(errors='replace')[-800:]}"
            )
        try:
            dns.query.udp(
                dns.message.make_query(f"x.{ZONES[0]}", "A"), "127.0.0.1", port=port, timeout=0.5
            )
            return
        except Exception:  # not listening yet
            time.sleep(0.1)
    raise RuntimeError("unbound did not answer within 20 s")


def _run_ours(addresses, port) -> tuple[float, dict]:
    from reputation.dnsbl import ZoneSpec, check

    specs = [ZoneSpec(key=z, query_zone=z, return_codes={"127.0.0.2": "listed"}) for z in ZONES]
    pairs = [(a, s) for a in addresses for s in specs]
    started = time.perf_counter()
    results = check(pairs, resolver=("127.0.0.1", port), timeout=3.0, concurrency=256)
    elapsed = time.perf_counter() - started
    return elapsed, {(r.target, r.zone): r.result for r in results}


def _run_pydnsbl(addresses, port) -> tuple[float, dict]:
    import aiodns
    from pydnsbl import DNSBLIpChecker
    from pydnsbl.providers import Provider

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # bulk_check gathers outside the loop, so it must be current
    try:
        checker = DNSBLIpChecker(
            providers=[Provider(z) for z in ZONES], timeout=3, tries=2, loop=loop
        )
        # pydnsbl cannot be given a port; its resolver is swapped for one that can (TARGETS.md).
        checker._resolver = aiodns.DNSResolver(
            nameservers=["127.0.0.1"], udp_port=port, tcp_port=port, timeout=3, tries=2, loop=loop
        )
        started = time.perf_counter()
        results = checker.bulk_check(addresses)
        elapsed = time.perf_counter() - started
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    verdicts = {}
    for res in results:
        failed = {p.host for p in res.failed_providers}
        for zone in ZONES:
            verdicts[(res.addr, zone)] = (
                "listed" if zone in res.detected_by else "unknown" if zone in failed else "clean"
            )
    return elapsed, verdicts


def run() -> list[dict]:
    unbound = shutil.which("unbound") or "/usr/sbin/unbound"
    if not Path(unbound).exists():
        raise RuntimeError("unbound is not installed: apt-get install -y unbound")
    rng = random.Random(5782)
    addresses = _addresses(rng)
    expected = _expected(rng, addresses)
    lookups = len(expected)
    with tempfile.TemporaryDirectory(prefix="bench-dnsbl-") as tmp:
        workdir = Path(tmp)
        port = _free_port()
        conf = workdir / "unbound.conf"
        conf.write_text(_unbound_config(workdir, port, expected))
        proc = subprocess.Popen(
            [unbound, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _wait_ready(port, proc)
            ours_times, ref_times = [], []
            for _ in range(REPEATS):  # alternate so both see the same machine load
                t, ours = _run_ours(addresses, port)
                ours_times.append(t)
                t, ref = _run_pydnsbl(addresses, port)
                ref_times.append(t)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    ours_s, ref_s = statistics.median(ours_times), statistics.median(ref_times)
    ours_ok = sum(ours.get(k) == v for k, v in expected.items())
    ref_ok = sum(ref.get(k) == v for k, v in expected.items())
    label = f"{N_V4:,} IPv4 + {N_V6} IPv6 x {len(ZONES)} zones"
    print(
        f"dnsbl {label} ({lookups:,} look-ups) on unbound 127.0.0.1:{port}: "
        f"ours {ours_s:.3f} s (runs {', '.join(f'{t:.3f}' for t in ours_times)}), "
        f"pydnsbl {ref_s:.3f} s (runs {', '.join(f'{t:.3f}' for t in ref_times)}), "
        f"ratio {ours_s / ref_s:.2f}; correct verdicts: ours {ours_ok}/{lookups}, pydnsbl {ref_ok}/{lookups}"
    )
    return [
        {
            "name": f"DNSBL full run, {label}",
            "value": round(ours_s, 3),
            "unit": "s",
            "reference": "pydnsbl 1.1.7 (c-ares), same run",
            "reference_value": round(ref_s, 3),
            "ratio": round(ours_s / ref_s, 3),
            "target": f"<= {TARGET_S:g} s and faster than pydnsbl",
        },
        {
            "name": f"DNSBL correct verdicts of {lookups:,} (refusals = unknown)",
            "value": float(ours_ok),
            "unit": "look-ups",
            "reference": "pydnsbl 1.1.7: refusals reported as listed",
            "reference_value": float(ref_ok),
            "ratio": round(ours_ok / ref_ok, 3) if ref_ok else None,
            "target": f"all {lookups:,} correct",
        },
    ]


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "penguinmon.settings")
    django.setup()
    for row in run():
        print(row)
