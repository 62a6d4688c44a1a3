"""The metric names PenguinMon writes and reads, with unit, kind and meaning.

Collectors, demo data and dashboards all use these names; a new metric gets a line here.
Labels in brackets are the ones each series carries; `location?` only on probes that run from
several locations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricDef:
    unit: str
    kind: str  # gauge | counter | histogram (see collectors.models.Series.Kind)
    help: str


G, C, H = "gauge", "counter", "histogram"


def class_ratio(by_class: Mapping[str, float], status_class: str = "5xx") -> float | None:
    """The error ratio (0-1): requests of ``status_class`` over all requests (every class
    counted, 2xx/3xx/4xx/5xx), from ``http_requests`` sums per status class; None without
    requests. The one definition: the query API's ``agg=error_ratio`` is this per bucket, and
    ``class_rate_pct`` (KPI tile, service cards, route table, alert rules) is it in percent."""
    total = sum(by_class.values())
    if not total:
        return None
    return by_class.get(status_class, 0.0) / total


def class_rate_pct(by_class: Mapping[str, float], status_class: str = "5xx") -> float | None:
    """``class_ratio`` in percent."""
    ratio = class_ratio(by_class, status_class)
    return None if ratio is None else 100.0 * ratio


METRICS: dict[str, MetricDef] = {
    # Host sampler [host] (+ [cpu], [mount])
    "host_cpu_percent": MetricDef("%", G, "CPU busy, all cores [host]"),
    "host_cpu_core_percent": MetricDef("%", G, "CPU busy per core [host, cpu]"),
    "host_load1": MetricDef("", G, "1-minute load average [host]"),
    "host_load5": MetricDef("", G, "5-minute load average [host]"),
    "host_load15": MetricDef("", G, "15-minute load average [host]"),
    "host_memory_used_percent": MetricDef("%", G, "memory used [host]"),
    "host_swap_used_percent": MetricDef("%", G, "swap used [host]"),
    "host_disk_used_percent": MetricDef("%", G, "disk used per mount [host, mount]"),
    "host_disk_read_bytes_per_s": MetricDef("B/s", G, "disk reads [host]"),
    "host_disk_write_bytes_per_s": MetricDef("B/s", G, "disk writes [host]"),
    "host_net_rx_bytes_per_s": MetricDef("B/s", G, "network received [host]"),
    "host_net_tx_bytes_per_s": MetricDef("B/s", G, "network sent [host]"),
    "host_net_errors_per_s": MetricDef("1/s", G, "network errors in+out [host]"),
    "host_process_count": MetricDef("", G, "processes [host]"),
    # Probes [service, probe]
    "probe_up": MetricDef(
        "", G, "1 when the probe succeeded, 0 when it failed [service, probe, location?]"
    ),
    "probe_latency_ms": MetricDef("ms", G, "probe round trip [service, probe, location?]"),
    "tls_cert_days_left": MetricDef(
        "d", G, "days until the TLS certificate expires [service, probe, location?]"
    ),
    "smtp_queue_size": MetricDef("", G, "messages waiting in the MTA queue [service]"),
    "db_pool_utilisation_pct": MetricDef("%", G, "connections used / max_connections [service]"),
    "db_query_latency_ms": MetricDef("ms", G, "select 1 round trip [service]"),
    "db_size_bytes": MetricDef("B", G, "database size [service]"),
    "table_ops_per_hour": MetricDef(
        "1/h", G, "inserts+updates+deletes+scans per hour [service, table]"
    ),
    "redis_memory_used_pct": MetricDef("%", G, "used_memory / maxmemory [service]"),
    "redis_hit_rate_pct": MetricDef("%", G, "keyspace hits / (hits+misses) [service]"),
    "redis_connected_clients": MetricDef("", G, "connected clients [service]"),
    "redis_ops_per_s": MetricDef("1/s", G, "instantaneous ops/s [service]"),
    "celery_queue_length": MetricDef("", G, "messages waiting in a Celery queue [queue]"),
    "es_cluster_status": MetricDef("", G, "0 green, 1 yellow, 2 red [service]"),
    "es_unassigned_shards": MetricDef("", G, "unassigned shards [service]"),
    "es_indexing_rate": MetricDef("1/s", G, "documents indexed per second [service]"),
    "olap_query_latency_ms": MetricDef("ms", G, "OLAP query round trip [service]"),
    "olap_storage_bytes": MetricDef("B", G, "OLAP storage used [service]"),
    "collector_lag_seconds": MetricDef(
        "s", G, "how late probes run / age of a host's last sample [source]"
    ),
    # Request timings pushed to POST /api/v1/requests
    "http_request_duration_ms": MetricDef(
        "ms", H, "request latency distribution [service, route, method]"
    ),
    "http_requests": MetricDef("", C, "requests per minute [service, route, method, status_class]"),
    # Email platform and business KPIs pushed by the platform (demo data writes them too)
    "emails_sent": MetricDef("", C, "emails handed to the MTA [tenant]"),
    "emails_bounced": MetricDef("", C, "hard+soft bounces [tenant]"),
    "emails_complained": MetricDef("", C, "spam complaints [tenant]"),
    "email_delivery_seconds_p95": MetricDef("s", G, "p95 time from send to delivery"),
    "inbox_placement_pct": MetricDef("%", G, "seed-test inbox placement [tenant]"),
    "active_sessions": MetricDef("", G, "active user sessions"),
    "dau": MetricDef("", G, "daily active users"),
    "mau": MetricDef("", G, "monthly active users"),
    "mrr_usd": MetricDef("USD", G, "monthly recurring revenue"),
    "churn_rate_pct": MetricDef("%", G, "monthly logo churn"),
    "arpu_usd": MetricDef("USD", G, "average revenue per user"),
    "ltv_usd": MetricDef("USD", G, "customer lifetime value"),
    "nps": MetricDef("", G, "net promoter score"),
    "trial_conversion_pct": MetricDef("%", G, "trial to paid conversion"),
    "payment_failure_pct": MetricDef("%", G, "failed payment attempts"),
    "campaigns_created": MetricDef("", C, "campaigns created [tenant]"),
    "feature_usage": MetricDef("", C, "feature uses [feature, tenant]"),
    "support_tickets_opened": MetricDef("", C, "support tickets opened [tenant]"),
    "support_resolution_hours": MetricDef("h", G, "mean ticket resolution time [tenant]"),
    "account_health_score": MetricDef("", G, "0-100 account health [tenant]"),
    "tenant_uptime_pct": MetricDef("%", G, "uptime seen by the tenant [tenant]"),
    "tenants_active": MetricDef("", G, "active tenants"),
    # Reputation checks (reputation app) [ip]
    "ip_reputation_score": MetricDef("", G, "0-100 sending IP reputation score [ip]"),
    "ip_listed_major": MetricDef(
        "", G, "1 when the IP is on a major blocklist (Spamhaus, Barracuda) [ip]"
    ),
    # PenguinMon's own doors (collectors.security; seed 000 §11), counted per 15 s
    "security_logins": MetricDef("", C, "login attempts [result: success|failure]"),
    "security_lockouts": MetricDef(
        "", C, "logins refused by a django-axes lockout (the one that locks, and each after)"
    ),
    "security_forbidden": MetricDef("", C, "requests answered 403, all routes"),
    "security_forbidden_by_route": MetricDef(
        "", C, "requests answered 403 [route, actor: username or token prefix]"
    ),
    "security_token_new_address": MetricDef(
        "",
        C,
        "API token used from an address new to it (forgotten 30 days after its last use) [token]",
    ),
    "security_audit_events": MetricDef("", C, "audit log entries written [action]"),
}


# Written only by PenguinMon's own writers (probes and service checks, the queue sampler, the
# reputation checks): the API refuses them, so a token cannot overwrite a probe's result and
# hide an outage (re-posting probe_up=1 at the probe's timestamps once did). Host metrics are
# not here: `collect_host --push` sends them through the API from hosts without a worker.
RESERVED: frozenset[str] = frozenset(
    {
        "probe_up",
        "probe_latency_ms",
        "tls_cert_days_left",
        "smtp_queue_size",
        "db_pool_utilisation_pct",
        "db_query_latency_ms",
        "db_size_bytes",
        "table_ops_per_hour",
        "redis_memory_used_pct",
        "redis_hit_rate_pct",
        "redis_connected_clients",
        "redis_ops_per_s",
        "celery_queue_length",
        "es_cluster_status",
        "es_unassigned_shards",
        "es_indexing_rate",
        "olap_query_latency_ms",
        "olap_storage_bytes",
        "collector_lag_seconds",
        "ip_reputation_score",
        "ip_listed_major",
    }
)


def metric_def(name: str) -> MetricDef | None:
    return METRICS.get(name)


def metric_labels(name: str) -> frozenset[str]:
    """The labels a catalogued metric carries, from the ``[label, label?]`` list in its help
    (``?``: not always present). Empty for unknown metrics."""
    metric = METRICS.get(name)
    if metric is None or "[" not in metric.help:
        return frozenset()
    inside = metric.help[metric.help.index("[") + 1 : metric.help.rindex("]")]
    return frozenset(part.strip().rstrip("?") for part in inside.split(",") if part.strip())


# Who may read a metric through the API (/api/v1/query, /api/v1/series): the capabilities of
# the pages that show it (penguinmon/roles.py), any one of them suffices. Business figures
# are the executive and customer-success views'; metrics not listed (infrastructure, probes,
# requests, anything pushed under another name) need one of the technical views.
BUSINESS = frozenset(
    {
        "mrr_usd",
        "churn_rate_pct",
        "arpu_usd",
        "ltv_usd",
        "nps",
        "trial_conversion_pct",
        "payment_failure_pct",
        "tenants_active",
        "dau",
        "mau",
    }
)
CUSTOMER = frozenset(
    {
        "emails_sent",
        "emails_bounced",
        "emails_complained",
        "email_delivery_seconds_p95",
        "inbox_placement_pct",
        "campaigns_created",
        "feature_usage",
        "support_tickets_opened",
        "support_resolution_hours",
        "account_health_score",
        "tenant_uptime_pct",
        # On the operations page's load panel too.
        "active_sessions",
    }
)
REPUTATION = frozenset({"ip_reputation_score", "ip_listed_major"})
# Logins, 403s by user and audit activity are shown on the operations page only.
SECURITY_PREFIX = "security_"
# Technical metrics the executive page shows as well (its service-availability tile).
EXECUTIVE_TOO = frozenset({"probe_up"})
TECHNICAL_VIEWS = ("view_infrastructure", "view_services", "view_operations", "view_development")


def read_capabilities(metric: str) -> tuple[str, ...]:
    """The capabilities that may read ``metric`` (any one of them)."""
    if metric in BUSINESS:
        return ("view_executive", "view_customer_success")
    if metric in CUSTOMER:
        return ("view_customer_success", "view_operations")
    if metric in REPUTATION:
        return ("view_reputation",)
    if metric.startswith(SECURITY_PREFIX):
        return ("view_operations",)
    if metric in EXECUTIVE_TOO:
        return (*TECHNICAL_VIEWS, "view_executive")
    return TECHNICAL_VIEWS
