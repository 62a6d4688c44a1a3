"""Delivery survives faults: every notification is an outbox row written with the alert change;
if the queue cannot take it, the drain hands it over once the queue is back; a lost task is
re-sent, a stale copy of it never sends twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import grouping, notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Delivery, OutboxMessage
from penguinmon.celery import app as celery_app
from tests.support.net import free_port


@pytest.fixture
def hook(httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    return httpserver


@pytest.fixture
def broker_down():
    """The Celery broker is a closed port on 127.0.0.1: publishing fails as with Redis down."""
    port = free_port()
    old = celery_app.conf.broker_url

    def point_at(url: str) -> None:
        celery_app.conf.broker_url = url
        # Drop the pooled connections and producers bound to the previous broker.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    point_at(f"redis://127.0.0.1:{port}/0")

    def restore():
        point_at(old)

    yield restore
    restore()


def test_a_firing_alert_is_notified_after_the_queue_comes_back(
    make_rule, make_channel, write, now, hook, broker_down, django_capture_on_commit_callbacks
):
    make_channel(
        "webhook", name="pager", config={"url": hook.url_for("/hook"), "secret": "k"}, on_call=True
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")

    with django_capture_on_commit_callbacks(execute=True):
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert alert.state == "firing" and alert.notified
    row = OutboxMessage.objects.get(alert=alert)
    assert row.done_at is None and row.due_at <= timezone.now()  # due now: the hand-over failed
    assert not Delivery.objects.exists() and not hook.log

    broker_down()  # Redis is back; beat's next drain hands the row to a worker
    celery_app.conf.task_always_eager = True
    try:
        assert notify.drain_outbox() == 1
    finally:
        celery_app.conf.task_always_eager = False
    row.refresh_from_db()
    assert row.done_at is not None and row.attempts == 1
    assert Delivery.objects.get(alert=alert).status == "sent"
    assert len(hook.log) == 1
    assert notify.drain_outbox() == 0  # nothing left: no second notification


def test_a_lost_task_is_sent_again_and_its_stale_copy_does_nothing(
    make_rule, make_channel, write, now, hook, eager_celery
):
    channel = make_channel(
        "webhook", name="pager", config={"url": hook.url_for("/hook"), "secret": "k"}, on_call=True
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    # Queued, but the task vanished (a worker killed, Redis restarted without persistence):
    # the on-commit hand-over never ran here.
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    row = OutboxMessage.objects.get(channel=channel)
    stale_token = str(row.token)
    assert notify.drain_outbox() == 0  # within its grace period nobody touches it

    later = timezone.now() + notify.HANDOVER_GRACE + timedelta(seconds=1)
    assert notify.drain_outbox(now=later) == 1
    assert Delivery.objects.filter(status="sent").count() == 1
    # The original task turns up after all: its token was replaced, it sends nothing.
    from alerts.tasks import deliver_notification

    result = deliver_notification.apply(
        args=(channel.pk, "trigger"),
        kwargs={"alert_id": row.alert_id, "outbox_id": row.pk, "token": stale_token},
    )
    assert result.result == "skipped"
    assert len(hook.log) == 1


def test_a_failing_channel_ends_with_a_recorded_failure(
    make_rule, make_channel, write, now, eager_celery, django_capture_on_commit_callbacks
):
    closed = free_port()
    make_channel(
        "webhook",
        name="dead",
        config={"url": f"http://127.0.0.1:{closed}/", "secret": "k"},
        on_call=True,
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    with django_capture_on_commit_callbacks(execute=True):
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    row = OutboxMessage.objects.get()
    assert row.done_at is not None and row.attempts == notify.MAX_ATTEMPTS
    assert list(Delivery.objects.order_by("attempt").values_list("status", flat=True)) == [
        "retrying"
    ] * (notify.MAX_ATTEMPTS - 1) + ["failed"]


@pytest.mark.grouping
def test_a_group_sent_while_the_queue_is_down_goes_out_when_it_returns(
    make_rule, make_channel, write, now, hook, broker_down, django_capture_on_commit_callbacks
):
    """With grouping on, the group flush is the state change: its notification log and the
    alerts marked notified commit with the outbox rows, so the message cannot be lost."""
    make_channel(
        "webhook", name="pager", config={"url": hook.url_for("/hook"), "secret": "k"}, on_call=True
    )
    rules = [
        make_rule(label_filters={"service": "api"}, message_template=f"api {what} high")
        for what in ("queue", "latency")
    ]
    write("smtp_queue_size", 20_000, now, service="api")
    evaluate_rules(now=now + timedelta(seconds=1), rules=rules)
    with django_capture_on_commit_callbacks(execute=True):
        flushed = grouping.flush(now=now + timedelta(seconds=40))
    assert flushed.notifications == 1
    assert set(Alert.objects.values_list("notified", flat=True)) == {True}
    row = OutboxMessage.objects.get()
    assert row.event == "group" and row.group_id is not None and len(row.alert_ids) == 2
    assert row.done_at is None and not hook.log

    broker_down()  # Redis is back
    celery_app.conf.task_always_eager = True
    try:
        assert notify.drain_outbox() == 1
    finally:
        celery_app.conf.task_always_eager = False
    assert len(hook.log) == 1
    message = hook.log[0][0].get_json()
    assert message["event"] == "group" and message["title"].startswith("[FIRING:2]")
    assert {"api queue high", "api latency high"} <= {
        line.split(": ", 1)[1].split("  ")[0] for line in message["lines"]
    }
    assert Delivery.objects.get(event="group").status == "sent"
    assert notify.drain_outbox() == 0
