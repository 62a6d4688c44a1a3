"""Periodic tasks of the collectors app (merged into the beat schedule by penguinmon.celery_settings)."""

BEAT_SCHEDULE: dict = {
    # Each probe has its own interval (Probe.interval_seconds); this tick only looks for due ones,
    # so the worst scheduling lag is one tick.
    "collectors.run_due_probes": {
        "task": "collectors.run_due_probes",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    "collectors.dispatch_host_samples": {
        "task": "collectors.dispatch_host_samples",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
}
