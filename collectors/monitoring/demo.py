"""Demo history for services and probes: 30 days of probe results and the numbers each probe
kind collects, with a few outages. The statuses are not written by hand: the results are
replayed through the live path's own steps (``collectors.monitoring.probing.replay_history``), so each
outage becomes the status changes, uptime and reasons a running PenguinMon would have recorded,
and alerts.demo derives its "Service down" alerts from the same probe_up samples.

Only enabled probes have results: a service whose probe is disabled on a fresh install (the
MTA, Elasticsearch, ClickHouse, the providers) is "not monitored", with no uptime figure.

Runs after collectors.store.demo (which empties the metric store); it replaces its own rows: status
changes, the probes' last results and the demo hosts' process snapshots.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from collectors.models import Host, Probe, Service, Status, StatusChange
from collectors.monitoring.config import ensure_default_services
from collectors.monitoring.probes import ProbeResult
from collectors.monitoring.probes.postgres import traffic_level
from collectors.monitoring.probing import replay_history
from collectors.store.backfill import backfill_series
from collectors.store.catalog import METRICS
from collectors.store.demo import HOSTS, _daily, _timeline

# The seed's table traffic (operations/hour ranges).
TABLES = {
    "email_messages": (100_000, 1_000_000),
    "content_inbox_message_refs": (100_000, 1_000_000),
    "inbox_message_refs": (100_000, 1_000_000),
    "content_objects": (200_000, 2_000_000),
    "email_opens": (200_000, 2_000_000),
    "email_clicks": (50_000, 500_000),
    "campaign_sequence_steps": (50_000, 500_000),
    "campaigns": (5_000, 50_000),
    "attachments": (100_000, 500_000),
    "jobs": (10_000, 100_000),
    "job_logs": (5_000, 50_000),
    "daily_analytics": (1_000, 10_000),
    "campaign_analytics": (500, 5_000),
    "billing_analytics": (100, 1_000),
}
# Typical latency (ms) of each default probe when all is well.
BASE_LATENCY = {
    "api": 85,
    "smtp": 140,
    "oltp-db": 4,
    "redis": 0.6,
    "elasticsearch": 35,
    "olap-db": 25,
    "celery-queue": 0.7,
    "collector-lag": 6,
    "email-provider": 210,
    "payment-processor": 180,
}


@dataclass(frozen=True)
class Outage:
    service: str
    days_ago: float
    minutes: int
    status: str  # down | degraded: what the probe reports while it lasts
    message: str  # the probe's message during it

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        begin = (now - timedelta(days=self.days_ago)).replace(second=0, microsecond=0)
        return begin, begin + timedelta(minutes=self.minutes)


def _outages(now: datetime) -> list[Outage]:
    # The 9-day and 2-day ones line up with collectors.store.demo's request incidents (14:10 UTC).
    # All are inside raw retention, where alert rules (which read raw samples) can see them.
    at_1410 = lambda days: days + ((now.hour + now.minute / 60) - (14 + 10 / 60)) / 24  # noqa: E731
    return [
        Outage("api", at_1410(9), 40, Status.DOWN, "HTTP 503, expected 200"),
        Outage("oltp-db", at_1410(2), 25, Status.DEGRADED, "connection pool 92% used (276/300)"),
        Outage("api", 5.3, 15, Status.DOWN, "timed out after 5 s (no answer)"),
        Outage("redis", 11.6, 12, Status.DOWN, "timed out after 3 s"),
        # The queue lives in that Redis: its probe fails too, then shows the backlog.
        Outage("celery-queue", 11.6, 12, Status.DOWN, "timed out after 3 s"),
        Outage(
            "celery-queue",
            11.6 - 12 / 1440,
            10,
            Status.DEGRADED,
            "queue backlog: celery 4210",
        ),
    ]


# An SMTP queue backlog (its probe is disabled on a fresh install: the queue size series is
# what the platform pushes), during the 9-day-old incident.
def _smtp_backlog(ts: datetime, now: datetime) -> float | None:
    begin = (now - timedelta(days=9)).replace(hour=14, minute=10, second=0, microsecond=0)
    if begin <= ts < begin + timedelta(minutes=40):
        return (ts - begin).total_seconds() / (40 * 60)
    return None


def _probe_result(probe: Probe, hit: Outage | None, latency_ms: float) -> ProbeResult:
    """What the probe would have returned: a failure, a degraded answer or a normal one."""
    if hit and hit.status == Status.DOWN:
        return ProbeResult.failure(hit.message, latency_ms=probe.timeout_seconds * 1000)
    if hit:
        return ProbeResult(ok=True, latency_ms=latency_ms, degraded=True, message=hit.message)
    return ProbeResult(ok=True, latency_ms=latency_ms, message=f"ok in {latency_ms:.0f} ms")


def _in(outages: list[Outage], service: str, ts: datetime, now: datetime) -> Outage | None:
    for o in outages:
        if o.service == service:
            begin, end = o.window(now)
            if begin <= ts < end:
                return o
    return None


def _points(start, now, recent_from, rng, outages, days, probes) -> tuple[dict, dict, list]:
    """(probe points, other metric points, probe runs to replay). ``probes``: the enabled ones."""
    pts: dict = {}
    probe_pts: dict = {}
    runs: list[tuple[datetime, dict[int, tuple[ProbeResult, int]]]] = []

    def put(metric: str, labels: dict, ts: datetime, value: float, into=pts) -> None:
        into.setdefault((metric, tuple(sorted(labels.items()))), []).append((ts, float(value)))

    ticks = [*_timeline(start, now, recent_from), now]
    for ts, following in zip(ticks, [*ticks[1:], now + timedelta(minutes=1)], strict=True):
        day = _daily(ts)
        age = (now - ts).total_seconds() / 86400
        step_s = (following - ts).total_seconds()
        results: dict[int, tuple[ProbeResult, int]] = {}
        for probe in probes:
            svc = probe.service.name
            hit = _in(outages, svc, ts, now)
            labels = {"service": svc, "probe": probe.name}
            base = BASE_LATENCY.get(svc, 50) * (1 + 0.6 * day) * rng.lognormvariate(0, 0.15)
            result = _probe_result(probe, hit, round(base, 2))
            # One replayed tick stands for every run of the probe in that step.
            results[probe.pk] = (result, max(1, int(step_s // probe.interval_seconds)))
            put("probe_up", labels, ts, 1 if result.ok else 0, probe_pts)
            put("probe_latency_ms", labels, ts, result.latency_ms, probe_pts)
            if probe.kind == "http" and str(probe.config.get("url", "")).startswith("https"):
                put("tls_cert_days_left", labels, ts, 81 - (days - age), probe_pts)
        runs.append((ts, results))
        if ts == now:
            break  # the last run: the probes' current result, no other numbers
        incident = {s: _in(outages, s, ts, now) for s in ("oltp-db", "celery-queue")}
        queue = 400 + 2600 * day + rng.gauss(0, 120)
        if (backlog := _smtp_backlog(ts, now)) is not None:
            queue = 3000 + 11_500 * backlog
        put("smtp_queue_size", {"service": "smtp"}, ts, max(0, round(queue)))
        pool = 92 if incident["oltp-db"] else 22 + 38 * day + rng.gauss(0, 3)
        put("db_pool_utilisation_pct", {"service": "oltp-db"}, ts, min(100, max(5, pool)))
        put(
            "db_query_latency_ms",
            {"service": "oltp-db"},
            ts,
            (0.6 + 1.4 * day) * rng.lognormvariate(0, 0.2) * (6 if incident["oltp-db"] else 1),
        )
        put("db_size_bytes", {"service": "oltp-db"}, ts, 41e9 + (days - age) * 95e6)
        for table, (low, high) in TABLES.items():
            span = math.log(high / low)
            ops = low * math.exp(span * (0.1 + 0.8 * day)) * rng.lognormvariate(0, 0.08)
            ops = min(high, max(low, ops))  # noise stays inside the seed's traffic band
            put("table_ops_per_hour", {"service": "oltp-db", "table": table}, ts, round(ops))
        put(
            "redis_memory_used_pct",
            {"service": "redis"},
            ts,
            48 + 0.4 * (days - age) + 6 * day + rng.gauss(0, 0.5),
        )
        put(
            "redis_hit_rate_pct",
            {"service": "redis"},
            ts,
            min(99.9, 96.5 + 2 * (1 - day) + rng.gauss(0, 0.3)),
        )
        put(
            "redis_connected_clients",
            {"service": "redis"},
            ts,
            round(60 + 90 * day + rng.gauss(0, 4)),
        )
        put(
            "redis_ops_per_s",
            {"service": "redis"},
            ts,
            max(0, 1800 + 9000 * day + rng.gauss(0, 300)),
        )
        backlog = (
            4210
            if incident["celery-queue"] and incident["celery-queue"].status == Status.DEGRADED
            else max(0, round(5 + 60 * day * rng.random()))
        )
        put("celery_queue_length", {"queue": "celery"}, ts, backlog)
        put(
            "celery_queue_length",
            {"queue": "host-worker-1"},
            ts,
            max(0, round(rng.gauss(0.3, 0.6))),
        )
        put("es_cluster_status", {"service": "elasticsearch"}, ts, 0)
        put("es_unassigned_shards", {"service": "elasticsearch"}, ts, 0)
        put(
            "es_indexing_rate",
            {"service": "elasticsearch"},
            ts,
            max(0, 150 + 900 * day + rng.gauss(0, 40)),
        )
        put(
            "olap_query_latency_ms",
            {"service": "olap-db"},
            ts,
            (18 + 40 * day) * rng.lognormvariate(0, 0.25),
        )
        put("olap_storage_bytes", {"service": "olap-db"}, ts, 310e9 + (days - age) * 1.6e9)
        put("collector_lag_seconds", {"source": "probes"}, ts, max(0, rng.gauss(1.2, 0.8)))
    return probe_pts, pts, runs


# What pg_stat_statements shows on a busy sending platform (shape of the probe's own result).
DEMO_STATEMENTS = [
    (
        "SELECT * FROM email_messages WHERE campaign_id = $1 AND status = $2 ORDER BY created_at DESC LIMIT $3",
        182_340,
        48.2,
    ),
    (
        "UPDATE inbox_message_refs SET state = $1, updated_at = now() WHERE message_id = ANY($2)",
        96_410,
        31.7,
    ),
    ("SELECT count(*) FROM email_opens WHERE tenant_id = $1 AND opened_at >= $2", 12_880, 27.9),
    (
        "INSERT INTO job_logs (job_id, level, message, created_at) VALUES ($1, $2, $3, $4)",
        410_220,
        6.4,
    ),
    (
        "SELECT c.* FROM campaigns c JOIN campaign_sequence_steps s ON s.campaign_id = c.id WHERE c.tenant_id = $1",
        8_910,
        19.3,
    ),
]


def _details() -> dict[str, dict]:
    """What each probe kind shows on the page from its last run (real runs replace it)."""
    return {
        "smtp": {
            "banner": "220 mx1.penguinmails.example ESMTP Postfix",
            "starttls": True,
            "queue_size": 1840,
        },
        "oltp-db": {
            "pool_utilisation_pct": 41.3,
            "select1_ms": 1.2,
            "size_bytes": 43.8e9,
            "connections": 124,
            "max_connections": 300,
            "slowest_statements": [
                {"query": q, "calls": calls, "mean_ms": mean, "total_ms": round(calls * mean, 1)}
                for q, calls, mean in DEMO_STATEMENTS
            ],
            "tables": sorted(
                (
                    {
                        "table": t,
                        "ops_per_hour": int(math.sqrt(lo * hi)),
                        "level": traffic_level(math.sqrt(lo * hi)),
                    }
                    for t, (lo, hi) in TABLES.items()
                ),
                key=lambda r: -r["ops_per_hour"],
            ),
        },
        "redis": {
            "hit_rate_pct": 97.8,
            "memory_pct": 58.1,
            "queues": {"celery": 12, "host-worker-1": 0},
        },
        "celery-queue": {
            "hit_rate_pct": 97.8,
            "memory_pct": 58.1,
            "queues": {"celery": 12, "host-worker-1": 0},
        },
        "elasticsearch": {"status": "green", "unassigned_shards": 0, "indexing_rate": 640.5},
        "olap-db": {"query_ms": 31.4, "storage_bytes": 358e9},
        "collector-lag": {"probe_lag_s": 1.1},
    }


PROCESSES = {
    "web-1": ["gunicorn", "gunicorn", "nginx", "node", "celery"],
    "web-2": ["gunicorn", "gunicorn", "nginx", "node", "sshd"],
    "worker-1": ["celery", "celery", "celery", "postfix/smtpd", "redis-server"],
    "db-1": ["postgres", "postgres", "postgres", "pgbouncer", "node_exporter"],
}


def _demo_hosts(now: datetime, rng: random.Random) -> None:
    """Process snapshots for collectors.store.demo's hosts (they have no worker: nothing is sent to them)."""
    for name, base in HOSTS.items():
        procs = [
            {
                "pid": rng.randint(300, 60_000),
                "name": proc,
                "cpu_percent": round(base / (i + 1.5), 1),
                "memory_percent": round(18 / (i + 1), 2),
                "rss_bytes": int(6e9 / (i + 1)),
            }
            for i, proc in enumerate(PROCESSES[name])
        ]
        fields = {
            "has_worker": False,
            "last_sample_at": now,
            "cpu_percent": float(base),
            "memory_percent": 52 + base / 4,
            "process_count": 210,
            "disks": {"/": 60 + base / 10},
            "top_cpu": procs,
            "top_memory": sorted(procs, key=lambda p: -p["rss_bytes"]),
        }
        Host.objects.update_or_create(name=name, defaults=fields)


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    now = now.replace(second=0, microsecond=0)
    start = (now - timedelta(days=days)).replace(minute=0)
    recent_from = (now - timedelta(days=min(2, days))).replace(minute=0)
    ensure_default_services()
    StatusChange.objects.all().delete()
    outages = _outages(now)
    services = list(
        Service.objects.select_related("parent").prefetch_related("probes__location_results")
    )
    for service in services:  # history starts before monitoring did
        service.status, service.status_since, service.status_reason = Status.UNKNOWN, None, ""
    probes = [p for s in services for p in s.probes.all()]
    enabled = [p for p in probes if p.enabled]
    probe_pts, pts, runs = _points(start, now, recent_from, rng, outages, days, enabled)
    units = {name: d.unit for name, d in METRICS.items()}
    # Raw samples as far back as raw retention, as on a running system: alert rules read them.
    raw_since = max(start, now - timedelta(days=settings.RETENTION_RAW_DAYS))
    n = backfill_series(pts, raw_since=raw_since, units=units)
    n += backfill_series(probe_pts, raw_since=raw_since, units=units)
    changes = replay_history(runs, services=services)
    StatusChange.objects.bulk_create(changes)
    Service.objects.bulk_update(services, ["status", "status_since", "status_reason"])
    details = _details()
    for probe in probes:
        if probe.enabled:
            probe.last_details = details.get(probe.service.name, {"status": 200})
        else:  # never ran: no result to show
            for name in Probe.RESULT_FIELDS:
                setattr(probe, name, Probe._meta.get_field(name).get_default())
        probe.next_run_at = None
    Probe.objects.bulk_update(probes, [*Probe.RESULT_FIELDS, "next_run_at"])
    _demo_hosts(now, rng)
    shown = sum(1 for o in outages if o.window(now)[0] >= start)
    return f"{n:,} probe metric points, {len(changes)} status changes, {shown} outages over {days} days"
