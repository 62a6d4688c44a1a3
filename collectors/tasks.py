"""Celery tasks of the collectors: thin wrappers around collectors.monitoring.probing and .hosts.

Beat sends ``dispatch_probe_runs`` every 5 s (each probe keeps its own interval), which sends
one ``run_due_probes`` per probe location to that location's queue ``probes-<location>``, so
each location's worker runs its own probes; and ``dispatch_host_samples`` every 15 s, which
routes ``sample_host`` to each known host's own queue ``host-<name>`` so the sample is taken
on that machine.
"""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from celery.signals import worker_ready

from collectors import security
from collectors.monitoring import hosts, probing
from collectors.monitoring.locations import current_location, queue_for

log = logging.getLogger(__name__)

HOST_SAMPLE_INTERVAL_S = 15
PROBE_TICK_S = 5


@shared_task(name="collectors.run_due_probes", ignore_result=True)
def run_due_probes(location: str | None = None) -> dict:
    here = current_location()
    if location and location != here:
        # A run measured from the wrong place would be recorded as that location's result.
        log.warning("probe run for location %s arrived at %s; not run", location, here)
        return {"probes": 0, "skipped_for": location}
    summary = probing.run_due_probes(location=here)
    return {
        "probes": len(summary.outcomes),
        "failed": summary.failed,
        "samples": summary.samples_written,
        "changes": len(summary.status_changes),
        "elapsed_s": round(summary.elapsed_s, 3),
    }


@shared_task(name="collectors.dispatch_probe_runs", ignore_result=True)
def dispatch_probe_runs() -> int:
    probing.prune_location_rows()
    locations = probing.probe_locations()
    for location in locations:
        # expires: a run that waited a whole tick (that location's worker is down) is dropped;
        # the next tick's run picks up every probe that fell due meanwhile.
        run_due_probes.apply_async(args=[location], queue=queue_for(location), expires=PROBE_TICK_S)
    return len(locations)


@shared_task(name="collectors.refresh_service_status", ignore_result=True)
def refresh_service_status() -> int:
    # Probe runs refresh the services they touch; this catches the ones no run touches any
    # more (probe disabled, worker gone), which turn "not monitored" / "stale".
    return len(probing.refresh_service_status())


@shared_task(name="collectors.sample_host", ignore_result=True)
def sample_host(hostname: str | None = None) -> int:
    # The task runs on the host it measures; the name it was sent for must match this machine.
    here = socket.gethostname()
    if hostname and hostname != here:
        log.warning("sample for %s arrived on %s; sampling %s", hostname, here, here)
    return len(hosts.sample_host(hostname=here).samples)


@shared_task(name="collectors.dispatch_host_samples", ignore_result=True)
def dispatch_host_samples() -> int:
    names = hosts.hosts_to_sample()
    for name in names:
        # expires: a sample that waited longer than one interval (worker down) is dropped, not
        # taken late in a burst when the worker comes back.
        sample_host.apply_async(args=[name], queue=f"host-{name}", expires=HOST_SAMPLE_INTERVAL_S)
    return len(names)


@worker_ready.connect
def _register_host(sender=None, **kwargs) -> None:
    """A worker starting on a machine makes that machine a sampled host."""
    try:
        hosts.register_worker_host(socket.gethostname())
    except Exception:  # a worker must start even if the database is briefly unreachable
        log.exception("could not register this host for sampling")


@shared_task(name="collectors.prune_history", ignore_result=True)
def prune_history() -> dict:
    return probing.prune_history()


@shared_task(name="collectors.flush_security_counts", ignore_result=True)
def flush_security_counts() -> int:
    return security.flush_counts()
