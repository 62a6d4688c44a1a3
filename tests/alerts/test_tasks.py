"""The Celery tasks are thin: they call the services; overlapping evaluations are skipped."""

from __future__ import annotations

from alerts import tasks
from alerts.models import Alert
from penguinmon.queues import redis_client


def test_the_evaluate_task_runs_a_cycle_over_enabled_rules(make_rule, write, now):
    make_rule(threshold=100)
    write("smtp_queue_size", 5_000, now, service="smtp")
    result = tasks.evaluate_rules()
    assert result["fired"] >= 1
    assert Alert.objects.filter(state="firing", service="smtp").exists()


def test_an_evaluation_already_running_makes_the_next_tick_skip(make_rule, write, now):
    make_rule(threshold=100)
    write("smtp_queue_size", 5_000, now, service="smtp")
    lock = redis_client().lock(tasks.EVALUATE_LOCK, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert tasks.evaluate_rules() == {"skipped": True}
    finally:
        lock.release()
    assert not Alert.objects.exists()


def test_a_notification_for_a_deleted_channel_is_skipped_not_retried(db):
    from alerts.tasks import deliver_notification

    result = deliver_notification.apply(
        args=(987654, "firing"), kwargs={"alert_id": None, "alert_ids": []}
    )
    assert result.successful()
    assert result.result == "skipped"
