"""Celery tasks of the penguinmon app: thin wrappers around penguinmon.retention."""

from __future__ import annotations

from celery import shared_task

from penguinmon import retention


@shared_task(name="penguinmon.prune_history", ignore_result=True)
def prune_history() -> dict:
    return retention.prune_history()
