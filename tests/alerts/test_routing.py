"""Who is told what: severity routing, rate limits, digest, silences, parent suppression,
repeats stopped by ack, resolution notices, escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import notify, services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertEvent, Delivery, EscalationPolicy, EscalationStep, Silence


def test_critical_goes_to_every_on_call_channel_at_once(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries
):
    webhook_channel("pager", on_call=True)
    webhook_channel("phone", on_call=True)
    webhook_channel("chat", chat=True)
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")

    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert sorted(Delivery.objects.filter(alert=alert).values_list("channel__name", flat=True)) == [
        "pager",
        "phone",
    ]
    assert [m["event"] for m in hook()] == ["trigger", "trigger"]


def test_recovery_notifies_resolved(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries
):
    webhook_channel("pager", on_call=True)
    rule = make_rule(window_seconds=20)
    with run_deliveries():
        write("smtp_queue_size", 20_000, now - timedelta(seconds=30), service="smtp")
        evaluate_rules(now=now - timedelta(seconds=29), rules=[rule])
        write("smtp_queue_size", 3, now, service="smtp")
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert [(m["event"], m["state"]) for m in hook()] == [
        ("trigger", "firing"),
        ("resolve", "resolved"),
    ]


def test_warnings_go_to_chat_at_most_once_per_rule_per_hour(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries
):
    webhook_channel("pager", on_call=True)
    webhook_channel("chat", chat=True)
    rule = make_rule(metric="host_cpu_percent", threshold=90, severity="warning", window_seconds=60)
    with run_deliveries():
        write("host_cpu_percent", 95, now - timedelta(seconds=10), host="web-1")
        evaluate_rules(now=now - timedelta(seconds=9), rules=[rule])
        write("host_cpu_percent", 96, now, host="web-2")
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    assert Alert.objects.filter(rule=rule, state="firing").count() == 2
    assert [m["labels"]["host"] for m in hook()] == ["web-1"]
    second = Alert.objects.get(rule=rule, labels__host="web-2")
    assert "already notified within the hour" in second.events.get(kind="suppressed").message


def test_info_alerts_wait_for_one_daily_digest_email(
    make_rule, make_channel, write, now, smtp_server, run_deliveries
):
    make_channel("email", name="digest", digest=True, config={"to": ["ops@example.com"]})
    rule = make_rule(
        metric="db_pool_utilisation_pct",
        threshold=80,
        severity="info",
        message_template="Database Connection pool {value}% utilized",
    )
    write("db_pool_utilisation_pct", 84, now, service="db-1")
    write("db_pool_utilisation_pct", 91, now, service="db-2")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert smtp_server.messages == []

    with run_deliveries():
        assert notify.send_info_digest(now=now + timedelta(hours=1)) == 2
        assert notify.send_info_digest(now=now + timedelta(hours=2)) == 0  # nothing sent twice

    assert len(smtp_server.messages) == 1
    body = smtp_server.messages[0].content.decode()
    assert "2 info alert(s)" in body
    assert (
        "Database Connection pool 84% utilized" in body
        and "Database Connection pool 91% utilized" in body
    )


def test_a_matching_silence_suppresses_notifications_but_not_the_alert(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries, make_user
):
    webhook_channel("pager", on_call=True)
    services.silence_create(
        matchers={"service": "smtp"},
        ends_at=now + timedelta(hours=1),
        starts_at=now - timedelta(minutes=1),
        comment="MTA upgrade",
        user=make_user("on-call"),
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    alert = Alert.objects.get(rule=rule)
    assert alert.state == "firing"
    assert hook() == []
    assert "MTA upgrade" in alert.events.get(kind="suppressed").message


def test_an_expired_silence_no_longer_suppresses(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries
):
    webhook_channel("pager", on_call=True)
    Silence.objects.create(
        matchers={"service": "smtp"},
        starts_at=now - timedelta(hours=2),
        ends_at=now - timedelta(hours=1),
        comment="old window",
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert len(hook()) == 1


def test_children_stay_quiet_while_the_parent_service_is_down(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries
):
    webhook_channel("pager", on_call=True)
    down = make_rule(
        name="db down", metric="probe_up", comparator="<", threshold=1, window_seconds=60
    )
    child = make_rule(name="queue", parent_service="postgres")
    write("probe_up", 0, now, service="postgres", probe="tcp")
    write("smtp_queue_size", 20_000, now, service="smtp")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[down, child])

    assert [m["rule"] for m in hook()] == ["db down"]
    child_alert = Alert.objects.get(rule=child)
    assert child_alert.state == "firing"
    assert "parent service postgres is down" in child_alert.events.get(kind="suppressed").message


def test_ack_stops_repeats_and_recovery_still_notifies_resolved(
    webhook_channel, make_rule, make_channel, write, now, hook, run_deliveries, make_user
):
    webhook_channel("pager", on_call=True)
    rule = make_rule(window_seconds=20)
    with run_deliveries():
        write("smtp_queue_size", 20_000, now - timedelta(seconds=30), service="smtp")
        evaluate_rules(now=now - timedelta(seconds=29), rules=[rule])
    alert = Alert.objects.select_related("rule").get(rule=rule)

    with run_deliveries():
        assert notify.send_repeats(now=now + timedelta(hours=2)) == 1
    assert [m["event"] for m in hook()] == ["trigger", "repeat"]

    services.alert_acknowledge(alert=alert, user=make_user("on-call", username="olive"))
    with run_deliveries():
        assert notify.send_repeats(now=now + timedelta(hours=5)) == 0
        write("smtp_queue_size", 21_000, now - timedelta(seconds=15), service="smtp")
        evaluate_rules(
            now=now - timedelta(seconds=14), rules=[rule]
        )  # still bad: evaluation continues
        assert Alert.objects.get(pk=alert.pk).state == "acknowledged"
        write("smtp_queue_size", 1, now, service="smtp")
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    assert [m["event"] for m in hook()] == ["trigger", "repeat", "resolve"]


def test_pagerduty_hears_the_acknowledgement(
    make_rule, make_channel, write, now, httpserver, run_deliveries, make_user
):
    httpserver.expect_request("/pd").respond_with_json({"status": "success"}, status=202)
    make_channel(
        "pagerduty", on_call=True, config={"routing_key": "rk", "url": httpserver.url_for("/pd")}
    )
    rule = make_rule()
    write("smtp_queue_size", 20_000, now, service="smtp")
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
        alert = Alert.objects.select_related("rule").get(rule=rule)
        services.alert_acknowledge(alert=alert, user=make_user("on-call"))
    assert [r.get_json()["event_action"] for r, _ in httpserver.log] == ["trigger", "acknowledge"]


@pytest.fixture
def escalating_rule(make_rule, webhook_channel):
    policy = EscalationPolicy.objects.create(name="test policy")
    EscalationStep.objects.create(
        policy=policy, order=0, wait_minutes=10, channel=webhook_channel("team lead")
    )
    EscalationStep.objects.create(
        policy=policy, order=1, wait_minutes=20, channel=webhook_channel("head of ops")
    )
    return make_rule(escalation_policy=policy)


def test_an_unacknowledged_critical_escalates_step_by_step_exactly_once(
    escalating_rule, write, now, hook, run_deliveries
):
    write("smtp_queue_size", 20_000, now, service="smtp")
    fired_at = now + timedelta(seconds=1)
    evaluate_rules(now=fired_at, rules=[escalating_rule])
    alert = Alert.objects.get(rule=escalating_rule)
    assert alert.escalation_due_at == fired_at + timedelta(minutes=10)

    with run_deliveries():
        assert notify.escalate_due(now=fired_at + timedelta(minutes=9)) == 0
        assert notify.escalate_due(now=fired_at + timedelta(minutes=10)) == 1
        assert (
            notify.escalate_due(now=fired_at + timedelta(minutes=10, seconds=30)) == 0
        )  # a duplicate run
        assert notify.escalate_due(now=fired_at + timedelta(minutes=30)) == 1
        assert notify.escalate_due(now=fired_at + timedelta(hours=5)) == 0  # no more steps

    assert list(
        Delivery.objects.filter(alert=alert, event="escalate")
        .order_by("id")
        .values_list("channel__name", flat=True)
    ) == ["team lead", "head of ops"]
    assert alert.events.filter(kind=AlertEvent.Kind.ESCALATION).count() == 2


def test_acknowledging_stops_escalation(
    escalating_rule, write, now, hook, run_deliveries, make_user
):
    write("smtp_queue_size", 20_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[escalating_rule])
    alert = Alert.objects.select_related("rule").get(rule=escalating_rule)
    services.alert_acknowledge(alert=alert, user=make_user("on-call"))
    with run_deliveries():
        assert notify.escalate_due(now=now + timedelta(minutes=15)) == 0
    assert not Delivery.objects.filter(event="escalate").exists()
