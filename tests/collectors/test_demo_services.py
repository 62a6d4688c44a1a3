"""The services demo: probe results replayed through the live status logic give the pages real
uptime figures, outages and charts, and nothing claims a probe that never ran."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from collectors.models import Host, Service, Status
from collectors.monitoring import demo as demo_services
from collectors.monitoring.health import uptimes
from collectors.store import demo
from collectors.store.query import series_query, window_values

pytestmark = pytest.mark.django_db(transaction=True)


def _down_minutes(service: Service, now: datetime, days: int) -> float:
    flips = list(service.status_changes.order_by("at").values_list("at", "new_status"))
    down = 0.0
    for (at, status), (following, _) in zip(flips, [*flips[1:], (now, None)], strict=True):
        if status == Status.DOWN and at >= now - timedelta(days=days):
            down += (following - at).total_seconds() / 60
    return down


def test_demo_statuses_are_derived_from_the_probe_results():
    now = datetime.now(UTC)
    demo.load(days=12, now=now, rng=random.Random(1))
    summary = demo_services.load(days=12, now=now, rng=random.Random(1))
    assert "status changes" in summary

    # A disabled probe never ran: its service is not monitored, has no uptime and no result.
    smtp = Service.objects.get(name="smtp")
    assert smtp.status == Status.NOT_MONITORED
    assert smtp.status_reason == "not monitored: no enabled probe"
    assert smtp.probes.get().last_run_at is None
    assert uptimes(smtp, now=now) == {"24h": None, "7d": None, "30d": None, "90d": None}

    # The api's two outages (9 and 5.3 days ago) are down intervals derived from failing
    # probe results, and its uptime is exactly the known time minus them.
    api = Service.objects.get(name="api")
    assert api.status == Status.HEALTHY
    downs = api.status_changes.filter(new_status=Status.DOWN)
    assert downs.count() == 2
    assert "HTTP 503, expected 200" in downs.order_by("at").first().reason
    down_min = _down_minutes(api, now, 12)
    assert 50 <= down_min <= 65  # 40 + 15 minutes of outage, seen at 5-minute steps
    monitored_min = (now - api.status_changes.order_by("at").first().at).total_seconds() / 60
    assert uptimes(api, now=now)["30d"] == pytest.approx(
        100 * (1 - down_min / monitored_min), abs=0.001
    )
    # Degraded counts as up; the pool outage shows as degraded with the probe's own message.
    oltp = Service.objects.get(name="oltp-db")
    assert oltp.status_changes.filter(
        new_status=Status.DEGRADED, reason__contains="connection pool 92%"
    ).exists()
    assert uptimes(oltp, now=now)["7d"] == 100.0
    # While redis was down, the queue (its child) was down too and attributed to it.
    queue = Service.objects.get(name="celery-queue")
    assert queue.status_changes.filter(reason__contains="(parent redis is down)").exists()

    day = series_query(
        metric="probe_up",
        labels={"service": "api"},
        start=now - timedelta(days=10),
        end=now,
        step=3600,
        agg="min",
    )
    assert min(v for _, v in day.series[0].points) == 0.0
    assert not series_query(
        metric="probe_up",
        labels={"service": "smtp"},
        start=now - timedelta(days=10),
        end=now,
        step=3600,
        agg="min",
    ).series
    queue_size = window_values(
        metric="smtp_queue_size", start=now - timedelta(days=10), end=now, agg="max"
    )
    assert queue_size[0][1] > 10_000  # the backlog passed the seed's alert threshold
    tables = window_values(
        metric="table_ops_per_hour",
        labels={"table": "email_opens"},
        start=now - timedelta(days=1),
        end=now,
        agg="max",
    )
    assert 200_000 <= tables[0][1] <= 2_000_000
    assert Host.objects.get(name="db-1").top_cpu[0]["name"] == "postgres"


def test_demo_is_repeatable():
    now = datetime.now(UTC)
    demo.load(days=2, now=now, rng=random.Random(2))
    demo_services.load(days=2, now=now, rng=random.Random(2))
    first = list(Service.objects.get(name="oltp-db").status_changes.values_list("new_status"))
    demo.load(days=2, now=now, rng=random.Random(2))
    demo_services.load(days=2, now=now, rng=random.Random(2))
    assert (
        list(Service.objects.get(name="oltp-db").status_changes.values_list("new_status")) == first
    )
