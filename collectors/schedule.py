"""Periodic tasks of the collectors app (merged into the beat schedule by penguinmon.celery_settings)."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Each probe has its own interval (Probe.interval_seconds); this tick sends each location's
    # worker (queue probes-<location>) a run that only looks for due ones, so the worst
    # scheduling lag is one tick. The entry keeps its old name so the database scheduler
    # updates the existing row instead of keeping a second, stale one.
    "collectors.run_due_probes": {
        "task": "collectors.dispatch_probe_runs",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    # A service whose probes stopped reporting turns stale within one tick of the third
    # missed interval, even though no run touches it.
    "collectors.refresh_service_status": {
        "task": "collectors.refresh_service_status",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    # Security events counted in Redis become samples (collectors.security).
    "collectors.flush_security_counts": {
        "task": "collectors.flush_security_counts",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    "collectors.dispatch_host_samples": {
        "task": "collectors.dispatch_host_samples",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    # Retention of status changes (RETENTION_STATUS_CHANGES_DAYS): once a day, off-peak.
    "collectors.prune_history": {
        "task": "collectors.prune_history",
        "schedule": crontab(hour=3, minute=20),
    },
}
