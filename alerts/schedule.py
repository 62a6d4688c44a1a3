"""Periodic tasks of the alerts app (merged into the beat schedule by penguinmon.celery_settings)."""

BEAT_SCHEDULE: dict = {}
