"""What a rule does when a series stops reporting: ok (resolve; the default, as before),
alerting (a silent series fires) or keep_state (leave the alert alone until data returns)."""

from __future__ import annotations

from datetime import timedelta

from alerts.evaluation import evaluate_rules
from alerts.models import Alert


def test_alerting_rule_fires_for_a_host_that_stopped_reporting(make_rule, write, now):
    rule = make_rule(on_no_data="alerting", window_seconds=60)
    write("smtp_queue_size", 12, now - timedelta(minutes=5), service="smtp", host="mx-1")
    write("smtp_queue_size", 15, now - timedelta(minutes=5), service="smtp", host="mx-2")
    write("smtp_queue_size", 14, now, service="smtp", host="mx-2")  # mx-2 still reports

    summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    alert = Alert.objects.get(rule=rule)
    assert summary.fired == 1 and alert.state == "firing"
    assert alert.labels == {"service": "smtp", "host": "mx-1"}
    assert alert.message == f"{rule.name}: no data from host=mx-1,service=smtp for 60s"
    assert "no data for 60s" in alert.events.get(to_state="firing").message

    # Evaluating again does not duplicate it; data coming back (below threshold) resolves it.
    evaluate_rules(now=now + timedelta(seconds=2), rules=[rule])
    assert Alert.objects.filter(rule=rule).count() == 1
    write("smtp_queue_size", 10, now + timedelta(seconds=3), service="smtp", host="mx-1")
    evaluate_rules(now=now + timedelta(seconds=4), rules=[rule])
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_alerting_rule_respects_for_duration(make_rule, write, now):
    rule = make_rule(on_no_data="alerting", window_seconds=60, for_seconds=120)
    write("smtp_queue_size", 12, now - timedelta(minutes=10), service="smtp", host="mx-1")
    evaluate_rules(now=now - timedelta(minutes=3), rules=[rule])
    assert Alert.objects.get(rule=rule).state == "pending"
    evaluate_rules(now=now, rules=[rule])
    assert Alert.objects.get(rule=rule).state == "firing"


def _firing_then_silent(make_rule, write, now, **fields):
    rule = make_rule(window_seconds=120, **fields)
    write("smtp_queue_size", 20_000, now - timedelta(minutes=4), service="smtp")
    evaluate_rules(now=now - timedelta(minutes=4) + timedelta(seconds=1), rules=[rule])
    assert Alert.objects.get(rule=rule).state == "firing"
    evaluate_rules(now=now, rules=[rule])  # the window holds no sample now
    return rule, Alert.objects.get(rule=rule)


def test_default_ok_resolves_when_the_series_goes_quiet(make_rule, write, now):
    rule, alert = _firing_then_silent(make_rule, write, now)
    assert rule.on_no_data == "ok" and alert.state == "resolved"


def test_keep_state_keeps_firing_until_data_returns(make_rule, write, now):
    rule, alert = _firing_then_silent(make_rule, write, now, on_no_data="keep_state")
    assert alert.state == "firing" and alert.last_evaluated_at == now
    write("smtp_queue_size", 50, now + timedelta(seconds=1), service="smtp")
    evaluate_rules(now=now + timedelta(seconds=2), rules=[rule])
    alert.refresh_from_db()
    assert alert.state == "resolved"


def test_the_rules_api_shows_the_choice(make_rule, api):
    make_rule(name="heartbeat", on_no_data="alerting")
    rules = {r["name"]: r for r in api.get("/api/v1/rules").json()}
    assert rules["heartbeat"]["on_no_data"] == "alerting"
    assert rules["Service down"]["on_no_data"] == "ok"  # defaults keep today's behaviour


def test_a_series_that_never_reported_does_not_fire(make_rule, write, now):
    rule = make_rule(on_no_data="alerting", label_filters={"service": "smtp"})
    write("smtp_queue_size", 12, now, service="api")
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    assert not Alert.objects.filter(rule=rule).exists()
