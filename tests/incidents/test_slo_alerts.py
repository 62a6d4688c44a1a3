"""Burn-rate alerts on synthetic traffic, evaluated by the alert engine minute by minute: a
fast burn pages within 5 minutes, a slow burn opens a ticket and does not page, a brief spike
that only the short window sees fires nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.evaluation import evaluate_rules
from alerts.models import Alert, AlertRule
from collectors.models import Service
from collectors.store import write_request_timings
from collectors.store.rollups import run_rollups
from incidents.slo.services import owner_key, slo_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def slo():
    Service.objects.create(name="checkout", display_name="Checkout", kind="api")
    return slo_create(
        name="Checkout success", service="checkout", sli_kind="success_ratio", objective_pct=99.9
    )


@pytest.fixture
def base():
    # Whole minutes, well in the past: every minute's requests are written at its first
    # seconds and evaluations run at :30, so a window never sees requests "from the future".
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=2)


def traffic(start: datetime, minutes: int, per_minute: int, errors_every: int | None) -> list:
    """``per_minute`` requests a minute; every ``errors_every``-th one answers 500."""
    items, n = [], 0
    for m in range(minutes):
        minute = start + timedelta(minutes=m)
        for r in range(per_minute):
            n += 1
            bad = errors_every is not None and n % errors_every == 0
            items.append(
                {
                    "service": "checkout",
                    "route": "/v1/pay",
                    "method": "POST",
                    "status": 500 if bad else 200,
                    "duration_ms": 40.0,
                    "ts": (minute + timedelta(seconds=r % 20)).isoformat(),
                }
            )
    return items


def send(items: list) -> None:
    """Through the store's ingest, in batches under its 10,000-request limit."""
    for i in range(0, len(items), 10_000):
        write_request_timings(items[i : i + 10_000])


def rules(slo) -> list[AlertRule]:
    return list(AlertRule.objects.filter(managed_by=owner_key(slo)))


def firing(slo) -> dict[str, Alert]:
    return {a.rule.name: a for a in Alert.objects.filter(rule__in=rules(slo), state="firing")}


def test_a_fast_burn_pages_within_five_minutes(slo, base):
    send(traffic(base, 60, 30, None))
    outage = base + timedelta(minutes=60)
    # Half of all requests fail from here on: 500× the allowed 0.1%.
    send(traffic(outage, 10, 30, 2))
    run_rollups()

    paged_after = None
    for minute in range(5):
        at = outage + timedelta(minutes=minute, seconds=30)
        evaluate_rules(now=at, rules=rules(slo))
        pages = [a for a in firing(slo).values() if a.severity == "critical"]
        if pages and paged_after is None:
            paged_after = minute + 1
    # The 6h/30m page sees it first (its windows hold less clean traffic); within 5 minutes
    # the 1h/5m page fires too.
    assert paged_after == 1
    page = firing(slo)["SLO Checkout success: page burn 14.4× (1h/5m)"]
    assert page.service == "checkout"
    assert page.message.startswith("SLO Checkout success: error budget burning ")
    assert "over both 1h and 5m (page above 14.4×, objective 99.9%)" in page.message
    assert page.value > 14.4


def test_a_slow_burn_opens_a_ticket_and_does_not_page(slo, base):
    # 26 hours at 0.5% errors: a burn rate of 5 — over the ticket's 3×, under the pages' 6×.
    send(traffic(base, 26 * 60, 20, 200))
    run_rollups()

    at = base + timedelta(hours=26) - timedelta(seconds=30)
    evaluate_rules(now=at, rules=rules(slo))

    alerts = firing(slo)
    assert {a.severity for a in alerts.values()} == {"warning"}
    ticket = alerts["SLO Checkout success: ticket burn 3× (1d/2h)"]
    assert ticket.value == pytest.approx(5.0, rel=0.01)
    assert "over both 1d and 2h (ticket above 3×" in ticket.message


def test_a_brief_spike_that_only_the_short_window_sees_fires_nothing(slo, base):
    send(traffic(base, 7 * 60, 30, None))
    spike = base + timedelta(hours=7)
    # One minute with 20% errors: a 40× burn over 5 minutes, but 3.3× over the hour.
    send(traffic(spike, 1, 30, 5))
    send(traffic(spike + timedelta(minutes=1), 10, 30, None))
    run_rollups()

    for minute in range(0, 8):
        evaluate_rules(now=spike + timedelta(minutes=minute, seconds=30), rules=rules(slo))
        assert not Alert.objects.filter(rule__in=rules(slo)).exists(), minute
