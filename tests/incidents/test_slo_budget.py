"""Budget arithmetic: hand-computed cases (maintenance, an incident straddling the window
edge) and the store's SLI counts against numpy on seeded requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts import services as alert_services
from collectors.models import Service, Status, StatusChange
from collectors.sli import LATENCY, SUCCESS_RATIO, Counts, SliSpec, share_within, sli_counts
from collectors.store import histogram, write_request_timings
from collectors.store.rollups import run_rollups
from incidents.models import Deployment, Incident
from incidents.slo.budget import budget_from_counts
from incidents.slo.selectors import budget_deployments, budget_incidents, slo_status
from incidents.slo.services import slo_create

pytestmark = pytest.mark.django_db


def _service(name: str) -> Service:
    return Service.objects.create(name=name, display_name=name.upper(), kind="api")


def test_request_budget_figures_match_the_hand_computed_ones():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    budget = budget_from_counts(
        objective_pct=99.9,
        unit="requests",
        window_start=now - timedelta(days=30),
        window_end=now,
        window_length=timedelta(days=30),
        counts=Counts(good=2_000_000 - 500, total=2_000_000),
        spans={"1h": Counts(good=3000 - 9, total=3000), "6h": Counts()},
    )
    assert budget.sli_pct == pytest.approx(99.975)
    assert budget.budget_total == pytest.approx(2000)  # 0.1% of 2,000,000 requests
    assert budget.consumed == 500
    assert budget.remaining == pytest.approx(1500)
    assert budget.consumed_pct == pytest.approx(25)
    assert budget.remaining_pct == pytest.approx(75)
    assert budget.burn_rates["1h"] == pytest.approx(3.0)  # 0.3% errors against 0.1% allowed
    assert budget.burn_rates["6h"] is None  # no traffic: no rate, not zero
    # 75% left at 3× burn: 30 d × 0.75 / 3 = 7.5 days.
    assert budget.exhausted_at == now + timedelta(days=7, hours=12)
    assert budget.in_minutes(budget.budget_total) is None
    assert not budget.exhausted


def test_availability_budget_excludes_maintenance_and_clips_an_incident_at_the_window_edge():
    service = _service("mta-sli")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    edge = now - timedelta(days=30)

    def flip(at, old, new):
        StatusChange.objects.create(service=service, at=at, old_status=old, new_status=new)

    flip(now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY)
    # Down 45 minutes across the window's start: 15 of them inside the window.
    flip(edge - timedelta(minutes=30), Status.HEALTHY, Status.DOWN)
    flip(edge + timedelta(minutes=15), Status.DOWN, Status.HEALTHY)
    # Down 60 minutes ten days ago, the first 20 in a planned maintenance window.
    outage = now - timedelta(days=10)
    flip(outage, Status.HEALTHY, Status.DOWN)
    flip(outage + timedelta(minutes=60), Status.DOWN, Status.HEALTHY)
    alert_services.silence_create(
        matchers={"service": "mta-sli"},
        starts_at=outage - timedelta(minutes=5),
        ends_at=outage + timedelta(minutes=20),
        comment="planned MTA upgrade",
        user=None,
    )
    straddling = Incident.objects.create(
        title="MTA down at the edge",
        service="mta-sli",
        started_at=edge - timedelta(minutes=30),
        resolved_at=edge + timedelta(minutes=15),
        status="resolved",
    )
    later = Incident.objects.create(
        title="MTA down",
        service="mta-sli",
        started_at=outage,
        resolved_at=outage + timedelta(minutes=60),
        status="resolved",
    )
    slo = slo_create(name="MTA up", service="mta-sli", sli_kind="availability", objective_pct=99.9)

    budget = slo_status(slo, now=now).budget

    window_minutes = 30 * 24 * 60
    assert budget.counts.total == pytest.approx(window_minutes * 60)
    assert budget.consumed == pytest.approx((15 + 40) * 60)  # seconds down, unplanned
    assert budget.in_minutes(budget.budget_total) == pytest.approx(43.2)  # 0.1% of 30 days
    assert budget.in_minutes(budget.remaining) == pytest.approx(43.2 - 55)
    assert budget.remaining_pct == pytest.approx(100 * (1 - 55 / 43.2))
    assert budget.sli_pct == pytest.approx(100 * (1 - 55 / window_minutes))
    assert budget.exhausted and budget.exhausted_at is None
    assert budget.burn_rates["1h"] == 0.0

    shares = {s.incident.pk: s for s in budget_incidents(slo_status(slo, now=now))}
    assert shares[straddling.pk].start == edge  # clipped to the window
    assert shares[straddling.pk].share_pct == pytest.approx(100 * 15 / 43.2)
    assert shares[later.pk].share_pct == pytest.approx(100 * 40 / 43.2)


def test_a_deployment_is_charged_until_the_next_one_or_for_an_hour():
    service = _service("pay-sli")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    outage = now - timedelta(days=2)
    for at, old, new in [
        (now - timedelta(days=40), Status.UNKNOWN, Status.HEALTHY),
        (outage, Status.HEALTHY, Status.DOWN),
        (outage + timedelta(minutes=30), Status.DOWN, Status.HEALTHY),
    ]:
        StatusChange.objects.create(service=service, at=at, old_status=old, new_status=new)
    first = Deployment.objects.create(
        service="pay-sli", version="1", started_at=outage - timedelta(minutes=10)
    )
    # The fix, 20 minutes into the outage: charged with the last 10 minutes of it.
    fix = Deployment.objects.create(
        service="pay-sli", version="2", started_at=outage + timedelta(minutes=20)
    )
    last = Deployment.objects.create(
        service="pay-sli", version="3", started_at=now - timedelta(minutes=20)
    )
    slo = slo_create(name="Pay up", service="pay-sli", sli_kind="availability", objective_pct=99.9)

    shares = budget_deployments(slo_status(slo, now=now))

    assert [s.deployment.pk for s in shares] == [first.pk, fix.pk, last.pk]
    assert shares[0].end == fix.started_at  # cut short by the next deployment
    assert shares[0].bad == pytest.approx(20 * 60)
    assert shares[0].share_pct == pytest.approx(100 * 20 / 43.2)
    assert shares[1].end == fix.started_at + timedelta(hours=1)
    assert shares[1].bad == pytest.approx(10 * 60)
    assert shares[1].share_pct == pytest.approx(100 * 10 / 43.2)
    assert shares[2].end == now  # the window's end
    assert shares[2].share_pct == 0


def test_share_within_is_exact_at_bucket_bounds_and_linear_inside_a_bucket():
    counts = histogram.empty()
    k = histogram.bucket_index(200.0)
    counts[k - 1] = 30
    counts[k] = 10
    counts[k + 1] = 5
    lower, upper = histogram.upper_bound(k - 1), histogram.upper_bound(k)
    assert share_within(counts, upper) == 40
    assert share_within(counts, lower) == 30
    assert share_within(counts, lower + 0.25 * (upper - lower)) == pytest.approx(32.5)
    assert share_within(counts, 0.001) == 0


def test_store_slis_agree_with_numpy_on_seeded_requests():
    _service("shop")
    rng = np.random.default_rng(14)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    n = 6000
    ages = rng.uniform(1, 3 * 3600 - 1, n)  # seconds before now, inside the last 3 hours
    durations = np.round(rng.lognormal(np.log(120), 0.6, n), 3)
    statuses = rng.choice([200, 201, 404, 500, 503], size=n, p=[0.8, 0.1, 0.06, 0.03, 0.01])
    routes = rng.choice(["/v1/send", "/v1/auth/login"], size=n)
    items = [
        {
            "service": "shop",
            "route": str(route),
            "method": "POST",
            "status": int(status),
            "duration_ms": float(d),
            "ts": (now - timedelta(seconds=float(a))).isoformat(),
        }
        for a, d, status, route in zip(ages, durations, statuses, routes, strict=True)
    ]
    write_request_timings(items, now=now)
    run_rollups()

    bound = histogram.upper_bound(histogram.bucket_index(150.0))
    specs = [
        SliSpec(SUCCESS_RATIO, "shop"),
        SliSpec(SUCCESS_RATIO, "shop", "/v1/auth/login"),
        SliSpec(LATENCY, "shop", threshold_ms=bound),
        SliSpec(LATENCY, "shop", threshold_ms=200.0),
    ]
    periods = [(now - timedelta(hours=1), now), (now - timedelta(hours=6), now)]
    got = sli_counts(specs, periods)

    for p, (start, _) in enumerate(periods):
        inside = ages <= (now - start).total_seconds()
        login = inside & (routes == "/v1/auth/login")
        ok = statuses < 500
        assert got[(0, p)].total == inside.sum()
        assert got[(0, p)].good == (inside & ok).sum()
        assert got[(1, p)].total == login.sum()
        assert got[(1, p)].good == (login & ok).sum()
        # At a bucket bound the latency SLI is exact.
        assert got[(2, p)].good == pytest.approx((inside & (durations <= bound)).sum())
        # Between bounds: whole buckets below plus the threshold's share of its bucket.
        edges = [histogram.upper_bound(i) for i in range(histogram.N_BUCKETS - 1)]
        k = histogram.bucket_index(200.0)
        lower, upper = edges[k - 1], edges[k]
        below = (inside & (durations <= lower)).sum()
        in_bucket = (inside & (durations > lower) & (durations <= upper)).sum()
        expected = below + in_bucket * (200.0 - lower) / (upper - lower)
        assert got[(3, p)].good == pytest.approx(expected)
        assert got[(3, p)].total == inside.sum()
