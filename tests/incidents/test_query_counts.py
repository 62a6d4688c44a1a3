"""The incident list (page and API) costs the same number of queries for 2 incidents as for 12."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, AlertRule
from incidents.services import incident_create_from_alert


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = fn()
    assert resp.status_code == 200
    return len(ctx.captured_queries)


def _incidents(user, names: list[str]) -> None:
    rule, _ = AlertRule.objects.get_or_create(
        name="queries smtp", defaults={"metric": "smtp_queue_size", "threshold": 10_000}
    )
    now = timezone.now()
    for name in names:
        alert = Alert.objects.create(
            rule=rule,
            labels={"service": name},
            label_key=f"service={name}",
            state=Alert.State.FIRING,
            severity="critical",
            service=name,
            message=f"SMTP queue on {name}",
            started_at=now,
            fired_at=now,
            last_evaluated_at=now,
        )
        incident_create_from_alert(alert=alert, user=user)


def test_incident_lists_cost_the_same_queries_for_many_incidents(api, login_client, make_user):
    user = make_user("operations")
    client = login_client(user)
    _incidents(user, ["a", "b"])
    api.get("/api/v1/alerts")  # the token's first use writes its last-used time
    few_api = _queries(lambda: api.get("/api/v1/incidents"))
    few_page = _queries(lambda: client.get("/incidents/"))
    _incidents(user, [f"s{i}" for i in range(10)])
    rows = api.get("/api/v1/incidents").json()
    assert len(rows) == 12 and all(len(r["alert_ids"]) == 1 for r in rows)
    assert _queries(lambda: api.get("/api/v1/incidents")) == few_api
    assert _queries(lambda: client.get("/incidents/")) == few_page
