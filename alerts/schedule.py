"""Periodic tasks of the alerts app (merged into the beat schedule by penguinmon.celery_settings)."""

import os

from celery.schedules import crontab

# The digest goes out at a fixed UTC hour (default 08:00), not 24 h after beat happened to start.
DIGEST_HOUR_UTC = int(os.environ.get("ALERTS_DIGEST_HOUR_UTC", "8"))

BEAT_SCHEDULE: dict = {
    # Same cadence as collection (seed: 15 s interval).
    "alerts-evaluate": {"task": "alerts.tasks.evaluate_rules", "schedule": 15.0},
    # Notification groups: group_wait is 30 s, so a 5 s tick sends a new group within 35 s.
    "alerts-flush-groups": {
        "task": "alerts.tasks.flush_notification_groups",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    # Notifications whose hand-over to the queue failed (Redis down) or whose task was lost.
    "alerts-outbox": {
        "task": "alerts.tasks.drain_outbox",
        "schedule": 15.0,
        "options": {"expires": 15},
    },
    "alerts-escalate": {"task": "alerts.tasks.escalate_alerts", "schedule": 30.0},
    "alerts-repeat": {"task": "alerts.tasks.send_repeat_notifications", "schedule": 300.0},
    # Info alerts are for the "daily review" (seed 000 §6): one digest a day.
    "alerts-info-digest": {
        "task": "alerts.tasks.send_info_digest",
        "schedule": crontab(hour=DIGEST_HOUR_UTC, minute=0),
    },
    # Retention of deliveries and resolved alerts (RETENTION_*_DAYS): once a day, off-peak.
    "alerts-prune-history": {
        "task": "alerts.tasks.prune_history",
        "schedule": crontab(hour=3, minute=30),
    },
}
