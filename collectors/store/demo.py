"""Demo history for the metric store: hosts, request latencies, email volumes and business KPIs.

Values follow daily cycles, slow trends and noise, with two short incidents, so every chart of
a fresh install has a shape worth reading. Older history is written at 5-minute spacing and the
last two days at 1-minute spacing (raw samples included), like a system that has been running.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.conf import settings

from collectors.store import histogram
from collectors.store.backfill import backfill_histograms, backfill_series
from collectors.store.catalog import METRICS
from collectors.store.partitions import truncate_store

HOSTS = {"web-1": 38, "web-2": 42, "worker-1": 49, "db-1": 47}
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]
FEATURES = [
    "campaigns",
    "sequences",
    "warmup",
    "inbox_rotation",
    "analytics",
    "templates",
    "ab_testing",
]
# route -> (method, service, median ms, share of traffic)
ROUTES = {
    "/v1/campaigns": ("GET", "api", 45, 0.22),
    "/v1/campaigns/create": ("POST", "api", 160, 0.05),
    "/v1/contacts": ("GET", "api", 70, 0.18),
    "/v1/emails/send": ("POST", "api", 240, 0.15),
    "/v1/analytics": ("GET", "api", 380, 0.08),
    "/v1/auth/login": ("POST", "api", 120, 0.04),
    "/t/open": ("GET", "tracking", 12, 0.18),
    "/t/click": ("GET", "tracking", 15, 0.10),
}
SIGMA = 0.55  # lognormal spread of request latency


def _daily(ts: datetime, peak_hour: float = 15.0) -> float:
    """0..1 daily cycle peaking mid-afternoon UTC, quieter at weekends."""
    hour = ts.hour + ts.minute / 60
    cycle = 0.5 + 0.5 * math.cos((hour - peak_hour) / 24 * 2 * math.pi)
    return cycle * (0.7 if ts.weekday() >= 5 else 1.0)


def _timeline(start: datetime, now: datetime, recent_from: datetime):
    ts = start
    while ts < now:
        yield ts
        ts += timedelta(minutes=1 if ts >= recent_from else 5)


def _incident(ts: datetime, now: datetime) -> float:
    """1.0 during the two demo incidents (9 days and 2 days ago, 40 and 25 minutes)."""
    for days_ago, minutes in ((9, 40), (2, 25)):
        begin = (now - timedelta(days=days_ago)).replace(
            hour=14, minute=10, second=0, microsecond=0
        )
        if begin <= ts < begin + timedelta(minutes=minutes):
            return 1.0
    return 0.0


def _lognormal_counts(n: int, median_ms: float) -> list[int]:
    """Expected bucket counts of n lognormal latencies (no per-request sampling needed)."""
    counts = histogram.empty()
    mu = math.log(median_ms)
    previous = 0.0
    for i in range(histogram.N_BUCKETS):
        ub = histogram.upper_bound(i)
        cdf = (
            1.0
            if math.isinf(ub)
            else 0.5 * (1 + math.erf((math.log(ub) - mu) / (SIGMA * math.sqrt(2))))
        )
        counts[i] = round(n * (cdf - previous))
        previous = cdf
    return counts


def _host_points(start, now, recent_from, rng, days) -> dict:
    pts: dict = {}
    for host, base in HOSTS.items():
        cores = 8 if host == "db-1" else 4
        for ts in _timeline(start, now, recent_from):
            age_days = (now - ts).total_seconds() / 86400
            trend = (days - age_days) * 0.35  # load grows ~0.35 points a day: a capacity story
            spike = 35 * _incident(ts, now) if host.startswith("web") else 0
            cpu = min(99.0, max(2.0, base + trend + 18 * _daily(ts) + rng.gauss(0, 3) + spike))
            values = {
                "host_cpu_percent": cpu,
                "host_load1": cpu / 100 * cores * rng.uniform(0.9, 1.1),
                "host_load5": cpu / 100 * cores,
                "host_memory_used_percent": min(
                    97.0, 52 + base / 4 + trend * 0.6 + 6 * _daily(ts) + rng.gauss(0, 1)
                ),
                "host_swap_used_percent": max(0.0, 2 + rng.gauss(0, 0.5)),
                "host_disk_read_bytes_per_s": max(0.0, 4e6 * _daily(ts) + rng.gauss(1e6, 3e5)),
                "host_disk_write_bytes_per_s": max(0.0, 7e6 * _daily(ts) + rng.gauss(2e6, 5e5)),
                "host_net_rx_bytes_per_s": max(0.0, 18e6 * _daily(ts) + rng.gauss(3e6, 1e6)),
                "host_net_tx_bytes_per_s": max(0.0, 12e6 * _daily(ts) + rng.gauss(2e6, 1e6)),
                "host_net_errors_per_s": max(0.0, rng.gauss(0.02, 0.02)),
                "host_process_count": float(int(190 + 40 * _daily(ts) + rng.gauss(0, 5))),
            }
            for metric, value in values.items():
                pts.setdefault((metric, (("host", host),)), []).append((ts, value))
            disk = min(99.0, 58 + base / 10 + (days - age_days) * 0.25 + rng.gauss(0, 0.05))
            pts.setdefault(("host_disk_used_percent", (("host", host), ("mount", "/"))), []).append(
                (ts, disk)
            )
    return pts


def _request_data(start, now, recent_from, rng) -> tuple[dict, list]:
    counters: dict = {}
    hist_rows: list = []
    hour_acc: dict = {}
    for ts in _timeline(start, now, recent_from):
        minutes = 1 if ts >= recent_from else 5
        load = 250 + 1100 * _daily(ts)
        bad = _incident(ts, now)
        for route, (method, service, median, share) in ROUTES.items():
            n = max(1, int(load * share * minutes * rng.uniform(0.9, 1.1)))
            slow = 6.0 if bad and service == "api" else 1.0
            labels = {"service": service, "route": route, "method": method}
            counts = _lognormal_counts(n, median * slow * rng.uniform(0.93, 1.08))
            total = n * median * slow * math.exp(SIGMA**2 / 2)
            if ts >= recent_from:
                hist_rows.append((labels, ts, counts, total))
            else:
                key = (tuple(labels.items()), ts.replace(minute=0))
                acc = hour_acc.setdefault(key, [histogram.empty(), 0.0])
                acc[0] = [a + b for a, b in zip(acc[0], counts, strict=True)]
                acc[1] += total
            err5 = 0.25 if bad and service == "api" else 0.003
            n5 = int(n * err5 * rng.uniform(0.5, 1.5))
            n4 = int(n * 0.012 * rng.uniform(0.5, 1.5))
            for cls, value in (("2xx", n - n4 - n5), ("4xx", n4), ("5xx", n5)):
                key = ("http_requests", tuple(sorted({**labels, "status_class": cls}.items())))
                counters.setdefault(key, []).append((ts, float(value)))
    hist_rows.extend(
        (dict(lbl), ts, counts, total) for (lbl, ts), (counts, total) in hour_acc.items()
    )
    return counters, hist_rows


def _business_points(start, now, rng, days) -> dict:
    pts: dict = {}

    def add(metric, labels, ts, value):
        pts.setdefault((metric, tuple(sorted(labels.items()))), []).append((ts, value))

    ts = start.replace(minute=0)
    while ts < now:
        progress = 1 - (now - ts).total_seconds() / (days * 86400)
        mrr = 182_000 + 14_000 * progress + rng.gauss(0, 150)
        churn = 2.6 - 0.4 * progress + rng.gauss(0, 0.04)
        arpu = 89 + 3 * progress + rng.gauss(0, 0.2)
        add("mrr_usd", {}, ts, mrr)
        add("churn_rate_pct", {}, ts, churn)
        add("arpu_usd", {}, ts, arpu)
        add("ltv_usd", {}, ts, arpu / (churn / 100))
        add("nps", {}, ts, 38 + 6 * progress + rng.gauss(0, 1.0))
        add("trial_conversion_pct", {}, ts, 14.5 + 3 * progress + rng.gauss(0, 0.4))
        add("payment_failure_pct", {}, ts, max(0.2, 1.8 + rng.gauss(0, 0.3)))
        add("tenants_active", {}, ts, float(int(1180 + 90 * progress)))
        add("mau", {}, ts, 21_000 + 2_400 * progress + rng.gauss(0, 60))
        add("dau", {}, ts, 3_000 + 3_200 * _daily(ts) + 400 * progress + rng.gauss(0, 80))
        add("active_sessions", {}, ts, 350 + 1_700 * _daily(ts) + rng.gauss(0, 40))
        add(
            "email_delivery_seconds_p95",
            {},
            ts,
            25 + 20 * _daily(ts) + 90 * _incident(ts, now) + rng.gauss(0, 3),
        )
        for i, tenant in enumerate(TENANTS):
            t = {"tenant": tenant}
            size = 1.0 + i * 0.6
            placement_base = 88.5 if tenant == "umbrella" else 95.5 + (i % 3) * 0.7
            add("inbox_placement_pct", t, ts, min(99.5, placement_base + rng.gauss(0, 0.6)))
            add(
                "support_tickets_opened",
                t,
                ts,
                float(max(0, round(rng.gauss(0.3 * size * _daily(ts) + 0.05, 0.4)))),
            )
            add(
                "campaigns_created",
                t,
                ts,
                float(max(0, round(rng.gauss(0.8 * size * _daily(ts), 0.5)))),
            )
            for j, feature in enumerate(FEATURES):
                adoption = 1.0 / (1 + j * 0.5) * (0.4 if (i + j) % 5 == 0 else 1.0)
                add(
                    "feature_usage",
                    {**t, "feature": feature},
                    ts,
                    float(max(0, round(rng.gauss(6 * size * adoption * _daily(ts), 1.0)))),
                )
            if ts.hour % 6 == 0:
                health = 62 if tenant == "umbrella" else 80 + (i * 7) % 17
                add(
                    "account_health_score",
                    t,
                    ts,
                    max(0.0, min(100.0, health + 4 * progress + rng.gauss(0, 2))),
                )
            if ts.hour == 0:
                add(
                    "support_resolution_hours",
                    t,
                    ts,
                    max(1.0, rng.gauss(9 if tenant != "umbrella" else 22, 2.5)),
                )
                outage = (
                    0.06
                    if tenant in ("acme", "hooli")
                    and _incident(ts.replace(hour=14, minute=20), now)
                    else 0.0
                )
                add("tenant_uptime_pct", t, ts, min(100.0, 99.97 - outage + rng.gauss(0, 0.015)))
        ts += timedelta(hours=1)
    # Email volumes every 5 minutes per tenant.
    ts = start
    while ts < now:
        for i, tenant in enumerate(TENANTS):
            t = {"tenant": tenant}
            sent = max(0, round((20 + 140 * _daily(ts)) * (1 + i * 0.6) * rng.uniform(0.85, 1.15)))
            bounce = 0.045 if tenant == "umbrella" else 0.012
            add("emails_sent", t, ts, float(sent))
            add("emails_bounced", t, ts, float(round(sent * bounce * rng.uniform(0.6, 1.4))))
            add("emails_complained", t, ts, float(round(sent * 0.0006 * rng.uniform(0, 2))))
        ts += timedelta(minutes=5)
    return pts


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    """Replace the store's demo metrics with ``days`` of fresh history ending at ``now``."""
    now = now.replace(second=0, microsecond=0)
    start = (now - timedelta(days=days)).replace(minute=0)
    recent_from = (now - timedelta(days=min(2, days))).replace(minute=0)
    # Host and request samples stay raw as far back as raw retention, as on a running system:
    # alert rules read raw samples, and alerts.demo evaluates them over this history.
    raw_since = max(start, now - timedelta(days=settings.RETENTION_RAW_DAYS))
    truncate_store()
    units = {name: d.unit for name, d in METRICS.items()}
    n = backfill_series(
        _host_points(start, now, recent_from, rng, days), raw_since=raw_since, units=units
    )
    counters, hist_rows = _request_data(start, now, recent_from, rng)
    n += backfill_series(counters, raw_since=raw_since, units=units)
    backfill_histograms(hist_rows, minute_since=recent_from)
    n += backfill_series(
        _business_points(start, now, rng, days), raw_since=recent_from, units=units
    )
    return f"{n:,} metric points over {days} days ({len(HOSTS)} hosts, {len(ROUTES)} routes, {len(TENANTS)} tenants)"
