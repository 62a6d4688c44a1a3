"""Reads for the services page and API: health grid rows, a service's detail and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from collectors.models import Host, Probe, Service, StatusChange
from collectors.monitoring.health import (
    LocationResult,
    ProbeVerdict,
    probe_verdict,
    uptimes,
    uptimes_for,
)
from collectors.store.query import series_query

HISTORY_RANGES = {
    "24h": (timedelta(hours=24), 60),
    "7d": (timedelta(days=7), 900),
    "30d": (timedelta(days=30), 3600),
    "90d": (timedelta(days=90), 3 * 3600),
}


def _bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _fmt(value, suffix: str = "", digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def highlights(probe: Probe) -> list[tuple[str, str]]:
    """The few numbers the seed's status cards show for this kind of probe, from its last run."""
    d = probe.last_details
    if not d:
        return []  # never ran: dashes would read as measured zeros
    match probe.kind:
        case "smtp":
            return [
                ("Queue backlog", _fmt(d.get("queue_size"))),
                ("STARTTLS", "offered" if d.get("starttls") else "not offered"),
            ]
        case "postgres":
            return [
                ("Connection pool", _fmt(d.get("pool_utilisation_pct"), " %", 1)),
                ("Query latency", _fmt(d.get("select1_ms"), " ms", 1)),
                ("Size", _bytes(d.get("size_bytes"))),
            ]
        case "redis" if "queues" in d:
            return [("Queued tasks", _fmt(sum(d["queues"].values())))]
        case "redis":
            return [
                ("Hit rate", _fmt(d.get("hit_rate_pct"), " %", 1)),
                ("Memory", _fmt(d.get("memory_pct"), " %", 2)),
            ]
        case "elasticsearch":
            return [
                ("Cluster", d.get("status", "–")),
                ("Unassigned shards", _fmt(d.get("unassigned_shards"))),
                ("Indexing", _fmt(d.get("indexing_rate"), " docs/s", 1)),
            ]
        case "clickhouse":
            return [
                ("Query latency", _fmt(d.get("query_ms"), " ms", 1)),
                ("Storage", _bytes(d.get("storage_bytes"))),
            ]
        case "lag":
            return [("Probe lag", _fmt(d.get("probe_lag_s"), " s", 1))]
        case "prometheus":
            return [("Samples", _fmt(d.get("samples")))]
        case "http" if d.get("tls_cert_days_left") is not None:
            return [("TLS certificate", _fmt(d.get("tls_cert_days_left"), " days left"))]
    return []


@dataclass
class ProbeRow:
    probe: Probe
    status: str
    reason: str
    highlights: list[tuple[str, str]]
    verdict: ProbeVerdict | None = None

    @property
    def locations(self) -> list[LocationResult]:
        """Per-location last results; empty for a probe without locations."""
        return self.verdict.locations if self.verdict and self.probe.multi_location else []

    @property
    def k_of_n(self) -> str:
        """ "1 of 3 locations down (down at 2)" for a probe tagged with several locations."""
        v = self.verdict
        if v is None or v.n < 2:
            return ""
        return f"{len(v.failing)} of {v.n} locations down (down at {v.k})"


@dataclass
class ServiceRow:
    service: Service
    uptime: dict[str, float | None]
    probes: list[ProbeRow] = field(default_factory=list)
    last_run_at: datetime | None = None
    latency_ms: float | None = None
    # Last known numbers of every probe, disabled ones included (their last run still says something).
    highlights: list[tuple[str, str]] = field(default_factory=list)


