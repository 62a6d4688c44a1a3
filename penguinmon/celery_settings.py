"""Celery settings. Periodic tasks are declared in each app's ``schedule.py`` (a plain dict,
no imports) and merged here, so the whole beat schedule is visible in one place at runtime
and editable in Django admin (django-celery-beat's DatabaseScheduler)."""

from __future__ import annotations

import importlib

from penguinmon.settings import REDIS_URL, TESTING

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True  # a task lost with its worker is redelivered, not dropped
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 5}
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False

SCHEDULE_MODULES = [
    "penguinmon.schedule",
    "collectors.store.schedule",
    "collectors.schedule",
    "alerts.schedule",
    "incidents.schedule",
    "reputation.schedule",
    "dashboards.schedule",
]


def _merged_schedule() -> dict:
    merged: dict = {}
    for name in SCHEDULE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        merged.update(getattr(module, "BEAT_SCHEDULE", {}))
    return merged


CELERY_BEAT_SCHEDULE = _merged_schedule()
__all__ = [k for k in dir() if k.startswith("CELERY_")] + ["TESTING"]
