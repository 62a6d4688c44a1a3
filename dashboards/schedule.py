"""Periodic tasks of the dashboards app (merged into the beat schedule by penguinmon.celery_settings)."""

BEAT_SCHEDULE: dict = {
    # Reports are sent on the hour they are set for; a 5-minute tick sends them within 5
    # minutes of it and retries a failed send 5 minutes later.
    "dashboards-send-due-reports": {
        "task": "dashboards.tasks.send_due_reports",
        "schedule": 300.0,
    },
}
