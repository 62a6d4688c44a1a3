"""Collector lag: is PenguinMon itself keeping up? Measures how overdue the probes are and
how old each host's latest sample is. Unlike the other probes it reads PenguinMon's own
tables, so it closes its thread's database connection when done.

config: degraded_seconds (60), down_seconds (300), host_max_age_seconds (120).
"""

from __future__ import annotations

from django.db import close_old_connections, connection
from django.db.models import Min, Q
from django.utils import timezone

from collectors.monitoring.probes.base import ProbeResult, Stopwatch


def check(config: dict, *, timeout: float, state: dict) -> ProbeResult:
    from collectors.models import Host, Probe, ProbeLocation

    close_old_connections()
    watch = Stopwatch()
    try:
        now = timezone.now()
        oldest_due = (
            Probe.objects.filter(enabled=True, next_run_at__lt=now)
            # The probe row is the default location's schedule: only probes that run there.
            .filter(Q(locations=[]) | Q(locations__contains=["default"]))
            .exclude(kind="lag")
            .aggregate(m=Min("next_run_at"))["m"]
        )
        # Other locations keep their schedule on their own rows: a stopped location worker
        # shows up here as overdue probes.
        oldest_elsewhere = (
            ProbeLocation.objects.filter(probe__enabled=True, next_run_at__lt=now)
            .exclude(probe__kind="lag")
            .aggregate(m=Min("next_run_at"))["m"]
        )
        oldest_due = min((t for t in (oldest_due, oldest_elsewhere) if t), default=None)
        probe_lag = (now - oldest_due).total_seconds() if oldest_due else 0.0
        host_ages = {
            h.name: (now - h.last_sample_at).total_seconds()
            for h in Host.objects.filter(enabled=True, last_sample_at__isnull=False)
        }
    finally:
        connection.close()
    result = ProbeResult(ok=True, latency_ms=watch.ms)
    result.add("collector_lag_seconds", round(probe_lag, 3), source="probes")
    for host, age in host_ages.items():
        result.add("collector_lag_seconds", round(age, 3), source=f"host:{host}")
    result.details = {
        "probe_lag_s": round(probe_lag, 1),
        "host_sample_age_s": {h: round(a, 1) for h, a in host_ages.items()},
    }
    host_limit = float(config.get("host_max_age_seconds", 120))
    stale = sorted(h for h, age in host_ages.items() if age > host_limit)
    if probe_lag > float(config.get("down_seconds", 300)):
        failed = ProbeResult.failure(
            f"probes are {probe_lag:.0f} s overdue: is the beat/worker running?",
            latency_ms=result.latency_ms,
            **result.details,
        )
        failed.metrics = result.metrics
        return failed
    result.message = f"probes {probe_lag:.0f} s behind"
    if probe_lag > float(config.get("degraded_seconds", 60)) or stale:
        result.degraded = True
        if stale:
            result.message += f"; no recent sample from {', '.join(stale)}"
    return result
