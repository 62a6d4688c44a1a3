"""Celery tasks: thin wrappers around reputation.services, carrying ids only."""

from __future__ import annotations

import logging

from celery import shared_task

from penguinmon.queues import redis_client
from reputation import services

log = logging.getLogger(__name__)

CHECK_LOCK = "penguinmon:reputation:check"


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660)
def check_reputation(ip_ids: list[int] | None = None, run_id: int | None = None) -> dict:
    """Check ``ip_ids`` (None: every IP and domain, plus sender DNS); ``run_id`` is the
    CheckRun a page or API request queued, whose status the run keeps up to date."""
    # A full run is bounded by the per-query timeout, but a slow resolver plus a manual
    # "check all" could overlap with beat; the lock keeps two full runs from racing.
    lock = redis_client().lock(CHECK_LOCK, timeout=660, blocking=False)
    if ip_ids is None and not lock.acquire(blocking=False):
        log.info("a reputation check is already running; skipping")
        services.skip_queued_check(run_id)
        return {"skipped": True}
    try:
        return services.run_queued_check(run_id=run_id, ip_ids=ip_ids)
    finally:
        if ip_ids is None:
            try:
                lock.release()
            except Exception:  # expired meanwhile: nothing to release
                log.warning("reputation check lock expired before release")


@shared_task(ignore_result=True)
def prune_reputation_history() -> dict:
    return services.prune_history()
