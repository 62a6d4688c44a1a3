"""Periodic tasks of the penguinmon app (merged into the beat schedule by celery_settings)."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Retention of the audit log, login records and sessions: once a day, off-peak.
    "penguinmon-prune-history": {
        "task": "penguinmon.prune_history",
        "schedule": crontab(hour=3, minute=10),
    },
}
