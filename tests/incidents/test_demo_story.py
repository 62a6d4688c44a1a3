"""The demo tells one story: an incident "X is down" is a down interval of X (its uptime), the
alert the live evaluator raised from X's probe results, and a row of X in the SLA table; every
demo alert is a moment where the stored samples meet its rule, and every incident but the one a
bad release caused was opened from a critical alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts import demo as alerts_demo
from alerts.evaluation import END_SLACK
from alerts.models import ERROR_RATIO, Alert
from collectors.models import Service, Status
from collectors.monitoring import demo as demo_services
from collectors.monitoring.health import uptime_pct
from collectors.store import demo
from collectors.store.query import window_values
from dashboards.reports import sla_rows
from dashboards.timerange import parse_range
from incidents import demo as incidents_demo
from incidents.models import Incident
from incidents.selectors import incident_stats

pytestmark = pytest.mark.django_db(transaction=True)


def _down_intervals(service: Service, now: datetime) -> list[tuple[datetime, datetime]]:
    flips = list(service.status_changes.order_by("at").values_list("at", "new_status"))
    return [
        (at, following)
        for (at, status), (following, _) in zip(flips, [*flips[1:], (now, None)], strict=True)
        if status == Status.DOWN
    ]


def _value_at(alert: Alert, at: datetime) -> float | None:
    """The rule's value for the alert's series over the rule's window ending ``at``, read
    straight from the metric store."""
    rule = alert.rule
    start, end = at - timedelta(seconds=rule.window_seconds), at + END_SLACK
    if rule.aggregation == ERROR_RATIO:
        rows = window_values(
            metric=rule.metric,
            labels={"service": alert.labels["service"]},
            start=start,
            end=end,
            agg=ERROR_RATIO,
            by=["service"],
        )
        return 100 * rows[0][1] if rows else None
    rows = window_values(
        metric=rule.metric, labels=alert.labels, start=start, end=end, agg=rule.aggregation
    )
    return rows[0][1] if rows else None


def test_the_demo_tells_one_story():
    now = datetime.now(UTC)
    days = 12
    rng = random.Random(5)
    states = {}
    for module in (demo, demo_services, alerts_demo, incidents_demo):
        states[module] = rng.getstate()
        module.load(days=days, now=now, rng=rng)

    down_incidents = Incident.objects.filter(title__contains=" is down")
    assert down_incidents.count() >= 3  # api twice, redis and its queue once
    for incident in down_incidents:
        service = Service.objects.get(name=incident.service)
        intervals = _down_intervals(service, now)
        # The incident opened while (or just after) the service was down, from its alert.
        alert = incident.alerts.get()
        assert alert.rule.name == "Service down" and alert.service == service.name
        assert any(lo <= alert.fired_at <= hi + timedelta(minutes=1) for lo, hi in intervals), (
            incident.title,
            alert.fired_at,
            intervals,
        )
        assert incident.resolved_at is not None and incident.resolved_at > alert.resolved_at

    # Every down interval of a monitored service raised its alert.
    for service in Service.objects.exclude(status=Status.NOT_MONITORED):
        for lo, hi in _down_intervals(service, now):
            assert Alert.objects.filter(
                rule__name="Service down",
                service=service.name,
                fired_at__gte=lo,
                fired_at__lte=hi + timedelta(minutes=1),
            ).exists(), (service.name, lo, hi)

    # The SLA table shows the same uptime, the incidents and their MTTR.
    tr = parse_range({"range": "30d"}, now=now)
    rows = {r.service: r for r in sla_rows(tr)}
    api = Service.objects.get(name="api")
    assert rows["api"].uptime_pct == uptime_pct(api, tr.length, now=tr.end) < 100
    stats = incident_stats(start=tr.start, end=tr.end, service="api")
    assert rows["api"].incidents == stats["count"] >= 2
    assert rows["api"].mttr_hours == stats["mttr_hours"]

    alerts = list(Alert.objects.filter(is_demo=True, fired_at__isnull=False).select_related("rule"))
    rules = {a.rule.name for a in alerts}
    # The outages, the 5xx burst, the SMTP backlog and the pool saturation all alerted.
    assert {"Service down", "High error rate", "SMTP queue above 10k"} <= rules, rules
    assert "Database pool above 80%" in rules and "CPU above 90%" in rules, rules
    for alert in alerts:
        # When it went pending, the stored samples met the rule's condition.
        value = _value_at(alert, alert.started_at)
        assert value is not None and alert.rule.condition(value), (alert.message, value)
        if alert.resolved_at is not None:
            after = _value_at(alert, alert.resolved_at)
            assert after is None or not alert.rule.condition(after), (alert.message, after)

    critical = [a for a in alerts if a.severity == "critical"]
    assert critical
    for alert in critical:
        [incident] = alert.incidents.all()
        assert incident.started_at == alert.fired_at and incident.service == alert.service
        if incident.resolved_at is not None:
            assert alert.resolved_at is not None and incident.resolved_at > alert.resolved_at
    by_hand = Incident.objects.filter(is_demo=True, alerts__isnull=True)
    # Only the rolled-back release's incident has no alert; it names the deployment instead.
    assert all(i.caused_by_deployment_id for i in by_hand), list(by_hand)

    # A month of incidents with MTTR and MTBF; loading again replaces the demo's own rows.
    stats = incident_stats(start=now - timedelta(days=days), end=now)
    assert stats["count"] >= 5 and stats["mttr_hours"] and stats["mtbf_hours"], stats
    count = Incident.objects.count()
    # With the random draws of the first load: another seed can release (and roll back) a
    # different number of deployments, which is not what this checks.
    again = random.Random()
    again.setstate(states[incidents_demo])
    incidents_demo.load(days=days, now=now, rng=again)
    assert Incident.objects.count() == count
