"""The demo tells one story: an incident "X is down" is a down interval of X (its uptime), the
alert the live evaluator raised from X's probe results, and a row of X in the SLA table."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts import demo as alerts_demo
from alerts.models import Alert
from collectors.models import Service, Status
from collectors.monitoring import demo as demo_services
from collectors.monitoring.health import uptime_pct
from collectors.store import demo
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


def test_every_down_incident_is_a_down_interval_with_its_alert_and_sla_row():
    now = datetime.now(UTC)
    days = 12
    rng = random.Random(5)
    for module in (demo, demo_services, alerts_demo, incidents_demo):
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
