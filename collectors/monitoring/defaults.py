"""The services and probes PenguinMon starts with (created once by migration 0003, and by the
demo loader); everything here is editable in admin afterwards and is never overwritten.

Targets PenguinMon can reach on a fresh install (its own database, Redis, API, queues) are
enabled; targets that only exist in a real deployment (MTA, Elasticsearch, ClickHouse, the
email and payment providers) start disabled with an example address to edit.
"""

from __future__ import annotations


def _status_page_probe(url: str) -> dict:
    # An external provider's public status page (Statuspage JSON); off until edited in admin.
    return {
        "name": "status",
        "kind": "http",
        "interval_seconds": 60,
        "timeout_seconds": 10,
        "enabled": False,
        "config": {"url": url, "keyword": "indicator"},
    }


DEFAULT_SERVICES: list[dict] = [
    {
        "name": "api",
        "display_name": "API Server",
        "kind": "api",
        "position": 10,
        "degraded_latency_ms": 1000,
        "description": "The platform's HTTP API. Points at PenguinMon's own /api/health until "
        "the platform's health URL is set in admin.",
        "probes": [
            {
                "name": "health",
                "kind": "http",
                "interval_seconds": 30,
                "timeout_seconds": 5,
                "config": {"url": "http://127.0.0.1:8000/api/health", "expected_status": 200},
            }
        ],
    },
    {
        "name": "smtp",
        "display_name": "SMTP Service",
        "kind": "smtp",
        "position": 20,
        "degraded_latency_ms": 2000,
        "description": "The outbound MTA: banner, EHLO, STARTTLS and the queue backlog.",
        "probes": [
            {
                "name": "mta",
                "kind": "smtp",
                "interval_seconds": 60,
                "timeout_seconds": 10,
                "enabled": False,
                "config": {
                    "host": "127.0.0.1",
                    "port": 25,
                    "require_starttls": True,
                    "queue_command": ["postqueue", "-j"],
                    "queue_degraded": 10000,
                },
            }
        ],
    },
    {
        "name": "oltp-db",
        "display_name": "OLTP Database",
        "kind": "oltp",
        "position": 30,
        "degraded_latency_ms": 200,
        "description": "PostgreSQL: connection pool, query latency, table traffic, slow statements. "
        "Probes PenguinMon's own database until a DSN is set.",
        "probes": [
            {
                "name": "postgres",
                "kind": "postgres",
                "interval_seconds": 30,
                "timeout_seconds": 5,
                "config": {"dsn": "", "pool_degraded_pct": 80, "statements": 5},
            }
        ],
    },
    {
        "name": "redis",
        "display_name": "Redis Cache",
        "kind": "cache",
        "position": 40,
        "degraded_latency_ms": 50,
        "description": "Redis: hit rate, memory, clients, ops/s. PenguinMon's own Redis by default.",
        "probes": [
            {
                "name": "redis",
                "kind": "redis",
                "interval_seconds": 15,
                "timeout_seconds": 3,
                "config": {"url": "", "memory_degraded_pct": 90},
            }
        ],
    },
    {
        "name": "elasticsearch",
        "display_name": "Elasticsearch",
        "kind": "search",
        "position": 50,
        "degraded_latency_ms": 1000,
        "description": "Cluster health colour, unassigned shards, indexing rate.",
        "probes": [
            {
                "name": "cluster",
                "kind": "elasticsearch",
                "interval_seconds": 30,
                "timeout_seconds": 5,
                "enabled": False,
                "config": {"url": "http://127.0.0.1:9200"},
            }
        ],
    },
    {
        "name": "olap-db",
        "display_name": "OLAP Database",
        "kind": "olap",
        "position": 60,
        "degraded_latency_ms": 1000,
        "description": "ClickHouse over HTTP: ping, query latency, storage used.",
        "probes": [
            {
                "name": "clickhouse",
                "kind": "clickhouse",
                "interval_seconds": 60,
                "timeout_seconds": 10,
                "enabled": False,
                "config": {"url": "http://127.0.0.1:8123", "query": "SELECT 1"},
            }
        ],
    },
    {
        "name": "celery-queue",
        "display_name": "Celery Queue",
        "kind": "queue",
        "position": 70,
        "parent": "redis",
        "degraded_latency_ms": 100,
        "description": "Messages waiting in the Celery queues (default and per-host).",
        "probes": [
            {
                "name": "backlog",
                "kind": "redis",
                "interval_seconds": 15,
                "timeout_seconds": 3,
                # Naming the queues puts the redis probe in its queue role (see probes/redis.py).
                "config": {"url": "", "queues": "auto", "backlog_degraded": 1000},
            }
        ],
    },
    {
        "name": "collector-lag",
        "display_name": "Collector Lag",
        "kind": "collector",
        "position": 80,
        "degraded_latency_ms": 2000,
        "description": "Whether PenguinMon's own probes and host samples run on time.",
        "probes": [
            {
                "name": "lag",
                "kind": "lag",
                "interval_seconds": 60,
                "timeout_seconds": 5,
                "config": {
                    "degraded_seconds": 60,
                    "down_seconds": 300,
                    "host_max_age_seconds": 120,
                },
            }
        ],
    },
    {
        "name": "email-provider",
        "display_name": "Email Service Provider",
        "kind": "external",
        "position": 90,
        "degraded_latency_ms": 2000,
        "description": "The email service provider's API (external dependency).",
        "probes": [_status_page_probe("https://status.sendgrid.com/api/v2/status.json")],
    },
    {
        "name": "payment-processor",
        "display_name": "Payment Processor",
        "kind": "external",
        "position": 100,
        "degraded_latency_ms": 2000,
        "description": "The payment processor's API (external dependency).",
        "probes": [_status_page_probe("https://status.stripe.com/api/v2/status.json")],
    },
]


def create_defaults(service_model, probe_model) -> int:
    """Create the default services and probes that do not exist yet; returns how many were made.

    Takes the model classes so the data migration can pass its historical models.
    """
    created = 0
    by_name, made_now = {}, set()
    for spec in DEFAULT_SERVICES:
        fields = {k: v for k, v in spec.items() if k not in ("name", "probes", "parent")}
        service, made = service_model.objects.get_or_create(name=spec["name"], defaults=fields)
        by_name[spec["name"]] = service
        created += made
        if made:
            made_now.add(spec["name"])
            for probe in spec["probes"]:
                probe_model.objects.create(service=service, **probe)
    for spec in DEFAULT_SERVICES:
        parent = by_name.get(spec.get("parent"))
        service = by_name[spec["name"]]
        # Only services made just now get their default parent: an admin's edit stands.
        if parent is not None and spec["name"] in made_now:
            service.parent = parent
            service.save(update_fields=["parent"])
    return created
