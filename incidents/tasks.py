"""Celery tasks of the incidents app: thin wrappers around incidents.services."""

from __future__ import annotations

from celery import shared_task

from incidents import services


@shared_task(name="incidents.prune_history", ignore_result=True)
def prune_history() -> dict:
    return services.prune_history()
