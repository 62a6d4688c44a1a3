"""A rule counts only the series with data in its window: hundreds of idle or junk label sets
pushed once (issue 12: 490 junk ``probe_up`` series silenced a real outage for 7 minutes)
cannot push it over the series limit and disable it."""

from __future__ import annotations

from datetime import timedelta

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule, Delivery
from collectors.store import write_samples
from collectors.store.query import MAX_SERIES


def test_junk_series_older_than_the_window_do_not_disable_a_rule(
    make_rule, webhook_channel, hook, now, run_deliveries
):
    webhook_channel("pager", on_call=True)
    rule = make_rule(
        name="api down", metric="probe_up", comparator="<", threshold=1, window_seconds=60
    )
    write_samples(
        [
            {
                "metric": "probe_up",
                "labels": {"service": f"junk-{i}", "probe": "x"},
                "value": 1,
                "ts": now - timedelta(minutes=10),
            }
            for i in range(MAX_SERIES)
        ]
        + [
            {
                "metric": "probe_up",
                "labels": {"service": "api", "probe": "http"},
                "value": 0,
                "ts": now,
            }
        ]
    )

    with run_deliveries():
        summary = evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])

    assert summary.failures == {}
    assert AlertRule.objects.get(pk=rule.pk).eval_error == ""
    alert = Alert.objects.get(rule=rule)
    assert (alert.state, alert.service) == ("firing", "api")
    assert Delivery.objects.get(alert=alert).status == "sent"
    assert hook()[0]["service"] == "api"
