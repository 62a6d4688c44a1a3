"""Writes of the collectors' monitoring side: running probes, recording their results and the
service status changes they cause, and sampling hosts. Celery tasks, the API, admin actions
and the collect_host command call these functions; tests call them directly.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from collectors import host as host_sampler
from collectors.health import service_health
from collectors.models import Host, Probe, Service, Status, StatusChange
from collectors.probes import ProbeResult, run_check
from collectors.store import IngestError, write_samples

log = logging.getLogger(__name__)

# A probe gets this long beyond its own timeout before the runner gives up waiting for it.
TIMEOUT_GRACE_S = 1.0
MAX_WORKERS = 100
# Metrics whose catalogue labels do not include "service" (shared across services).
_NO_SERVICE_LABEL = {"celery_queue_length"}
_PER_PROBE = {"probe_up", "probe_latency_ms", "tls_cert_days_left"}


@dataclass
class Outcome:
    probe: Probe
    result: ProbeResult
    scheduled_at: datetime | None
    started_at: datetime
    finished_at: datetime

    @property
    def lag_s(self) -> float:
        """How late the probe started against its schedule."""
        if self.scheduled_at is None:
            return 0.0
        return max(0.0, (self.started_at - self.scheduled_at).total_seconds())


@dataclass
class RunSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    samples_written: int = 0
    status_changes: list[StatusChange] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def failed(self) -> int:
        return sum(not o.result.ok for o in self.outcomes)


# ---------------------------------------------------------------------------------- running


def execute(
    probes: list[Probe],
    *,
    scheduled: dict[int, datetime] | None = None,
    max_workers: int = MAX_WORKERS,
) -> list[Outcome]:
    """Run probes concurrently in threads; each is abandoned at its timeout plus a grace.

    Probes do no database work (except the collector-lag probe, which closes its connection),
    so threads are safe. An abandoned probe's thread ends by itself when its socket timeout
    fires; the runner does not wait for it.
    """
    if not probes:
        return []
    started: dict[int, float] = {}
    started_wall: dict[int, datetime] = {}
    lock = threading.Lock()

    def work(probe: Probe) -> ProbeResult:
        with lock:
            started[probe.pk] = time.monotonic()
            started_wall[probe.pk] = timezone.now()
        return run_check(probe.kind, probe.config, timeout=probe.timeout_seconds, state=probe.state)

    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(probes)), thread_name_prefix="probe")
    futures: dict[Future, Probe] = {pool.submit(work, p): p for p in probes}
    results: dict[int, tuple[ProbeResult, datetime]] = {}
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                probe = futures[future]
                try:
                    results[probe.pk] = (future.result(), timezone.now())
                except Exception as exc:  # run_check never raises; this is belt and braces
                    results[probe.pk] = (
                        ProbeResult.failure(f"probe crashed: {exc!r}"),
                        timezone.now(),
                    )
            now_mono = time.monotonic()
            for future in list(pending):
                probe = futures[future]
                with lock:
                    began = started.get(probe.pk)
                if began is not None and now_mono - began > probe.timeout_seconds + TIMEOUT_GRACE_S:
                    pending.discard(future)
                    future.cancel()
                    results[probe.pk] = (
                        ProbeResult.failure(
                            f"timed out after {probe.timeout_seconds:g} s (no answer)",
                            latency_ms=round((now_mono - began) * 1000, 1),
                        ),
                        timezone.now(),
                    )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [
        Outcome(
            probe=p,
            result=results[p.pk][0],
            scheduled_at=(scheduled or {}).get(p.pk),
            started_at=started_wall.get(p.pk, results[p.pk][1]),
            finished_at=results[p.pk][1],
        )
        for p in probes
    ]


def claim_due_probes(
    *, now: datetime, location: str | None = None, limit: int = 5000
) -> tuple[list[Probe], dict[int, datetime]]:
    """Lock and reschedule the due probes in one transaction, so a second beat tick or worker
    running at the same moment skips them (SKIP LOCKED) instead of running them twice.

    Returns the probes and, per probe id, the time it was due (to measure scheduling lag).
    """
    scheduled: dict[int, datetime] = {}
    with transaction.atomic():
        qs = (
            Probe.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("service")
            .filter(enabled=True)
            .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
        )
        if location:
            qs = qs.filter(location=location)
        probes = list(qs.order_by("next_run_at")[:limit])
        for probe in probes:
            due = scheduled[probe.pk] = probe.next_run_at or now
            following = due + timedelta(seconds=probe.interval_seconds)
            # Keep the grid (no drift) unless we fell a whole interval behind; then restart from now.
            probe.next_run_at = (
                following if following > now else now + timedelta(seconds=probe.interval_seconds)
            )
        Probe.objects.bulk_update(probes, ["next_run_at"])
    return probes, scheduled


def run_due_probes(
    *, now: datetime | None = None, location: str | None = None, max_workers: int = MAX_WORKERS
) -> RunSummary:
    """Run every enabled probe whose time has come, record results and status changes."""
    began = time.monotonic()
    probes, scheduled = claim_due_probes(now=now or timezone.now(), location=location)
    summary = record_outcomes(execute(probes, scheduled=scheduled, max_workers=max_workers))
    summary.elapsed_s = time.monotonic() - began
    return summary


def run_probe(*, probe: Probe) -> Outcome:
    """Run one probe now (the API's and admin's "run now"), whatever its schedule."""
    outcome = execute([probe])[0]
    record_outcomes([outcome])
    return outcome


# ---------------------------------------------------------------------------------- recording


def _samples_for(outcome: Outcome) -> list[dict]:
    probe, result = outcome.probe, outcome.result
    service = probe.service.name
    ts = outcome.finished_at
    base = {"service": service, "probe": probe.name}
    items = [{"metric": "probe_up", "labels": base, "value": 1.0 if result.ok else 0.0, "ts": ts}]
    if result.latency_ms is not None:
        items.append(
            {
                "metric": "probe_latency_ms",
                "labels": base,
                "value": result.latency_ms,
                "ts": ts,
                "unit": "ms",
            }
        )
    for metric in result.metrics:
        if metric.name in _PER_PROBE:
            labels = {**base, **metric.labels}
        elif metric.name in _NO_SERVICE_LABEL:
            labels = dict(metric.labels)
        else:
            labels = {"service": service, **metric.labels}
        items.append({"metric": metric.name, "labels": labels, "value": metric.value, "ts": ts})
    return items


def _write_metrics(outcomes: list[Outcome]) -> int:
    batch = [item for o in outcomes for item in _samples_for(o)]
    try:
        return write_samples(batch, source="probes")
    except IngestError:
        pass  # one probe produced something the store refuses: write probe by probe below
    written = 0
    for outcome in outcomes:
        try:
            written += write_samples(_samples_for(outcome), source="probes")
        except IngestError as exc:
            outcome.result.message = f"{outcome.result.message}; metrics not stored: {exc}"[:500]
            written += write_samples(_samples_for(_core_only(outcome)), source="probes")
    return written


def _core_only(outcome: Outcome) -> Outcome:
    r = outcome.result
    slim = ProbeResult(ok=r.ok, latency_ms=r.latency_ms, message=r.message)
    return Outcome(
        outcome.probe, slim, outcome.scheduled_at, outcome.started_at, outcome.finished_at
    )


def record_outcomes(outcomes: list[Outcome]) -> RunSummary:
    summary = RunSummary(outcomes=outcomes)
    if not outcomes:
        return summary
    summary.samples_written = _write_metrics(outcomes)
    for o in outcomes:
        p, r = o.probe, o.result
        p.last_run_at = o.finished_at
        p.last_ok = r.ok
        p.last_degraded = r.degraded
        p.last_latency_ms = r.latency_ms
        p.last_message = (r.message or ("ok" if r.ok else "failed"))[:500]
        p.last_details = orjson.loads(orjson.dumps(r.details, default=str))
        p.consecutive_failures = 0 if r.ok else p.consecutive_failures + 1
        p.state = orjson.loads(orjson.dumps(r.state, default=str))
    Probe.objects.bulk_update(
        [o.probe for o in outcomes],
        [
            "last_run_at",
            "last_ok",
            "last_degraded",
            "last_latency_ms",
            "last_message",
            "last_details",
            "consecutive_failures",
            "state",
        ],
    )
    service_ids = {o.probe.service_id for o in outcomes}
    summary.status_changes = refresh_service_status(service_ids=service_ids)
    return summary


def refresh_service_status(
    *, service_ids: set[int] | None = None, now: datetime | None = None
) -> list[StatusChange]:
    """Recompute the status of the given services (all when None) and record changes.

    Parents are evaluated before children so a child's suppression sees the parent's new status.
    The write is a compare-and-set on the old status: two runners finishing together record one
    change, not two.
    """
    now = now or timezone.now()
    services = list(Service.objects.select_related("parent").prefetch_related("probes"))
    by_id = {s.pk: s for s in services}
    if service_ids is not None:
        wanted = set(service_ids) | {s.pk for s in services if s.parent_id in service_ids}
    else:
        wanted = set(by_id)
    changes = []
    for service in sorted(
        (by_id[i] for i in wanted if i in by_id), key=lambda s: s.parent_id is not None
    ):
        probes = [p for p in service.probes.all() if p.enabled]
        parent_status = by_id[service.parent_id].status if service.parent_id in by_id else None
        health = service_health(service, probes, now=now, parent_status=parent_status)
        reason = (
            health.reason
            if not health.suppressed_by
            else f"{health.reason} (parent {health.suppressed_by} is down)"
        )
        if health.status == service.status:
            if reason != service.status_reason:
                Service.objects.filter(pk=service.pk).update(status_reason=reason[:500])
            continue
        # The new status and its StatusChange row land together or not at all: uptime % is
        # computed from the changes, so a status without its change would skew it.
        with transaction.atomic():
            won = Service.objects.filter(pk=service.pk, status=service.status).update(
                status=health.status, status_since=now, status_reason=reason[:500]
            )
            if won:
                changes.append(
                    StatusChange.objects.create(
                        service=service,
                        at=now,
                        old_status=service.status,
                        new_status=health.status,
                        reason=reason[:500],
                    )
                )
        if won:
            service.status = health.status
    return changes


# ---------------------------------------------------------------------------------- hosts

HOST_COUNTERS_TTL_S = 600


def _counters_key(name: str) -> str:
    return f"penguinmon:host-counters:{name}"


def sample_host(
    *,
    hostname: str | None = None,
    previous: dict | None = None,
    keep_counters_in_redis: bool = True,
    has_worker: bool = True,
) -> host_sampler.HostSample:
    """Sample this machine, write the samples, update its Host row; returns the sample.

    The rate counters live in Redis (Celery prefork children do not share memory); the
    collect_host command passes ``previous`` itself and keeps them in memory instead.
    """
    from collectors.queues import redis_client

    name = hostname or socket.gethostname()
    if keep_counters_in_redis and previous is None:
        raw = redis_client().get(_counters_key(name))
        previous = orjson.loads(raw) if raw else None
    sample = host_sampler.sample(name, previous)
    if keep_counters_in_redis:
        redis_client().set(
            _counters_key(name), orjson.dumps(sample.counters), ex=HOST_COUNTERS_TTL_S
        )
    write_samples(sample.samples, source="host")
    record_host_snapshot(sample, has_worker=has_worker)
    return sample


def record_host_snapshot(sample: host_sampler.HostSample, *, has_worker: bool = False) -> None:
    """Update the host's row in place (created on its first sample)."""
    fields = {
        "last_sample_at": sample.ts,
        "cpu_percent": sample.cpu_percent,
        "memory_percent": sample.memory_percent,
        "process_count": sample.process_count,
        "top_cpu": sample.top_cpu,
        "top_memory": sample.top_memory,
        "disks": sample.disks,
    }
    if not Host.objects.filter(name=sample.host).update(**fields):
        Host.objects.get_or_create(name=sample.host, defaults={**fields, "has_worker": has_worker})


def register_worker_host(name: str) -> Host:
    """A worker consuming ``host-<name>`` started: make sure beat sends that host samples."""
    host, _ = Host.objects.get_or_create(name=name, defaults={"has_worker": True})
    if not host.has_worker:
        Host.objects.filter(pk=host.pk).update(has_worker=True)
    return host


def hosts_to_sample() -> list[str]:
    """Hosts with a worker of their own: beat sends each one the sample task on its queue."""
    return list(Host.objects.filter(enabled=True, has_worker=True).values_list("name", flat=True))


def ensure_default_services() -> int:
    from collectors.defaults import create_defaults

    return create_defaults(Service, Probe)


__all__ = [
    "run_due_probes",
    "run_probe",
    "sample_host",
    "execute",
    "refresh_service_status",
    "Status",
]
