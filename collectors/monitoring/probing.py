"""Writes of probing: running probes (at this worker's location), recording their results and
the service status changes they cause. Celery tasks, the API, admin actions and views call
these functions; tests call them directly. Host sampling is in ``hosts``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from collectors.models import Probe, ProbeLocation, RunResult, Service, Status, StatusChange
from collectors.monitoring.health import service_health
from collectors.monitoring.locations import DEFAULT_LOCATION, current_location
from collectors.monitoring.probes import ProbeResult, run_check
from collectors.store import IngestError, write_samples
from penguinmon.retention import cutoff, delete_in_batches

log = logging.getLogger(__name__)

# A probe gets this long beyond its own timeout before the runner gives up waiting for it.
TIMEOUT_GRACE_S = 1.0
MAX_WORKERS = 100
# Metrics whose catalogue labels do not include "service" (shared across services).
_NO_SERVICE_LABEL = {"celery_queue_length"}
_PER_PROBE = {"probe_up", "probe_latency_ms", "tls_cert_days_left"}


class ProbeNotHere(Exception):
    """A probe was asked to run at a location it is not tagged with."""


@dataclass
class Outcome:
    probe: Probe
    result: ProbeResult
    scheduled_at: datetime | None
    started_at: datetime
    finished_at: datetime
    location: str = DEFAULT_LOCATION
    # Where this location's schedule and result live: the probe row for the default location.
    slot: RunResult | None = None

    def __post_init__(self) -> None:
        if self.slot is None:
            self.slot = self.probe

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
    location: str = DEFAULT_LOCATION,
    slots: dict[int, RunResult] | None = None,
) -> list[Outcome]:
    """Run probes concurrently in threads; each is abandoned at its timeout plus a grace.

    ``location`` is where this process runs: each probe runs with that location's config
    overrides and previous state (``slots``: probe id -> its ProbeLocation row; the probe row
    itself for the default location).

    Probes do no database work (except the collector-lag probe, which closes its connection),
    so threads are safe. An abandoned probe's thread ends by itself when its socket timeout
    fires; the runner does not wait for it.
    """
    if not probes:
        return []
    started: dict[int, float] = {}
    started_wall: dict[int, datetime] = {}
    lock = threading.Lock()
    slots = {p.pk: (slots or {}).get(p.pk, p) for p in probes}

    def work(probe: Probe) -> ProbeResult:
        with lock:
            started[probe.pk] = time.monotonic()
            started_wall[probe.pk] = timezone.now()
        return run_check(
            probe.kind,
            probe.config_at(location),
            timeout=probe.timeout_seconds,
            state=slots[probe.pk].state,
        )

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
            location=location,
            slot=slots[p.pk],
        )
        for p in probes
    ]


def _reschedule(slot: RunResult, probe: Probe, now: datetime) -> datetime:
    """Mark ``slot`` as run now; returns when it was due (to measure scheduling lag)."""
    due = slot.next_run_at or now
    following = due + timedelta(seconds=probe.interval_seconds)
    # Keep the grid (no drift) unless we fell a whole interval behind; then restart from now.
    slot.next_run_at = (
        following if following > now else now + timedelta(seconds=probe.interval_seconds)
    )
    return due


def _runs_at(location: str) -> Q:
    """Probes tagged with ``location`` (and, for the default location, untagged ones)."""
    tagged = Q(locations__contains=[location])
    return tagged | Q(locations=[]) if location == DEFAULT_LOCATION else tagged


def sync_location_rows(location: str) -> None:
    """Give every enabled probe tagged with ``location`` its ProbeLocation row, and drop the
    rows of probes no longer tagged with it (so they stop showing a result from there)."""
    ProbeLocation.objects.filter(location=location).exclude(
        probe__locations__contains=[location]
    ).delete()
    missing = (
        Probe.objects.filter(enabled=True, locations__contains=[location])
        .exclude(location_results__location=location)
        .values_list("pk", flat=True)
    )
    ProbeLocation.objects.bulk_create(
        [ProbeLocation(probe_id=pk, location=location) for pk in missing],
        ignore_conflicts=True,  # another worker of the same location made it first
    )


def claim_due_probes(
    *, now: datetime, location: str | None = None, limit: int = 5000
) -> tuple[list[Probe], dict[int, datetime], dict[int, RunResult]]:
    """Lock and reschedule the due probes of one location in one transaction, so a second beat
    tick or worker of that location running at the same moment skips them (SKIP LOCKED)
    instead of running them twice.

    The default location's schedule is on the probe row (as before locations existed); any
    other location's is on the probe's ProbeLocation row for it. Returns the probes, per probe
    id the time it was due (to measure scheduling lag), and per probe id the row its result
    goes to.
    """
    location = location or current_location()
    if location == DEFAULT_LOCATION:
        return _claim_default(now=now, limit=limit)
    sync_location_rows(location)
    scheduled: dict[int, datetime] = {}
    with transaction.atomic():
        rows = list(
            ProbeLocation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("probe__service")
            .filter(location=location, probe__enabled=True, probe__locations__contains=[location])
            .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
            .order_by("next_run_at")[:limit]
        )
        for row in rows:
            scheduled[row.probe_id] = _reschedule(row, row.probe, now)
        ProbeLocation.objects.bulk_update(rows, ["next_run_at"])
    return [r.probe for r in rows], scheduled, {r.probe_id: r for r in rows}


def _claim_default(*, now: datetime, limit: int) -> tuple[list[Probe], dict, dict]:
    scheduled: dict[int, datetime] = {}
    with transaction.atomic():
        probes = list(
            Probe.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("service")
            .filter(_runs_at(DEFAULT_LOCATION), enabled=True)
            .filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
            .order_by("next_run_at")[:limit]
        )
        for probe in probes:
            scheduled[probe.pk] = _reschedule(probe, probe, now)
        Probe.objects.bulk_update(probes, ["next_run_at"])
    return probes, scheduled, {p.pk: p for p in probes}


def run_due_probes(
    *, now: datetime | None = None, location: str | None = None, max_workers: int = MAX_WORKERS
) -> RunSummary:
    """Run every enabled probe of ``location`` (default: this worker's) whose time has come,
    record the results and the status changes they cause."""
    began = time.monotonic()
    location = location or current_location()
    probes, scheduled, slots = claim_due_probes(now=now or timezone.now(), location=location)
    outcomes = execute(
        probes, scheduled=scheduled, max_workers=max_workers, location=location, slots=slots
    )
    summary = record_outcomes(outcomes)
    summary.elapsed_s = time.monotonic() - began
    return summary


def prune_location_rows() -> int:
    """Delete the rows of locations a probe is no longer tagged with (the table is small:
    probes x locations), so a removed location neither shows a result nor looks overdue."""
    gone = [
        pk
        for pk, location, locations in ProbeLocation.objects.values_list(
            "pk", "location", "probe__locations"
        )
        if location not in (locations or [])
    ]
    return ProbeLocation.objects.filter(pk__in=gone).delete()[0] if gone else 0


def probe_locations() -> list[str]:
    """Every location some enabled probe runs at: beat sends each one its run."""
    found: set[str] = set()
    for locations in (
        Probe.objects.filter(enabled=True).values_list("locations", flat=True).distinct()
    ):
        found.update(locations or [DEFAULT_LOCATION])
    return sorted(found)


def mark_due_at(*, probe: Probe, locations: list[str]) -> None:
    """Make ``probe`` due now at ``locations``: their workers run it at their next tick."""
    others = [loc for loc in locations if loc != DEFAULT_LOCATION]
    if DEFAULT_LOCATION in locations:
        Probe.objects.filter(pk=probe.pk).update(next_run_at=None)
    for location in others:
        ProbeLocation.objects.update_or_create(
            probe=probe, location=location, defaults={"next_run_at": None}
        )


def run_probe(*, probe: Probe, location: str | None = None) -> Outcome:
    """Run one probe now (the API's and admin's "run now"), whatever its schedule, from this
    process's location. A probe not tagged with that location is not measured from here (the
    answer would come from the wrong vantage point): it is made due at its own locations and
    ``ProbeNotHere`` says so."""
    location = location or current_location()
    if location not in probe.run_locations:
        mark_due_at(probe=probe, locations=probe.run_locations)
        raise ProbeNotHere(
            f"{probe} runs at {', '.join(probe.run_locations)}, not here ({location}): "
            "it is due now there and runs at those workers' next tick"
        )
    slots: dict[int, RunResult] = {}
    if location != DEFAULT_LOCATION:
        slots[probe.pk], _ = ProbeLocation.objects.get_or_create(probe=probe, location=location)
    outcome = execute([probe], location=location, slots=slots)[0]
    record_outcomes([outcome])
    return outcome


# ---------------------------------------------------------------------------------- recording


def _samples_for(outcome: Outcome) -> list[dict]:
    probe, result = outcome.probe, outcome.result
    service = probe.service.name
    ts = outcome.finished_at
    base = {"service": service, "probe": probe.name}
    # A probe tagged with locations labels every sample with where it was measured; an
    # untagged one keeps writing the series it always wrote (its history stays one line).
    where = {"location": outcome.location} if probe.multi_location else {}
    base.update(where)
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
            labels = {**metric.labels, **where}
        else:
            labels = {"service": service, **metric.labels, **where}
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
        outcome.probe,
        slim,
        outcome.scheduled_at,
        outcome.started_at,
        outcome.finished_at,
        outcome.location,
        outcome.slot,
    )


def apply_result(slot: RunResult, result: ProbeResult, at: datetime, *, runs: int = 1) -> None:
    """Record a run's result on its schedule/result row, in memory. ``runs``: how many
    identical runs it stands for (a history replayed at a coarser step than the probe's
    interval); a failure adds that many to the run of failures."""
    slot.last_run_at = at
    slot.last_ok = result.ok
    slot.last_degraded = result.degraded
    slot.last_latency_ms = result.latency_ms
    slot.last_message = (result.message or ("ok" if result.ok else "failed"))[:500]
    slot.last_details = orjson.loads(orjson.dumps(result.details, default=str))
    slot.consecutive_failures = 0 if result.ok else slot.consecutive_failures + runs
    slot.state = orjson.loads(orjson.dumps(result.state, default=str))


def judge_service(
    service: Service, probes: list[Probe], *, now: datetime, parent_status: str | None
) -> tuple[str, str]:
    """(status, reason) of a service from its enabled probes' rows, as stored on the service."""
    health = service_health(service, probes, now=now, parent_status=parent_status)
    reason = (
        health.reason
        if not health.suppressed_by
        else f"{health.reason} (parent {health.suppressed_by} is down)"
    )
    return health.status, reason[:500]