def _row(
    service: Service, now: datetime, uptime: dict[str, float | None] | None = None
) -> ServiceRow:
    probes = [p for p in service.probes.all() if p.enabled]
    verdicts = [probe_verdict(p, service, now=now) for p in probes]
    rows = [
        ProbeRow(p, v.status, v.reason, highlights(p), v)
        for p, v in zip(probes, verdicts, strict=True)
    ]
    # Every location's last result counts (the default location's is the probe row itself).
    results = [loc.result for v in verdicts for loc in v.locations]
    runs = [r.last_run_at for r in results if r.last_run_at]
    latencies = [r.last_latency_ms for r in results if r.last_latency_ms is not None]
    return ServiceRow(
        service=service,
        uptime=uptime if uptime is not None else uptimes(service, now=now),
        probes=rows,
        last_run_at=max(runs) if runs else None,
        latency_ms=max(latencies) if latencies else None,
        highlights=[h for p in service.probes.all() for h in highlights(p)],
    )


def service_row(service: Service, *, now: datetime | None = None) -> ServiceRow:
    return _row(service, now or timezone.now())


def services_overview(*, now: datetime | None = None) -> list[ServiceRow]:
    """Every service with its status, uptime % per window and its probes' latest results."""
    now = now or timezone.now()
    services = Service.objects.select_related("parent").prefetch_related(
        Prefetch("probes", queryset=Probe.objects.order_by("name")), "probes__location_results"
    )
    services = list(services)
    # One batch for every service's uptime: per-service reads made the page N+1.
    uptime = uptimes_for(services, now=now)
    return [_row(s, now, uptime[s.pk]) for s in services]


def services_list() -> list[Service]:
    """Every service in grid order (for reports and other apps' listings)."""
    return list(Service.objects.order_by("position", "name"))


def service_names() -> list[str]:
    """Names of the registered services (each has a page at /services/<name>/)."""
    return list(Service.objects.order_by("name").values_list("name", flat=True))


def service_by_name(name: str) -> Service | None:
    return (
        Service.objects.select_related("parent")
        .prefetch_related(
            Prefetch("probes", queryset=Probe.objects.order_by("name")),
            "probes__location_results",
        )
        .filter(name=name)
        .first()
    )


@dataclass
class ServiceDetail:
    row: ServiceRow
    changes: list[StatusChange]
    all_probes: list[Probe]
    latency: dict[str, list[tuple[datetime, float]]]  # probe name -> points
    availability: dict[
        str, list[tuple[datetime, float]]
    ]  # probe name -> share of successful runs, %
    range_label: str
    start: datetime
    end: datetime


def _trace_name(labels: dict) -> str:
    """A chart line's name: the probe, and where it was measured from when tagged."""
    probe = labels.get("probe", "?")
    return f"{probe} @ {labels['location']}" if labels.get("location") else probe


def service_detail(
    *, service: Service, range_label: str = "24h", now: datetime | None = None
) -> ServiceDetail:
    now = now or timezone.now()
    span, step = HISTORY_RANGES.get(range_label, HISTORY_RANGES["24h"])
    start = now - span

    def per_probe(metric: str) -> dict[str, list]:
        result = series_query(
            metric=metric,
            labels={"service": service.name},
            start=start,
            end=now,
            step=step,
            agg="avg",
        )
        return {_trace_name(s.labels): s.points for s in result.series}

    latency = per_probe("probe_latency_ms")
    availability = {
        name: [(ts, round(100 * v, 2)) for ts, v in points]
        for name, points in per_probe("probe_up").items()
    }
    changes = list(
        service.status_changes.filter(at__gte=now - timedelta(days=90)).order_by("-at")[:100]
    )
    return ServiceDetail(
        row=_row(service, now),
        changes=changes,
        all_probes=list(service.probes.all()),
        latency=latency,
        availability=availability,
        range_label=range_label,
        start=start,
        end=now,
    )


def probes_list(
    *, service: str | None = None, kind: str | None = None, enabled: bool | None = None
) -> list[Probe]:
    qs = Probe.objects.select_related("service").order_by(
        "service__position", "service__name", "name"
    )
    wanted = {"service__name": service or None, "kind": kind or None, "enabled": enabled}
    return list(qs.filter(**{k: v for k, v in wanted.items() if v is not None}))


def hosts_list() -> list[Host]:
    return list(Host.objects.all())
