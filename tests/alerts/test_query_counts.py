"""The feed and detail pages (and the API feed) cost the same number of queries for 2 alerts
as for 12: no query per row."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import services
from alerts.evaluation import evaluate_rules
from alerts.models import Alert


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = fn()
    assert resp.status_code == 200
    return len(ctx.captured_queries)


def _fire(make_rule, write, now, services_: list[str], ack_by=None) -> None:
    rule = make_rule(runbook_url="https://runbooks.example.com/smtp")
    for name in services_:
        write("smtp_queue_size", 20_000, now, service=name)
    evaluate_rules(now=now + timedelta(seconds=1), rules=[rule])
    if ack_by is not None:
        for alert in Alert.objects.filter(rule=rule):
            services.alert_acknowledge(alert=alert, user=ack_by)


def test_the_feed_costs_the_same_queries_for_many_alerts(
    login_client, make_user, make_rule, write, now
):
    user = make_user("on-call")
    client = login_client(user)
    _fire(make_rule, write, now, ["a", "b"], ack_by=user)
    few = _queries(lambda: client.get("/alerts/"))
    few_rows = _queries(lambda: client.get("/alerts/rows/", {"state": "acknowledged"}))
    _fire(make_rule, write, now, [f"s{i}" for i in range(10)], ack_by=user)
    assert Alert.objects.count() >= 12
    assert _queries(lambda: client.get("/alerts/")) == few
    assert _queries(lambda: client.get("/alerts/rows/", {"state": "acknowledged"})) == few_rows


def test_the_api_feed_costs_the_same_queries_for_many_alerts(api, make_user, make_rule, write, now):
    user = make_user("on-call")
    _fire(make_rule, write, now, ["a", "b"], ack_by=user)
    api.get("/api/v1/alerts")  # the token's first use writes its last-used time
    few = _queries(lambda: api.get("/api/v1/alerts"))
    _fire(make_rule, write, now, [f"s{i}" for i in range(10)], ack_by=user)
    assert len(api.get("/api/v1/alerts").json()) >= 12
    assert _queries(lambda: api.get("/api/v1/alerts")) == few
