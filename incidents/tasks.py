"""Celery tasks of the incidents app: thin wrappers around incidents.services and
incidents.updates, carrying ids."""

from __future__ import annotations

import logging

from celery import shared_task

from alerts.models import Channel, Delivery
from alerts.notify import MAX_ATTEMPTS, backoff_seconds
from incidents import services, updates
from incidents.models import IncidentUpdate

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, ignore_result=True)
def deliver_incident_update(
    self, update_id: int, channel_id: int, recipients: list[str] | None = None
) -> str:
    attempt = self.request.retries + 1
    try:
        result = updates.update_deliver(
            update_id=update_id, channel_id=channel_id, attempt=attempt, recipients=recipients
        )
    except (IncidentUpdate.DoesNotExist, Channel.DoesNotExist):
        log.info("update %s to channel %s skipped: deleted since", update_id, channel_id)
        return "skipped"
    if result.status == Delivery.Status.RETRYING:
        raise self.retry(
            args=(update_id, channel_id),
            kwargs={"recipients": result.retry_recipients},
            countdown=backoff_seconds(attempt),
        )
    return result.status


@shared_task(ignore_result=True)
def remind_incident_owners() -> int:
    return updates.remind_owners()


@shared_task(name="incidents.prune_history", ignore_result=True)
def prune_history() -> dict:
    return services.prune_history()
