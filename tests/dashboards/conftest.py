"""Data the dashboard tests assert on, written through the real store (and rolled up the way
the beat task does), plus users for each role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from collectors.store import write_request_timings, write_samples
from collectors.store.rollups import run_rollups
from dashboards.timerange import TimeRange


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


@pytest.fixture
def day(now):
    return TimeRange("24h", now - timedelta(hours=24), now)


class Store:
    def samples(self, items: list[dict]) -> None:
        write_samples(items)
        run_rollups()

    def requests(self, items: list[dict]) -> None:
        write_request_timings(items)
        run_rollups()


@pytest.fixture
def store(db) -> Store:
    return Store()


@pytest.fixture
def demo_metrics(store, now):
    """A small, known world: two periods of KPIs, one API route, two hosts, three tenants."""
    return write_known_world(store, now)


def write_known_world(store: Store, now):
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    items = []
    for metric, current, previous in (
        ("mrr_usd", 200_000.0, 150_000.0),
        ("mau", 24_000.0, 20_000.0),
        ("dau", 5_000.0, 4_000.0),
        ("churn_rate_pct", 2.0, 2.5),
        ("arpu_usd", 90.0, 88.0),
        ("ltv_usd", 4_500.0, 3_500.0),
        ("nps", 30.0, 40.0),
        ("trial_conversion_pct", 16.0, 15.0),
        ("tenants_active", 1_234.0, 1_200.0),
        ("active_sessions", 800.0, 700.0),
    ):
        items.append({"metric": metric, "value": previous, "ts": ago(hours=30)})
        items.append({"metric": metric, "value": current, "ts": ago(hours=2)})
    for tenant, placement, health, uptime in (
        ("acme", 97.0, 85.0, 99.99),
        ("umbrella", 88.0, 45.0, 99.5),
        ("hooli", 96.0, 72.0, 99.95),
    ):
        t = {"tenant": tenant}
        items += [
            {"metric": "inbox_placement_pct", "labels": t, "value": placement, "ts": ago(hours=3)},
            {"metric": "account_health_score", "labels": t, "value": health, "ts": ago(hours=3)},
            {
                "metric": "account_health_score",
                "labels": t,
                "value": health + 5,
                "ts": ago(hours=27),
            },
            {"metric": "tenant_uptime_pct", "labels": t, "value": uptime, "ts": ago(hours=4)},
            {"metric": "support_tickets_opened", "labels": t, "value": 3.0, "ts": ago(hours=5)},
            {
                "metric": "feature_usage",
                "labels": {**t, "feature": "warmup"},
                "value": 7.0,
                "ts": ago(hours=5),
            },
        ]
    items.append(
        {
            "metric": "feature_usage",
            "labels": {"tenant": "acme", "feature": "ab_testing"},
            "value": 2.0,
            "ts": ago(hours=5),
        }
    )
    for host, cpu0 in (("web-1", 40.0), ("db-1", 60.0)):
        for i in range(12):
            # CPU climbs 1 point per 2 hours over the last day: a trend the forecast can read.
            items.append(
                {
                    "metric": "host_cpu_percent",
                    "labels": {"host": host},
                    "value": cpu0 + i,
                    "ts": ago(hours=24 - 2 * i - 1),
                }
            )
            items.append(
                {
                    "metric": "host_memory_used_percent",
                    "labels": {"host": host},
                    "value": 50.0,
                    "ts": ago(hours=24 - 2 * i - 1),
                }
            )
    for i in range(10):
        items.append(
            {
                "metric": "probe_up",
                "labels": {"service": "api", "probe": "http"},
                "value": 1.0,
                "ts": ago(minutes=50 - 5 * i),
            }
        )
        items.append(
            {
                "metric": "probe_latency_ms",
                "labels": {"service": "api", "probe": "http"},
                "value": 40.0 + i,
                "ts": ago(minutes=50 - 5 * i),
            }
        )
        items.append(
            {
                "metric": "probe_up",
                "labels": {"service": "smtp", "probe": "smtp"},
                "value": 0.0 if i == 5 else 1.0,
                "ts": ago(minutes=50 - 5 * i),
            }
        )
    items.append(
        {
            "metric": "smtp_queue_size",
            "labels": {"service": "smtp"},
            "value": 12_500.0,
            "ts": ago(minutes=2),
        }
    )
    items.append(
        {
            "metric": "table_ops_per_hour",
            "labels": {"service": "oltp", "table": "email_messages"},
            "value": 250_000.0,
            "ts": ago(hours=3),
        }
    )
    items.append(
        {
            "metric": "table_ops_per_hour",
            "labels": {"service": "oltp", "table": "billing_analytics"},
            "value": 400.0,
            "ts": ago(hours=3),
        }
    )
    store.samples(items)
    requests = []
    for i in range(100):
        requests.append(
            {
                "service": "api",
                "route": "/v1/campaigns",
                "method": "GET",
                "status": 200 if i < 95 else 503,
                "duration_ms": 50.0 + i,
                "ts": ago(hours=1),
            }
        )
        requests.append(
            {
                "service": "api",
                "route": "/v1/campaigns",
                "method": "GET",
                "status": 200,
                "duration_ms": 500.0,
                "ts": ago(hours=25),
            }
        )
    for i in range(10):
        requests.append(
            {
                "service": "api",
                "route": "/v1/login",
                "method": "POST",
                "status": 401 if i < 5 else 200,
                "duration_ms": 100.0,
                "ts": ago(hours=1),
            }
        )
    store.requests(requests)
    return now
