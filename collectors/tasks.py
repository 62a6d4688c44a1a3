"""Celery tasks of the collectors: thin wrappers around collectors.services.

Beat sends ``run_due_probes`` every 5 s (each probe keeps its own interval) and
``dispatch_host_samples`` every 15 s, which routes ``sample_host`` to each known host's own
queue ``host-<name>`` so the sample is taken on that machine.
"""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from celery.signals import worker_ready

from collectors import services

log = logging.getLogger(__name__)

HOST_SAMPLE_INTERVAL_S = 15


@shared_task(name="collectors.run_due_probes", ignore_result=True)
def run_due_probes() -> dict:
    summary = services.run_due_probes()
    return {
        "probes": len(summary.outcomes),
        "failed": summary.failed,
        "samples": summary.samples_written,
        "changes": len(summary.status_changes),
        "elapsed_s": round(summary.elapsed_s, 3),
    }


@shared_task(name="collectors.sample_host", ignore_result=True)
def sample_host(hostname: str | None = None) -> int:
    # The task runs on the host it measures; the name it was sent for must match this machine.
    here = socket.gethostname()
    if hostname and hostname != here:
        log.warning("sample for %s arrived on %s; sampling %s", hostname, here, here)
    return len(services.sample_host(hostname=here).samples)


@shared_task(name="collectors.dispatch_host_samples", ignore_result=True)
def dispatch_host_samples() -> int:
    hosts = services.hosts_to_sample()
    for name in hosts:
        # expires: a sample that waited longer than one interval (worker down) is dropped, not
        # taken late in a burst when the worker comes back.
        sample_host.apply_async(args=[name], queue=f"host-{name}", expires=HOST_SAMPLE_INTERVAL_S)
    return len(hosts)


@worker_ready.connect
def _register_host(sender=None, **kwargs) -> None:
    """A worker starting on a machine makes that machine a sampled host."""
    try:
        services.register_worker_host(socket.gethostname())
    except Exception:  # a worker must start even if the database is briefly unreachable
        log.exception("could not register this host for sampling")
