"""The services demo data gives the page real uptime figures, outages and charts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from collectors import demo, demo_services
from collectors.health import uptimes
from collectors.models import Host, Service
from collectors.selectors import series_query, window_values

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_history_has_outages_uptime_and_probe_metrics():
    now = datetime.now(UTC)
    demo.load(days=10, now=now, rng=random.Random(1))
    summary = demo_services.load(days=10, now=now, rng=random.Random(1))
    assert "status changes" in summary

    smtp = Service.objects.get(name="smtp")
    smtp_uptime = uptimes(smtp, now=now)
    assert smtp_uptime["7d"] == 100.0  # its outage was 9 days ago
    assert smtp_uptime["30d"] == pytest.approx(100 * (1 - 40 / (10 * 1440)), abs=0.05)
    assert (
        uptimes(Service.objects.get(name="oltp-db"), now=now)["7d"] == 100.0
    )  # degraded counts as up

    day = series_query(
        metric="probe_up",
        labels={"service": "smtp"},
        start=now - timedelta(days=10),
        end=now,
        step=3600,
        agg="min",
    )
    assert min(v for _, v in day.series[0].points) == 0.0
    queue = window_values(
        metric="smtp_queue_size", start=now - timedelta(days=10), end=now, agg="max"
    )
    assert queue[0][1] > 10_000  # the outage pushed the queue past the seed's alert threshold
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
    first = Service.objects.get(name="api").status_changes.count()
    demo.load(days=2, now=now, rng=random.Random(2))
    demo_services.load(days=2, now=now, rng=random.Random(2))
    assert Service.objects.get(name="api").status_changes.count() == first
