"""Every table that grows with time is pruned by its app's daily beat task, and keeps what a
page still needs (each service's last status, alerts held by an incident, a deployment named
as an incident's cause)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from alerts import tasks as alert_tasks
from alerts.models import Alert, AlertEvent, AlertRule, Channel, Delivery, OutboxMessage
from collectors import tasks as collector_tasks
from collectors.models import Service, StatusChange
from incidents import tasks as incident_tasks
from incidents.models import Deployment, Incident
from incidents.services import incident_create_from_alert
from penguinmon import tasks as penguinmon_tasks
from penguinmon.audit import audit
from penguinmon.celery_settings import CELERY_BEAT_SCHEDULE
from penguinmon.models import AuditLog

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def test_every_prune_task_is_on_the_daily_beat_schedule():
    tasks = {entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}
    assert {
        "penguinmon.prune_history",
        "collectors.prune_history",
        "alerts.tasks.prune_history",
        "incidents.prune_history",
        "reputation.tasks.prune_reputation_history",
        "collectors.store.maintain_partitions",
    } <= tasks


def test_audit_entries_logins_and_expired_sessions_are_pruned(settings, make_user):
    settings.RETENTION_AUDIT_DAYS = 30
    user = make_user()
    old, recent = (
        audit(actor=user, action="x", target=user),
        audit(actor=user, action="y", target=user),
    )
    AuditLog.objects.filter(pk=old.pk).update(at=timezone.now() - 31 * DAY)
    for days in (31, 1):
        row = AccessLog.objects.create(username="u", http_accept="*", path_info="/", user_agent="t")
        AccessLog.objects.filter(pk=row.pk).update(attempt_time=timezone.now() - days * DAY)
    attempt = AccessAttempt.objects.create(
        username="u",
        http_accept="*",
        path_info="/",
        user_agent="t",
        failures_since_start=3,
        get_data="",
        post_data="",
    )
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=timezone.now() - 31 * DAY)
    live, gone = SessionStore(), SessionStore()
    live.create()
    gone.create()
    Session.objects.filter(session_key=gone.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )

    deleted = penguinmon_tasks.prune_history()

    assert deleted["audit_log"] == 1 and deleted["login_log"] == 1 and deleted["sessions"] == 1
    assert deleted["login_attempts"] == 1
    assert list(AuditLog.objects.values_list("pk", flat=True)) == [recent.pk]
    assert AccessLog.objects.count() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


def test_old_status_changes_go_but_each_service_keeps_its_latest(settings):
    settings.RETENTION_STATUS_CHANGES_DAYS = 30
    now = timezone.now()
    quiet = Service.objects.create(name="quiet", display_name="Quiet", kind="smtp")
    busy = Service.objects.create(name="busy", display_name="Busy", kind="smtp")
    # "quiet" last flipped 100 days ago: that flip says it is up today, so it stays.
    for service, ages in ((quiet, (200, 100)), (busy, (200, 100, 5))):
        for age in ages:
            StatusChange.objects.create(
                service=service, at=now - age * DAY, old_status="down", new_status="up"
            )

    assert collector_tasks.prune_history() == {"status_changes": 3}

    kept = {(c.service.name, (now - c.at).days) for c in StatusChange.objects.all()}
    assert kept == {("quiet", 100), ("busy", 5)}


def _alert(rule, *, resolved_days_ago: float | None, key: str) -> Alert:
    now = timezone.now()
    resolved = resolved_days_ago is not None
    return Alert.objects.create(
        rule=rule,
        labels={"k": key},
        label_key=f"k={key}",
        state=Alert.State.RESOLVED if resolved else Alert.State.FIRING,
        severity="critical",
        service="smtp",
        message="m",
        started_at=now - 500 * DAY,
        fired_at=now - 500 * DAY,
        resolved_at=now - resolved_days_ago * DAY if resolved else None,
        last_evaluated_at=now,
    )


def test_old_deliveries_and_long_resolved_alerts_are_pruned(settings, make_user):
    settings.RETENTION_ALERTS_DAYS = 400
    settings.RETENTION_DELIVERIES_DAYS = 90
    rule = AlertRule.objects.create(name="r", metric="smtp_queue_size", threshold=1)
    channel = Channel.objects.create(name="c", kind="slack", config={"webhook_url": "http://x/"})
    old = _alert(rule, resolved_days_ago=401, key="old")
    held = _alert(rule, resolved_days_ago=401, key="held")  # part of an incident: kept
    incident_create_from_alert(alert=held, user=make_user())
    recent = _alert(rule, resolved_days_ago=10, key="recent")
    firing = _alert(rule, resolved_days_ago=None, key="firing")
    AlertEvent.objects.create(alert=old, kind="state", to_state="resolved")
    for alert, age in ((old, 401), (recent, 91), (recent, 1), (firing, 1)):
        Delivery.objects.create(
            alert=alert,
            channel=channel,
            event="trigger",
            status="sent",
            created_at=timezone.now() - age * DAY,
        )

    for done_days_ago in (91, 1, None):  # finished long ago, recently, still to send
        OutboxMessage.objects.create(
            channel=channel,
            event="trigger",
            alert=firing,
            due_at=timezone.now(),
            done_at=None if done_days_ago is None else timezone.now() - done_days_ago * DAY,
        )

    deleted = alert_tasks.prune_history()

    assert deleted == {"deliveries": 2, "outbox": 1, "alerts": 1}
    assert OutboxMessage.objects.count() == 2
    assert set(Alert.objects.values_list("pk", flat=True)) == {held.pk, recent.pk, firing.pk}
    assert not AlertEvent.objects.filter(alert_id=old.pk).exists()
    assert Delivery.objects.count() == 2
    assert Incident.objects.get().alerts.get() == held


def test_old_deployments_are_pruned_unless_an_incident_names_them(settings):
    settings.RETENTION_DEPLOYMENTS_DAYS = 400
    now = timezone.now()

    def deployment(version: str, age_days: int) -> Deployment:
        d = Deployment.objects.create(
            service="api", version=version, started_at=now, status="succeeded", finished_at=now
        )
        Deployment.objects.filter(pk=d.pk).update(created_at=now - age_days * DAY)
        return d

    old, cause, recent = deployment("1", 401), deployment("2", 401), deployment("3", 5)
    Incident.objects.create(
        title="bad release",
        severity="critical",
        service="api",
        status="resolved",
        started_at=now - 401 * DAY,
        caused_by_deployment=cause,
    )

    assert incident_tasks.prune_history() == {"deployments": 1}
    assert set(Deployment.objects.values_list("pk", flat=True)) == {cause.pk, recent.pk}
    assert not Deployment.objects.filter(pk=old.pk).exists()
