"""Metric store upkeep (merged into the beat schedule by penguinmon.celery_settings)."""

BEAT_SCHEDULE: dict = {
    "store-rollup": {"task": "collectors.store.rollup", "schedule": 15.0},
    "store-partitions": {"task": "collectors.store.maintain_partitions", "schedule": 3600.0},
}
