"""TCP connect probe: can a connection be opened, and how fast.

config: host (required), port (required), send (optional bytes to send as text),
expect (optional text the first answer must contain, e.g. an SSH or SMTP banner).
"""

from __future__ import annotations

import socket

from collectors.monitoring.probes.base import ProbeConfigError, ProbeResult, Stopwatch, need


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    host = str(need(config, "host"))
    raw_port = need(config, "port")
    try:
        port = int(raw_port)
    except (TypeError, ValueError) as exc:
        raise ProbeConfigError("port must be a number") from exc
    watch = Stopwatch()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        latency = watch.ms
        expect = config.get("expect")
        if config.get("send"):
            sock.sendall(str(config["send"]).encode())
        if expect:
            answer = sock.recv(4096).decode("utf-8", "replace")
            if expect not in answer:
                return ProbeResult.failure(
                    f"answer lacks {expect!r}: {answer[:80]!r}", latency_ms=watch.ms
                )
            latency = watch.ms
    return ProbeResult(
        ok=True, latency_ms=latency, message=f"connected to {host}:{port} in {latency:.1f} ms"
    )
