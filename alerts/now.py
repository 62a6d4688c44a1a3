"""What is wrong right now, for the person on call: one read used by every page that shows the
"now" strip (home, operations, infrastructure) and by the strip's refresh partial.

- firing alerts (firing or acknowledged), most severe first, newest first within a severity,
  each with its age and who acknowledged it;
- services that are down, degraded or stale (probes configured but no fresh result), from the
  latest probe results (collectors.monitoring.health), not from the last status the runner stored, so a
  stopped worker shows as stale instead of keeping the last "healthy";
- hosts over their resource thresholds (seed: "resource use > 90%" alerts, 80% is near) or
  whose samples stopped;
- whether a critical alert would page anybody: no enabled on-call channel means nobody is
  paged, and every page says so (alerts.context_processors.paging).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from alerts.models import SEVERITY_LABELS, Alert, Channel
from collectors.models import Host, Probe, Service, Status
from collectors.monitoring.health import service_health

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
HOST_OVER_PCT = 90.0  # seed 000 §6: "resource use > 90%" alerts
HOST_NEAR_PCT = 80.0  # seed 000 §3: resource use < 80% is the target
# Hosts are sampled every 15 s; three missed samples and a margin make a host stale.
HOST_STALE_AFTER = timedelta(minutes=2)
STRIP_ALERTS = 8  # the strip lists the worst few; the feed has the rest


@dataclass
class FiringAlert:
    alert: Alert
    age: timedelta

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.alert.severity, self.alert.severity.upper())


@dataclass
class ServiceProblem:
    name: str
    title: str
    status: str  # down | degraded | stale
    reason: str
    since: datetime | None
    suppressed_by: str | None = None


@dataclass
class HostProblem:
    name: str
    level: str  # over | near | stale
    resources: list[tuple[str, float]]  # (resource, percent) at or above the near threshold
    last_sample_at: datetime | None

    @property
    def summary(self) -> str:
        if self.level == "stale":
            when = f"{self.last_sample_at:%Y-%m-%d %H:%M} UTC" if self.last_sample_at else "ever"
            return f"no sample since {when}"
        return ", ".join(f"{name} {pct:.1f}%" for name, pct in self.resources)


@dataclass
class OnCallNow:
    at: datetime
    alerts: list[FiringAlert]
    counts: dict[str, int]  # firing alerts per severity (critical, warning, info)
    unacknowledged: int
    services: list[ServiceProblem]
    hosts: list[HostProblem]
    paging_channels: list[str] = field(default_factory=list)

    @property
    def firing_total(self) -> int:
        return sum(self.counts.values())

    @property
    def nobody_paged(self) -> bool:
        return not self.paging_channels

    @property
    def more_alerts(self) -> int:
        return max(0, self.firing_total - len(self.alerts))

    @property
    def all_clear(self) -> bool:
        return not (self.firing_total or self.services or self.hosts)


def paging_channels() -> list[str]:
    """Names of the enabled channels a critical alert goes to (alerts.notify.channels_for)."""
    return list(
        Channel.objects.filter(enabled=True, on_call=True)
        .order_by("name")
        .values_list("name", flat=True)
    )


def firing_alerts(*, now: datetime) -> tuple[list[FiringAlert], dict[str, int], int]:
    rows = list(Alert.objects.active().select_related("rule", "acknowledged_by"))
    # The feed's order: most severe first, newest first within a severity.
    rows.sort(
        key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), -(a.fired_at or a.started_at).timestamp())
    )
    counts = {sev: 0 for sev in SEVERITY_ORDER}
    for a in rows:
        counts[a.severity] = counts.get(a.severity, 0) + 1
    unacked = sum(1 for a in rows if a.state == Alert.State.FIRING)
    return [FiringAlert(a, now - (a.fired_at or a.started_at)) for a in rows], counts, unacked


def service_problems(*, now: datetime) -> list[ServiceProblem]:
    services = Service.objects.select_related("parent").prefetch_related(
        Prefetch("probes", queryset=Probe.objects.filter(enabled=True).order_by("name")),
        "probes__location_results",
    )
    out = []
    for service in services:
        probes = list(service.probes.all())
        if not probes:
            continue  # not monitored: nothing to be wrong (the services page lists them)
        health = service_health(service, probes, now=now)
        if health.status in (Status.DOWN, Status.DEGRADED):
            status = health.status
        elif health.status == Status.STALE and any(p.last_run_at for p in probes):
            status = Status.STALE  # it reported before and stopped (a probe never run is not news)
        else:
            continue
        since = service.status_since if service.status == health.status else None
        out.append(
            ServiceProblem(
                service.name, str(service), status, health.reason, since, health.suppressed_by
            )
        )
    order = {"down": 0, "degraded": 1, "stale": 2}
    return sorted(out, key=lambda p: (order.get(p.status, 3), p.name))


def host_problems(*, now: datetime) -> list[HostProblem]:
    out = []
    for host in Host.objects.filter(enabled=True):
        if host.last_sample_at is None or now - host.last_sample_at > HOST_STALE_AFTER:
            out.append(HostProblem(host.name, "stale", [], host.last_sample_at))
            continue
        readings = [("CPU", host.cpu_percent), ("memory", host.memory_percent)]
        readings += [(f"disk {mount}", pct) for mount, pct in sorted((host.disks or {}).items())]
        high = [(name, pct) for name, pct in readings if pct is not None and pct >= HOST_NEAR_PCT]
        if not high:
            continue
        level = "over" if any(pct > HOST_OVER_PCT for _, pct in high) else "near"
        high.sort(key=lambda r: -r[1])
        out.append(HostProblem(host.name, level, high, host.last_sample_at))
    order = {"over": 0, "stale": 1, "near": 2}
    return sorted(out, key=lambda h: (order[h.level], h.name))


def on_call_now(*, now: datetime | None = None, limit: int = STRIP_ALERTS) -> OnCallNow:
    now = now or timezone.now()
    alerts, counts, unacked = firing_alerts(now=now)
    return OnCallNow(
        at=now,
        alerts=alerts[:limit],
        counts=counts,
        unacknowledged=unacked,
        services=service_problems(now=now),
        hosts=host_problems(now=now),
        paging_channels=paging_channels(),
    )