def replay_history(
    runs: Iterable[tuple[datetime, dict[int, tuple[ProbeResult, int]]]],
    *,
    services: list[Service],
) -> list[StatusChange]:
    """The status changes a history of probe results causes, derived in memory by the live
    path's own steps: at each moment, each probe's result is recorded on its row
    (``apply_result``) and every service is judged (``judge_service``), parents first.

    ``runs``: (moment, {probe id: (result, runs it stands for)}) in time order; ``services``
    with their probes prefetched. Returns unsaved StatusChange rows in order; the services
    end with their last status and the probes with their last result (nothing is written).
    """
    probes_of = {s.pk: [p for p in s.probes.all() if p.enabled] for s in services}
    probe_by_id = {p.pk: p for probes in probes_of.values() for p in probes}
    by_id = {s.pk: s for s in services}
    ordered = sorted(services, key=lambda s: s.parent_id is not None)
    changes: list[StatusChange] = []
    for at, results in runs:
        for probe_id, (result, count) in results.items():
            apply_result(probe_by_id[probe_id], result, at, runs=count)
        for service in ordered:
            parent = by_id.get(service.parent_id)
            status, reason = judge_service(
                service,
                probes_of[service.pk],
                now=at,
                parent_status=parent.status if parent else None,
            )
            if status != service.status:
                changes.append(
                    StatusChange(
                        service=service,
                        at=at,
                        old_status=service.status,
                        new_status=status,
                        reason=reason,
                    )
                )
                service.status, service.status_since = status, at
            service.status_reason = reason
    return changes


