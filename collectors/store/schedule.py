"""Metric store upkeep (merged into the beat schedule by penguinmon.celery_settings)."""

BEAT_SCHEDULE: dict = {
    "store-rollup": {"task": "collectors.store.rollup", "schedule": 15.0},
    "store-partitions": {"task": "collectors.store.maintain_partitions", "schedule": 3600.0},
    # Does nothing unless REMOTE_WRITE_FORWARD_URL is set.
    "store-forward": {"task": "collectors.store.forward", "schedule": 5.0},
    "store-prune-series": {"task": "collectors.store.prune_idle_series", "schedule": 3600.0},
}
