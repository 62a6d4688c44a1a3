"""Notification grouping as Alertmanager users know it: group_wait, group_interval,
repeat_interval, one message per group listing its alerts, silences and parent-down
suppression named in the parent's group."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import grouping, services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Delivery, GroupingPolicy, NotificationGroup, Silence

pytestmark = pytest.mark.grouping


@pytest.fixture
def hook(hook, webhook_channel):
    """The conftest receiver, with an on-call webhook channel posting to it."""
    webhook_channel("pager", on_call=True)
    return hook


@pytest.fixture
def fire(make_rule, write):
    def fire(at, service, *, metric="smtp_queue_size", value=20_000, **rule_fields):
        rule = make_rule(metric=metric, label_filters={"service": service}, **rule_fields)
        write(metric, value, at, service=service)
        evaluate_rules(now=at + timedelta(seconds=1), rules=[rule])
        return Alert.objects.get(rule=rule)

    return fire


def test_a_new_group_waits_for_its_siblings_then_sends_one_message(fire, hook, now, run_deliveries):
    a1 = fire(now, "api", message_template="api queue high")
    a2 = fire(now, "api", message_template="api latency high")
    fire(now, "db", message_template="db queue high")
    assert not Alert.objects.filter(notified=True).exists()  # nothing sent at trigger time

    with run_deliveries():
        early = grouping.flush(now=now + timedelta(seconds=10))
    assert early.groups == 2 and early.notifications == 0 and hook() == []

    with run_deliveries():
        due = grouping.flush(now=now + timedelta(seconds=32))
    assert due.notifications == 2
    messages = {m["event"]: m for m in hook()}
    assert set(messages) == {"group", "trigger"}
    group = messages["group"]
    assert group["title"].startswith("[FIRING:2] ERROR service=api, severity=critical")
    assert any("api queue high" in line for line in group["lines"])
    assert any("api latency high" in line for line in group["lines"])
    assert messages["trigger"]["message"] == "db queue high"
    assert set(Delivery.objects.filter(event="group").values_list("alert_ids", flat=True)[0]) == {
        a1.pk,
        a2.pk,
    }
    assert "in group critical|service=api" in a1.events.filter(kind="notify").get().message


def test_a_group_is_resent_when_it_grows_at_most_every_interval_and_repeats(
    fire, hook, now, run_deliveries
):
    fire(now, "api", message_template="first")
    with run_deliveries():
        grouping.flush(now=now + timedelta(seconds=31))
    assert len(hook()) == 1
    fire(now + timedelta(seconds=60), "api", message_template="second")
    with run_deliveries():
        assert grouping.flush(now=now + timedelta(seconds=90)).notifications == 0  # interval
        assert grouping.flush(now=now + timedelta(seconds=332)).notifications == 1
        assert grouping.flush(now=now + timedelta(minutes=20)).notifications == 0  # unchanged
        assert grouping.flush(now=now + timedelta(hours=4, minutes=6)).notifications == 1
    sent = hook()
    # A group of one is sent as that alert's own trigger (same payload as without grouping).
    assert [m["event"] for m in sent] == ["trigger", "group", "group"]
    assert [m["title"].split("]")[0] for m in sent[1:]] == ["[FIRING:2", "[FIRING:2"]


def test_acknowledged_alerts_leave_the_group_and_stop_its_reminders(
    fire, hook, now, run_deliveries, make_user
):
    alert = fire(now, "api")
    with run_deliveries():
        grouping.flush(now=now + timedelta(seconds=31))
        services.alert_acknowledge(alert=alert, user=make_user("on-call"))
        assert grouping.flush(now=now + timedelta(hours=5)).notifications == 0


def test_the_policy_groups_by_the_labels_an_admin_chose(fire, hook, now, run_deliveries):
    GroupingPolicy.objects.create(group_by=["severity"], group_wait_seconds=0)
    fire(now, "api")
    fire(now, "db")
    with run_deliveries():
        result = grouping.flush(now=now + timedelta(seconds=1))
    assert result.groups == 1 and result.notifications == 1
    assert hook()[0]["title"].startswith("[FIRING:2] ERROR severity=critical")


def test_silenced_alerts_are_held_back(fire, hook, now, run_deliveries, make_user):
    Silence.objects.create(
        matchers={"service": "api"},
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        comment="deploy",
    )
    silenced = fire(now, "api")
    with run_deliveries():
        result = grouping.flush(now=now + timedelta(seconds=31))
    assert result.silenced == 1 and result.notifications == 0 and hook() == []
    silenced.refresh_from_db()
    assert silenced.group_key.startswith("silenced by silence #")


def _db_down(fire, now) -> None:
    """The parent service ``db`` fails its probe."""
    fire(
        now,
        "db",
        metric="probe_up",
        value=0,
        comparator="<",
        threshold=1,
        message_template="db is down",
    )


def test_a_parent_outage_is_one_notification_naming_what_it_suppresses(
    fire, hook, now, run_deliveries
):
    _db_down(fire, now)
    for child in ["api", "mailer", "worker"]:
        fire(now, child, parent_service="db", message_template=f"{child} queue high")
    with run_deliveries():
        result = grouping.flush(now=now + timedelta(seconds=31))
    assert result.suppressed == 3 and result.notifications == 1
    (message,) = hook()
    assert message["title"].endswith("(+3 suppressed)")
    assert "- suppressed while db is down: 3 alert(s) on 3 child service(s)" in message["lines"]
    child = Alert.objects.get(service="api")
    assert not child.notified and not child.events.filter(kind="notify").exists()
    assert NotificationGroup.objects.get(key__contains="service=db").suppressed["alerts"] == 3


def test_the_feed_names_what_a_parent_outage_suppresses(
    fire, hook, now, run_deliveries, login_client, make_user
):
    _db_down(fire, now)
    for child in ["api", "mailer"]:
        fire(now, child, parent_service="db", message_template=f"{child} queue high")
    with run_deliveries():
        grouping.flush(now=now + timedelta(seconds=31))
    html = login_client(make_user("on-call")).get("/alerts/rows/").content.decode()
    row = html[: html.index("</tr>", html.index("db is down"))]
    assert "Suppressing 2 alerts on 2 child services while db is down" in row


def test_a_group_that_stopped_firing_is_over_and_the_next_alert_waits_again(
    fire, hook, now, run_deliveries, write
):
    alert = fire(now, "api")
    with run_deliveries():
        grouping.flush(now=now + timedelta(seconds=31))
    Alert.objects.filter(pk=alert.pk).update(state="resolved", resolved_at=now)
    grouping.flush(now=now + timedelta(seconds=40))
    assert not NotificationGroup.objects.exists()
    fire(now + timedelta(seconds=50), "api")
    with run_deliveries():
        assert grouping.flush(now=now + timedelta(seconds=60)).notifications == 0
        assert grouping.flush(now=now + timedelta(seconds=82)).notifications == 1
