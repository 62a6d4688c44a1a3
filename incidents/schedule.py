"""Periodic tasks of the incidents app (merged into the beat schedule by penguinmon.celery_settings)."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict = {
    # Retention of deployments (RETENTION_DEPLOYMENTS_DAYS): once a day, off-peak.
    "incidents-prune-history": {
        "task": "incidents.prune_history",
        "schedule": crontab(hour=3, minute=40),
    },
    # Open incidents with no update for INCIDENT_UPDATE_REMINDER_MINUTES remind their owner.
    "incidents-remind-owners": {"task": "incidents.tasks.remind_incident_owners", "schedule": 60.0},
}
