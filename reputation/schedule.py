"""Periodic tasks of the reputation app (merged into the beat schedule by penguinmon.celery_settings)."""

import os

BEAT_SCHEDULE: dict = {
    # Seed 004: blocklist look-ups every 2 hours; REPUTATION_CHECK_INTERVAL overrides (seconds).
    "reputation-check": {
        "task": "reputation.tasks.check_reputation",
        "schedule": float(os.environ.get("REPUTATION_CHECK_INTERVAL", 7200)),
    },
    # 90 days of history (REPUTATION_HISTORY_DAYS); pruning once a day is plenty.
    "reputation-prune": {"task": "reputation.tasks.prune_reputation_history", "schedule": 86400.0},
}
