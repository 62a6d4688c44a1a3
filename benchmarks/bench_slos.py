"""SLOs: (1) one evaluation cycle of 200 SLOs over 30 days of history — every budget figure
(SLI over the window, budget, burn rates over 1 h / 6 h / 1 d / 3 d) from the batched
selector — against the same figures computed one SLO at a time; (2) the alert cycle over the
800 burn-rate rules those SLOs generate; (3) the SLO overview page's server render (Django
test client, logged in, p50/p95 over 20 renders). Targets: cycle < 1 s, render p95 <= 300 ms.

50 services, each with two routes (counters per status class and latency histograms: minute
rows for the last 6 hours, 15-minute rows before, as hourly rollups hold them after a month)
and status history; four SLOs per service (availability, success ratio of the service and of
one route, latency). Everything is tagged "bench-slo" and removed at the end.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from benchmarks.common import delete_points, percentile, row

PREFIX = "bench-slo"
SERVICES = 50
ROUTES = ("/v1/send", "/v1/auth/login")
DAYS = 30
RECENT = timedelta(hours=6)
RENDERS = 20
CYCLES = 5


def _service_names() -> list[str]:
    return [f"{PREFIX}-{i:02d}" for i in range(SERVICES)]


def _load(now: datetime) -> None:
    from collectors.models import Service, StatusChange
    from collectors.store import histogram
    from collectors.store.backfill import backfill_histograms, backfill_series

    rng = random.Random(14)
    start = (now - timedelta(days=DAYS + 1)).replace(minute=0, second=0, microsecond=0)
    recent = now - RECENT
    counters: dict = {}
    hist_rows: list = []
    for name in _service_names():
        service = Service.objects.create(name=name, display_name=name, kind="api")
        StatusChange.objects.create(
            service=service, at=start, old_status="unknown", new_status="healthy"
        )
        for _ in range(3):
            down = now - timedelta(days=rng.uniform(0, DAYS))
            StatusChange.objects.create(
                service=service, at=down, old_status="healthy", new_status="down"
            )
            StatusChange.objects.create(
                service=service,
                at=down + timedelta(minutes=rng.uniform(1, 20)),
                old_status="down",
                new_status="healthy",
            )
        for route in ROUTES:
            labels = {"service": name, "route": route, "method": "POST"}
            hour_acc: dict = {}
            ts = start
            while ts < now:
                step = 1 if ts >= recent else 15
                n = int(60 * step * rng.uniform(0.8, 1.2))
                n5 = int(n * 0.002 * rng.uniform(0, 2))
                for cls, value in (("2xx", n - n5), ("5xx", n5)):
                    key = ("http_requests", tuple(sorted({**labels, "status_class": cls}.items())))
                    counters.setdefault(key, []).append((ts, float(value)))
                counts = histogram.empty()
                for _ in range(20):
                    counts[histogram.bucket_index(rng.lognormvariate(4.5, 0.6))] += n // 20
                if ts >= recent:
                    hist_rows.append((labels, ts, counts, 90.0 * n))
                else:
                    acc = hour_acc.setdefault(ts.replace(minute=0), [histogram.empty(), 0.0])
                    acc[0] = [a + b for a, b in zip(acc[0], counts, strict=True)]
                    acc[1] += 90.0 * n
                ts += timedelta(minutes=step)
            hist_rows.extend((labels, h, c, s) for h, (c, s) in hour_acc.items())
    backfill_series(counters, raw_since=recent)
    backfill_histograms(hist_rows, minute_since=recent)


def _create_slos() -> list:
    from incidents.slo.services import slo_create

    slos = []
    for name in _service_names():
        slos.append(
            slo_create(name=f"{name} up", service=name, sli_kind="availability", objective_pct=99.9)
        )
        slos.append(
            slo_create(
                name=f"{name} ok", service=name, sli_kind="success_ratio", objective_pct=99.5
            )
        )
        slos.append(
            slo_create(
                name=f"{name} login",
                service=name,
                sli_kind="success_ratio",
                route="/v1/auth/login",
                objective_pct=99.9,
            )
        )
        slos.append(
            slo_create(
                name=f"{name} fast",
                service=name,
                sli_kind="latency",
                threshold_ms=200,
                objective_pct=95,
            )
        )
    return slos


def _cleanup() -> None:
    from alerts.models import AlertRule
    from collectors.models import Series, Service
    from incidents.models import SLO

    names = _service_names()
    slos = list(SLO.objects.filter(service__name__in=names))
    AlertRule.objects.filter(managed_by__in=[f"slo:{s.pk}" for s in slos]).delete()
    SLO.objects.filter(pk__in=[s.pk for s in slos]).delete()
    ids = list(Series.objects.filter(labels__service__in=names).values_list("id", flat=True))
    delete_points(ids)
    Series.objects.filter(id__in=ids).delete()
    Service.objects.filter(name__in=names).delete()


def run() -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from alerts.evaluation import evaluate_rules
    from alerts.models import AlertRule
    from incidents.slo.selectors import slo_list, slo_status, slo_statuses

    _cleanup()  # a run that was interrupted leaves its rows behind
    now = datetime.now(UTC)
    _load(now)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-slos", defaults={"is_staff": True}
    )
    results = []
    try:
        slos = _create_slos()
        ids = {s.pk for s in slos}
        batched, one_by_one = [], []
        for _ in range(CYCLES):
            listed = [s for s in slo_list() if s.pk in ids]
            t = time.perf_counter()
            statuses = slo_statuses(listed)
            batched.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            for slo in listed:
                slo_status(slo, now=statuses[slo.pk].now)
            one_by_one.append((time.perf_counter() - t) * 1000)
        assert all(statuses[s.pk].budget.has_data for s in listed)
        cycle = statistics.median(batched)
        results.append(
            row(
                f"SLO cycle: {len(listed)} SLOs x {DAYS} d, every budget figure (median)",
                cycle,
                "ms",
                reference="one SLO at a time",
                reference_value=statistics.median(one_by_one),
                target="< 1000 ms",
            )
        )
        rules = list(AlertRule.objects.filter(managed_by__in=[f"slo:{pk}" for pk in ids]))
        times = []
        for _ in range(CYCLES):
            t = time.perf_counter()
            evaluate_rules(rules=rules)
            times.append((time.perf_counter() - t) * 1000)
        results.append(
            row(
                f"burn-rate alert cycle: {len(rules)} rules (median)",
                statistics.median(times),
                "ms",
                reference="target",
                reference_value=1000.0,
                target="< 1000 ms",
            )
        )
        client = Client()
        client.force_login(user)
        client.get("/dashboard/slos/")  # warm: imports, template compilation
        renders = []
        for _ in range(RENDERS):
            t = time.perf_counter()
            resp = client.get("/dashboard/slos/")
            renders.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200
        results.append(row("SLO overview render p50", percentile(renders, 0.5), "ms", target="-"))
        results.append(
            row(
                "SLO overview render p95",
                percentile(renders, 0.95),
                "ms",
                reference="target",
                reference_value=300.0,
                target="<= 300 ms",
            )
        )
    finally:
        _cleanup()
        user.delete()
    return results
