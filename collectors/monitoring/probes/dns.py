"""DNS probe: resolve a name through a given (or the system) resolver.

config: name (required), rdtype ("A"), nameserver (IP; default the system resolver),
port (53), expect (optional value that must be among the answers, e.g. "192.0.2.1"),
tcp (false).
"""

from __future__ import annotations

import dns.exception
import dns.resolver

from collectors.monitoring.probes.base import ProbeResult, Stopwatch, need


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    name = str(need(config, "name"))
    rdtype = str(config.get("rdtype", "A")).upper()
    if config.get("nameserver"):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [str(config["nameserver"])]
        resolver.port = int(config.get("port", 53))
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = resolver.lifetime = timeout
    watch = Stopwatch()
    try:
        answer = resolver.resolve(
            name, rdtype, tcp=bool(config.get("tcp", False)), raise_on_no_answer=False
        )
    except dns.resolver.NXDOMAIN:
        return ProbeResult.failure(f"{name} does not exist (NXDOMAIN)", latency_ms=watch.ms)
    except dns.exception.Timeout:
        return ProbeResult.failure(
            f"no answer for {name} within {timeout:g} s", latency_ms=watch.ms
        )
    except dns.resolver.NoNameservers as exc:
        return ProbeResult.failure(f"no server answered for {name}: {exc}", latency_ms=watch.ms)
    latency = watch.ms
    values = [r.to_text().strip('"') for r in answer] if answer.rrset is not None else []
    if not values:
        return ProbeResult.failure(f"{name} has no {rdtype} records", latency_ms=latency)
    expect = config.get("expect")
    if expect and str(expect) not in values:
        return ProbeResult.failure(
            f"{name} {rdtype} is {values}, expected {expect}", latency_ms=latency, answers=values
        )
    return ProbeResult(
        ok=True,
        latency_ms=latency,
        message=f"{name} {rdtype} → {', '.join(values[:3])}",
        details={"answers": values},
    )
