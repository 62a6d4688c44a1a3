"""Celery tasks: thin wrappers around alerts.evaluation / alerts.notify, carrying ids only."""

from __future__ import annotations

import logging

from celery import shared_task

from alerts import evaluation, grouping, notify, services
from alerts.models import Alert, Channel, Delivery
from penguinmon.queues import redis_client

log = logging.getLogger(__name__)

EVALUATE_LOCK = "penguinmon:alerts:evaluate"


@shared_task(ignore_result=True)
def evaluate_rules() -> dict:
    # Beat may fire again while a slow cycle runs; the lock keeps cycles from overlapping
    # (its expiry frees it if a worker dies mid-cycle).
    lock = redis_client().lock(EVALUATE_LOCK, timeout=60, blocking=False)
    if not lock.acquire(blocking=False):
        log.info("evaluation already running; skipping this tick")
        return {"skipped": True}
    try:
        summary = evaluation.evaluate_rules()
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: nothing to release
            log.warning("evaluation lock expired before release")
    if summary.errors:
        log.warning("rule evaluation errors: %s", "; ".join(summary.errors))
    if grouping.enabled():
        grouping.flush()  # groups whose wait is over go out with this cycle's alerts
    return {
        "rules": summary.rules,
        "fired": summary.fired,
        "resolved": summary.resolved,
        "ms": round(summary.duration_ms, 1),
    }


@shared_task(bind=True, max_retries=notify.MAX_ATTEMPTS - 1, ignore_result=True)
def deliver_notification(
    self,
    channel_id: int,
    event: str,
    alert_id: int | None = None,
    alert_ids: list[int] | None = None,
    recipients: list[str] | None = None,
    group_id: int | None = None,
    outbox_id: int | None = None,
    token: str | None = None,
) -> str:
    if outbox_id is not None:
        return notify.deliver_from_outbox(self, outbox_id=outbox_id, token=token)
    # Tasks queued before the outbox existed (an upgrade with messages in the queue).
    attempt = self.request.retries + 1
    try:
        delivery = notify.deliver(
            channel_id=channel_id,
            event=event,
            alert_id=alert_id,
            alert_ids=alert_ids,
            group_id=group_id,
            attempt=attempt,
            recipients=recipients,
        )
    except (Channel.DoesNotExist, Alert.DoesNotExist):
        # Deleted after the notification was queued: nothing to send and nothing to retry.
        log.info("delivery to channel %s for alert %s skipped: deleted since", channel_id, alert_id)
        return "skipped"
    if delivery.status == Delivery.Status.RETRYING:
        # After a partial failure only the recipients that failed are tried again.
        kwargs = {
            "alert_id": alert_id,
            "alert_ids": alert_ids,
            "recipients": delivery.retry_recipients,
            "group_id": group_id,
        }
        raise self.retry(
            args=(channel_id, event), kwargs=kwargs, countdown=notify.backoff_seconds(attempt)
        )
    return delivery.status


@shared_task(ignore_result=True)
def drain_outbox() -> int:
    return notify.drain_outbox()


@shared_task(ignore_result=True)
def escalate_alerts() -> int:
    return notify.escalate_due()


@shared_task(ignore_result=True)
def flush_notification_groups() -> dict:
    result = grouping.flush()
    return {"groups": result.groups, "notifications": result.notifications}


@shared_task(ignore_result=True)
def send_repeat_notifications() -> int:
    return notify.send_repeats()


@shared_task(ignore_result=True)
def send_info_digest() -> int:
    return notify.send_info_digest()


@shared_task(ignore_result=True)
def prune_history() -> dict:
    return services.prune_history()
