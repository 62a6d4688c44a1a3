"""An escalation chain is copied onto the alert when it starts escalating: editing the policy
afterwards changes alerts that fire later, not the ones already escalating."""

from __future__ import annotations

from datetime import timedelta

from alerts import notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, Delivery, EscalationPolicy, EscalationStep


def test_policy_edits_do_not_change_an_alert_already_escalating(
    make_rule, make_channel, httpserver, write, now, run_deliveries, api
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    url = httpserver.url_for("/hook")

    def channel(name):
        return make_channel("webhook", name=name, config={"url": url, "secret": "k"})

    lead, head, cto = channel("team lead"), channel("head of ops"), channel("cto")
    policy = EscalationPolicy.objects.create(name="smtp escalation")
    first = EscalationStep.objects.create(policy=policy, order=0, wait_minutes=10, channel=lead)
    second = EscalationStep.objects.create(policy=policy, order=1, wait_minutes=20, channel=head)
    rule = make_rule(escalation_policy=policy)
    write("smtp_queue_size", 20_000, now, service="smtp")
    fired_at = now + timedelta(seconds=1)
    evaluate_rules(now=fired_at, rules=[rule])
    alert = Alert.objects.get(rule=rule)

    # After it fired, someone rewrites the policy: one step, an hour later, to the CTO.
    first.wait_minutes, first.channel = 60, cto
    first.save()
    second.delete()

    with run_deliveries():
        assert notify.escalate_due(now=fired_at + timedelta(minutes=10)) == 1
        assert notify.escalate_due(now=fired_at + timedelta(minutes=30)) == 1
    sent = Delivery.objects.filter(alert=alert, event="escalate").order_by("id")
    assert list(sent.values_list("channel__name", flat=True)) == ["team lead", "head of ops"]

    detail = api.get(f"/api/v1/alerts/{alert.pk}").json()
    assert [s["wait_minutes"] for s in detail["escalation_chain"]] == [10, 20]
    assert detail["escalation_step"] == 2

    # An alert that fires after the edit follows the new chain.
    other = make_rule(escalation_policy=policy, metric="smtp_queue_size", threshold=5)
    evaluate_rules(now=fired_at + timedelta(seconds=1), rules=[other])
    later = Alert.objects.get(rule=other)
    assert later.escalation_chain == [
        {"wait_minutes": 60, "channels": [{"id": cto.pk, "name": "cto"}]}
    ]
    assert later.escalation_due_at == fired_at + timedelta(seconds=1, minutes=60)


def test_alerts_escalating_before_snapshots_existed_keep_the_policy_they_first_read(
    make_rule, make_channel, httpserver, write, now, run_deliveries
):
    httpserver.expect_request("/hook").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    lead = make_channel("webhook", name="lead", config={"url": url, "secret": "k"})
    ops = make_channel("webhook", name="ops", config={"url": url, "secret": "k"})
    policy = EscalationPolicy.objects.create(name="legacy")
    EscalationStep.objects.create(policy=policy, order=0, wait_minutes=5, channel=lead)
    step = EscalationStep.objects.create(policy=policy, order=1, wait_minutes=5, channel=lead)
    rule = make_rule(escalation_policy=policy)
    write("smtp_queue_size", 20_000, now, service="smtp")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    Alert.objects.filter(rule=rule).update(escalation_chain=[])  # as migrated from before

    with run_deliveries():
        assert notify.escalate_due(now=now + timedelta(minutes=6)) == 1
        step.channel = ops
        step.save()
        assert notify.escalate_due(now=now + timedelta(minutes=12)) == 1
    names = Delivery.objects.filter(event="escalate").order_by("id")
    assert list(names.values_list("channel__name", flat=True)) == ["lead", "lead"]
