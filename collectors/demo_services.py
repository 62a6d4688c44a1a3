"""Demo history for services and probes: 30 days of probe results, the numbers each probe kind
collects, and the status changes they caused, with a few short outages, so the services page
shows real uptime percentages and charts on a fresh install.

Runs after collectors.demo (which empties the metric store); it replaces its own rows: status
changes, the probes' last results and the demo hosts' process snapshots.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.catalog import METRICS
from collectors.demo import HOSTS, _daily, _timeline
from collectors.models import Host, Probe, Service, Status, StatusChange
from collectors.probes.postgres import traffic_level
from collectors.services import ensure_default_services
from collectors.store.backfill import backfill_series

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
    status: str  # down | degraded
    reason: str

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        begin = (now - timedelta(days=self.days_ago)).replace(second=0, microsecond=0)
        return begin, begin + timedelta(minutes=self.minutes)


def _outages(now: datetime) -> list[Outage]:
    # The 9-day and 2-day ones line up with collectors.demo's incidents (14:10 UTC).
    at_1410 = lambda days: days + ((now.hour + now.minute / 60) - (14 + 10 / 60)) / 24  # noqa: E731
    return [
        Outage("smtp", at_1410(9), 40, Status.DOWN, "mta: 3 failures in a row: connection refused"),
        Outage("api", at_1410(9), 40, Status.DEGRADED, "health: slow, 2350 ms > 1000 ms"),
        Outage(
            "oltp-db",
            at_1410(2),
            25,
            Status.DEGRADED,
            "postgres: connection pool 92% used (276/300)",
        ),
        Outage("elasticsearch", 5.3, 12, Status.DOWN, "cluster: cluster red, 14 unassigned shards"),
        Outage("redis", 15.6, 4, Status.DOWN, "redis: 3 failures in a row: timed out after 3 s"),
        Outage("celery-queue", 15.6, 9, Status.DEGRADED, "backlog: queue backlog: celery 4210"),
        Outage(
            "payment-processor",
            21.2,
            18,
            Status.DOWN,
            "status: 3 failures in a row: HTTP 503, expected 2xx/3xx",
        ),
    ]


def _in(outages: list[Outage], service: str, ts: datetime, now: datetime) -> Outage | None:
    for o in outages:
        begin, end = o.window(now)
        if o.service == service and begin <= ts < end:
            return o
    return None


def _points(start, now, recent_from, rng, outages, days) -> dict:
    pts: dict = {}

    def put(metric: str, labels: dict, ts: datetime, value: float) -> None:
        pts.setdefault((metric, tuple(sorted(labels.items()))), []).append((ts, float(value)))

    probes = list(Probe.objects.select_related("service"))
    for ts in _timeline(start, now, recent_from):
        day = _daily(ts)
        age = (now - ts).total_seconds() / 86400
        for probe in probes:
            svc = probe.service.name
            hit = _in(outages, svc, ts, now)
            labels = {"service": svc, "probe": probe.name}
            base = BASE_LATENCY.get(svc, 50) * (1 + 0.6 * day) * rng.lognormvariate(0, 0.15)
            if hit and hit.status == Status.DOWN:
                put("probe_up", labels, ts, 0)
                put("probe_latency_ms", labels, ts, probe.timeout_seconds * 1000)
                continue
            put("probe_up", labels, ts, 1)
            put("probe_latency_ms", labels, ts, base * (14 if hit else 1))
            if probe.kind == "http" and str(probe.config.get("url", "")).startswith("https"):
                put(
                    "tls_cert_days_left",
                    labels,
                    ts,
                    64 - (days - age) if svc == "email-provider" else 81 - (days - age),
                )
        incident = {
            s: _in(outages, s, ts, now)
            for s in ("smtp", "oltp-db", "elasticsearch", "celery-queue")
        }
        queue = 400 + 2600 * day + rng.gauss(0, 120)
        if incident["smtp"]:
            queue = 3000 + 11_500 * (ts - incident["smtp"].window(now)[0]).total_seconds() / (
                40 * 60
            )
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
        backlog = 4210 if incident["celery-queue"] else max(0, round(5 + 60 * day * rng.random()))
        put("celery_queue_length", {"queue": "celery"}, ts, backlog)
        put(
            "celery_queue_length",
            {"queue": "host-worker-1"},
            ts,
            max(0, round(rng.gauss(0.3, 0.6))),
        )
        es = incident["elasticsearch"]
        put("es_cluster_status", {"service": "elasticsearch"}, ts, 2 if es else 0)
        put("es_unassigned_shards", {"service": "elasticsearch"}, ts, 14 if es else 0)
        put(
            "es_indexing_rate",
            {"service": "elasticsearch"},
            ts,
            0 if es else max(0, 150 + 900 * day + rng.gauss(0, 40)),
        )
        put(
            "olap_query_latency_ms",
            {"service": "olap-db"},
            ts,
            (18 + 40 * day) * rng.lognormvariate(0, 0.25),
        )
        put("olap_storage_bytes", {"service": "olap-db"}, ts, 310e9 + (days - age) * 1.6e9)
        put("collector_lag_seconds", {"source": "probes"}, ts, max(0, rng.gauss(1.2, 0.8)))
    return pts


def _status_history(
    services: dict[str, Service], start: datetime, now: datetime, outages: list[Outage]
) -> int:
    rows = []
    for name, service in services.items():
        rows.append(
            StatusChange(
                service=service,
                at=start,
                old_status=Status.UNKNOWN,
                new_status=Status.HEALTHY,
                reason="monitoring started",
            )
        )
        for o in sorted(
            (o for o in outages if o.service == name), key=lambda o: o.days_ago, reverse=True
        ):
            begin, end = o.window(now)
            if begin < start or end > now:
                continue
            rows.append(
                StatusChange(
                    service=service,
                    at=begin,
                    old_status=Status.HEALTHY,
                    new_status=o.status,
                    reason=o.reason,
                )
            )
            rows.append(
                StatusChange(
                    service=service,
                    at=end,
                    old_status=o.status,
                    new_status=Status.HEALTHY,
                    reason="recovered",
                )
            )
    StatusChange.objects.bulk_create(rows)
    return len(rows)


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


def _last_results(now: datetime, rng: random.Random) -> None:
    """The probes' last results as the page shows them (real runs replace them)."""
    details = {
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
    probes = list(Probe.objects.select_related("service"))
    for probe in probes:
        name = probe.service.name
        probe.last_run_at = now
        probe.last_ok = True
        probe.last_degraded = False
        probe.last_latency_ms = round(BASE_LATENCY.get(name, 50) * rng.uniform(0.9, 1.4), 2)
        probe.last_details = details.get(name, {"status": 200})
        probe.last_message = f"{probe.name}: ok in {probe.last_latency_ms:.0f} ms"
        probe.consecutive_failures = 0
        probe.next_run_at = None
    Probe.objects.bulk_update(
        probes,
        [
            "last_run_at",
            "last_ok",
            "last_degraded",
            "last_latency_ms",
            "last_details",
            "last_message",
            "consecutive_failures",
            "next_run_at",
        ],
    )


PROCESSES = {
    "web-1": ["gunicorn", "gunicorn", "nginx", "node", "celery"],
    "web-2": ["gunicorn", "gunicorn", "nginx", "node", "sshd"],
    "worker-1": ["celery", "celery", "celery", "postfix/smtpd", "redis-server"],
    "db-1": ["postgres", "postgres", "postgres", "pgbouncer", "node_exporter"],
}


def _demo_hosts(now: datetime, rng: random.Random) -> None:
    """Process snapshots for collectors.demo's hosts (they have no worker: nothing is sent to them)."""
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
    units = {name: d.unit for name, d in METRICS.items()}
    n = backfill_series(
        _points(start, now, recent_from, rng, outages, days), raw_since=recent_from, units=units
    )
    services = {s.name: s for s in Service.objects.all()}
    flips = _status_history(services, start, now, outages)
    for service in services.values():
        last = service.status_changes.order_by("-at").first()
        Service.objects.filter(pk=service.pk).update(
            status=Status.HEALTHY,
            status_since=last.at if last else start,
            status_reason="all probes healthy",
        )
    _last_results(now, rng)
    _demo_hosts(now, rng)
    shown = sum(1 for o in outages if o.window(now)[0] >= start)
    return f"{n:,} probe metric points, {flips} status changes, {shown} outages over {days} days"
