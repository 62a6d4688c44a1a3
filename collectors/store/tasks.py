from celery import shared_task

from collectors.store import forward, partitions, rollups, series


@shared_task(name="collectors.store.rollup")
def rollup() -> dict:
    return rollups.run_rollups()


@shared_task(name="collectors.store.maintain_partitions")
def maintain_partitions() -> dict:
    """Create the coming days' partitions and drop the ones past retention."""
    created = partitions.create_ahead(days_ahead=3)
    dropped = partitions.drop_expired()
    return {"days_ensured": created, "dropped": dropped}


@shared_task(name="collectors.store.forward")
def forward_samples() -> dict:
    """Send queued samples to REMOTE_WRITE_FORWARD_URL (see collectors/store/forward.py)."""
    return forward.drain()


@shared_task(name="collectors.store.prune_idle_series")
def prune_idle_series() -> int:
    return series.prune_idle_series()
