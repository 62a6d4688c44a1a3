"""Repeat interval and warning rate limit are per rule: blank keeps the severity defaults
(critical every hour, warning every 4 hours, one warning per rule per hour)."""

from __future__ import annotations

from datetime import timedelta

from alerts import notify
from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertEvent


def fire(rule, write, now, run_deliveries, **labels):
    write(rule.metric, 20_000, now, service="smtp", **labels)
    with run_deliveries():
        evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    return Alert.objects.filter(rule=rule).order_by("-id").first()


def test_a_rule_reminds_at_its_own_interval(make_rule, webhook_channel, write, now, run_deliveries):
    webhook_channel("pager", on_call=True)
    fast = make_rule(repeat_interval_minutes=15)
    default = make_rule()
    never = make_rule(repeat_interval_minutes=0)
    for rule in (fast, default, never):
        fire(rule, write, now, run_deliveries)

    with run_deliveries():
        assert notify.send_repeats(now=now + timedelta(minutes=16)) == 1
        assert notify.send_repeats(now=now + timedelta(minutes=32)) == 1  # fast again
        assert notify.send_repeats(now=now + timedelta(minutes=62)) == 2  # fast + default
    reminded = Alert.objects.filter(events__message__startswith="repeat").values_list(
        "rule__name", flat=True
    )
    assert sorted(set(reminded)) == sorted([fast.name, default.name])


def test_rules_api_shows_the_effective_pacing(make_rule, api):
    make_rule(name="fast", repeat_interval_minutes=15)
    make_rule(name="quiet", severity="warning", notify_limit_minutes=240)
    rules = {r["name"]: r for r in api.get("/api/v1/rules").json()}
    assert rules["fast"]["repeat_interval_effective_minutes"] == 15
    assert rules["quiet"]["repeat_interval_minutes"] is None
    assert rules["quiet"]["repeat_interval_effective_minutes"] == 240
    assert rules["quiet"]["notify_limit_minutes"] == 240


def test_warning_limit_per_rule(make_rule, webhook_channel, write, now, run_deliveries):
    webhook_channel("chat", chat=True)
    chatty = make_rule(severity="warning", notify_limit_minutes=10)
    default = make_rule(severity="warning")
    for rule in (chatty, default):
        fire(rule, write, now - timedelta(minutes=11), run_deliveries, host="mx-1")
        second = fire(rule, write, now, run_deliveries, host="mx-2")
        if rule is chatty:
            assert second.notified  # 11 minutes later is past its 10-minute limit
        else:
            assert not second.notified
            assert "already notified within the hour" in (
                second.events.get(kind=AlertEvent.Kind.SUPPRESSED).message
            )


def test_admin_rule_form_offers_pacing_fields(admin_user, login_client, make_rule):
    rule = make_rule()
    page = login_client(admin_user).get(f"/admin/alerts/alertrule/{rule.pk}/change/")
    assert b'name="repeat_interval_minutes"' in page.content
    assert b'name="notify_limit_minutes" value="60"' in page.content
