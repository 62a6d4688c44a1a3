"""What every probe returns, and small helpers the probe modules share.

A probe is a plain function ``check(config, *, timeout, state) -> ProbeResult``: it measures one
target and never touches the Django database, so the runner can call many of them at once in
threads. ``state`` is what the same probe returned as ``ProbeResult.state`` last time (counters
for rates such as table operations per hour); the runner stores it on the Probe row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class ProbeConfigError(ValueError):
    """The probe's configuration is unusable (reported as a failed run, and in admin)."""


@dataclass
class Metric:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class ProbeResult:
    ok: bool
    latency_ms: float | None = None
    message: str = ""
    # The target answered, but something is off (yellow cluster, pool nearly full, big backlog).
    degraded: bool = False
    metrics: list[Metric] = field(default_factory=list)
    # Shown on the service page: banner, slowest statements, top queues...
    details: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)

    @classmethod
    def failure(cls, message: str, *, latency_ms: float | None = None, **details) -> ProbeResult:
        return cls(ok=False, latency_ms=latency_ms, message=message[:500], details=details)

    def add(self, name: str, value: float | int | None, **labels: str) -> None:
        if value is not None:
            self.metrics.append(Metric(name, float(value), labels))


class Stopwatch:
    """Milliseconds since creation (monotonic)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 3)


def need(config: dict, key: str) -> object:
    value = config.get(key)
    if value in (None, ""):
        raise ProbeConfigError(f"config needs '{key}'")
    return value


def per_hour(
    current: dict[str, float], previous: dict, now: float
) -> tuple[dict[str, float], dict]:
    """Turn monotonically increasing counters into per-hour rates against the previous run.

    Returns (rates, new_state). A counter that went backwards (server restart, stats reset)
    gives no rate for that run rather than a negative one.
    """
    rates: dict[str, float] = {}
    prev_ts = previous.get("ts")
    prev_counters = previous.get("counters", {})
    if prev_ts is not None and now > prev_ts:
        elapsed_h = (now - prev_ts) / 3600
        for key, value in current.items():
            before = prev_counters.get(key)
            if before is not None and value >= before:
                rates[key] = (value - before) / elapsed_h
    return rates, {"ts": now, "counters": current}