def record_outcomes(outcomes: list[Outcome]) -> RunSummary:
    summary = RunSummary(outcomes=outcomes)
    if not outcomes:
        return summary
    summary.samples_written = _write_metrics(outcomes)
    for o in outcomes:
        apply_result(o.slot, o.result, o.finished_at)
    probe_rows = [o.slot for o in outcomes if isinstance(o.slot, Probe)]
    location_rows = [o.slot for o in outcomes if isinstance(o.slot, ProbeLocation)]
    if probe_rows:
        Probe.objects.bulk_update(probe_rows, list(RunResult.RESULT_FIELDS))
    if location_rows:
        ProbeLocation.objects.bulk_update(location_rows, list(RunResult.RESULT_FIELDS))
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
    services = list(
        Service.objects.select_related("parent").prefetch_related("probes__location_results")
    )
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
        status, reason = judge_service(service, probes, now=now, parent_status=parent_status)
        if status == service.status:
            if reason != service.status_reason:
                Service.objects.filter(pk=service.pk).update(status_reason=reason[:500])
            continue
        # The new status and its StatusChange row land together or not at all: uptime % is
        # computed from the changes, so a status without its change would skew it.
        with transaction.atomic():
            won = Service.objects.filter(pk=service.pk, status=service.status).update(
                status=status, status_since=now, status_reason=reason
            )
            if won:
                changes.append(
                    StatusChange.objects.create(
                        service=service,
                        at=now,
                        old_status=service.status,
                        new_status=status,
                        reason=reason,
                    )
                )
        if won:
            service.status = status
    return changes


def prune_history(*, now: datetime | None = None) -> dict[str, int]:
    """Status changes older than ``RETENTION_STATUS_CHANGES_DAYS``, except each service's
    latest one: uptime over any window starts from the status the service was in."""
    latest = StatusChange.objects.filter(service=OuterRef("service")).order_by("-at", "-pk")
    old = StatusChange.objects.filter(
        at__lt=cutoff(settings.RETENTION_STATUS_CHANGES_DAYS, now)
    ).exclude(pk=Subquery(latest.values("pk")[:1]))
    return {"status_changes": delete_in_batches(old)}


__all__ = [
    "ProbeNotHere",
    "probe_locations",
    "run_due_probes",
    "run_probe",
    "execute",
    "refresh_service_status",
    "replay_history",
    "Status",
]
