"""Retention for the tables that grow with time, and the batched delete every app's pruning
uses. The metric store drops whole partitions instead (collectors.store.partitions); each
app prunes its own tables from a daily beat task (``<app>.tasks.prune_history``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from penguinmon.models import AuditLog

BATCH = 5000


def delete_in_batches(queryset: QuerySet, batch: int = BATCH) -> int:
    """Delete ``queryset`` a few thousand rows per transaction, so pruning a year of history
    never holds locks (or a cascade) long enough to stall the writers; returns rows deleted
    of the queryset's own model."""
    model = queryset.model
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic():
            _, per_model = model.objects.filter(pk__in=ids).delete()
        total += per_model.get(model._meta.label, 0)


def cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def prune_history(*, now: datetime | None = None) -> dict[str, int]:
    """Audit entries and login records older than ``RETENTION_AUDIT_DAYS``, expired sessions."""
    before = cutoff(settings.RETENTION_AUDIT_DAYS, now)
    return {
        "audit_log": delete_in_batches(AuditLog.objects.filter(at__lt=before)),
        "login_log": delete_in_batches(AccessLog.objects.filter(attempt_time__lt=before)),
        "login_failures": delete_in_batches(
            AccessFailureLog.objects.filter(attempt_time__lt=before)
        ),
        "login_attempts": delete_in_batches(AccessAttempt.objects.filter(attempt_time__lt=before)),
        "sessions": delete_in_batches(
            Session.objects.filter(expire_date__lt=now or timezone.now())
        ),
    }
