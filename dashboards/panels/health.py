"""The service health grid (seed 004): one traffic-light card per service.

Status is now (the newest probe results and gauges); the numbers on a card are over the
selected range. Green = every probe up and every gauge inside its limit; yellow = answering but
a probe failed or a gauge is past its limit (seed 000 §6 thresholds); red = every probe down;
grey = nothing reported in the last 10 minutes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from collectors.selectors import latest_values, list_series, window_values
from dashboards import selectors
from dashboards.panels.base import Panel, Table
from dashboards.timerange import TimeRange

FRESH = timedelta(minutes=10)
HIST = "http_request_duration_ms"

# gauge -> (label on the card, unit, limit past which the service is degraded, higher is worse)
GAUGES: dict[str, tuple[str, str, float | None, bool]] = {
    "smtp_queue_size": ("SMTP queue", "", 10_000, True),
    "db_pool_utilisation_pct": ("DB pool", "%", 80, True),
    "db_query_latency_ms": ("Query latency", "ms", 1000, True),
    "redis_hit_rate_pct": ("Redis hit rate", "%", None, False),
    "redis_memory_used_pct": ("Redis memory", "%", 90, True),
    "es_cluster_status": ("ES cluster", "", 0, True),
    "es_unassigned_shards": ("Unassigned shards", "", None, True),
    "olap_query_latency_ms": ("OLAP query", "ms", 3000, True),
    "olap_storage_bytes": ("OLAP storage", "B", None, True),
}
ES_STATUS = {0: "green", 1: "yellow", 2: "red"}
ERROR_RATE_LIMIT_PCT = 5.0  # "High Error Rates: >5% error rate sustained"
P95_LIMIT_MS = 1000.0  # "API Response time p95 > 1s"


@dataclass
class ServiceCard:
    name: str
    status: str = "unknown"
    reasons: list[str] = field(default_factory=list)
    probes_up: int = 0
    probes_total: int = 0
    uptime_pct: float | None = None
    probe_latency_ms: float | None = None
    avg_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    requests_per_min: float | None = None
    error_rate_pct: float | None = None
    gauges: list[tuple[str, str]] = field(default_factory=list)  # (label, formatted value)


def _fmt_gauge(metric: str, value: float) -> str:
    label, unit, _, _ = GAUGES[metric]
    if metric == "es_cluster_status":
        return ES_STATUS.get(int(value), f"{value:g}")
    if unit == "B":
        for suffix in ("B", "KB", "MB", "GB", "TB"):
            if value < 1024 or suffix == "TB":
                return f"{value:,.1f} {suffix}"
            value /= 1024
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "ms":
        return f"{value:,.1f} ms"
    return f"{value:,.0f}"


def service_cards(tr: TimeRange) -> list[ServiceCard]:
    cards: dict[str, ServiceCard] = {}

    def card(name: str) -> ServiceCard:
        return cards.setdefault(name, ServiceCard(name=name))

    for s in list_series(name="probe_up"):
        card(s.labels.get("service", "(unnamed)"))
    for lv in latest_values(metric="probe_up", max_age=FRESH):
        c = card(lv.labels.get("service", "(unnamed)"))
        c.probes_total += 1
        c.probes_up += 1 if lv.value >= 1 else 0
    for labels, v in window_values(metric="probe_up", start=tr.start, end=tr.end, agg="avg"):
        c = card(labels.get("service", "(unnamed)"))
        # Several probes per service: the card shows the worst one.
        c.uptime_pct = min(100 * v, c.uptime_pct if c.uptime_pct is not None else 100.0)
    for svc, v in selectors.per_label(
        "probe_latency_ms", tr.start, tr.end, "service", agg="avg"
    ).items():
        card(svc).probe_latency_ms = v

    http_services = {s.labels.get("service", "") for s in list_series(name=HIST)} - {""}
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, v in window_values(metric="http_requests", start=tr.start, end=tr.end, agg="sum"):
        totals[labels.get("service", "")][labels.get("status_class", "other")] += v
    minutes = tr.length.total_seconds() / 60
    for svc in sorted(http_services):
        c = card(svc)
        q = selectors.latency_ms(tr.start, tr.end, labels={"service": svc})
        c.p95_ms, c.p99_ms = q["p95"], q["p99"]
        # The service's mean: total milliseconds over total requests, across its routes.
        labels = {"service": svc}
        sums = window_values(metric=HIST, labels=labels, start=tr.start, end=tr.end, agg="sum")
        counts = window_values(metric=HIST, labels=labels, start=tr.start, end=tr.end, agg="count")
        total_n = sum(n for _, n in counts)
        if total_n:
            c.avg_ms = sum(v for _, v in sums) / total_n
        by_class = totals.get(svc)
        if by_class:
            total = sum(by_class.values())
            c.requests_per_min = total / minutes
            c.error_rate_pct = 100 * by_class.get("5xx", 0) / total if total else None

    for metric in GAUGES:
        for lv in latest_values(metric=metric, max_age=FRESH):
            svc = lv.labels.get("service", "(unnamed)")
            c = card(svc)
            c.gauges.append((GAUGES[metric][0], _fmt_gauge(metric, lv.value)))
            _, _, limit, higher_worse = GAUGES[metric]
            if limit is not None and (lv.value > limit if higher_worse else lv.value < limit):
                if metric == "es_cluster_status":
                    c.reasons.append(f"cluster {ES_STATUS.get(int(lv.value), lv.value)}")
                    if lv.value >= 2:
                        c.reasons.append("down")
                else:
                    c.reasons.append(
                        f"{GAUGES[metric][0]} {_fmt_gauge(metric, lv.value)} over {limit:g}"
                    )

    for c in cards.values():
        if c.error_rate_pct is not None and c.error_rate_pct > ERROR_RATE_LIMIT_PCT:
            c.reasons.append(f"error rate {c.error_rate_pct:.1f}% over {ERROR_RATE_LIMIT_PCT:g}%")
        if c.p95_ms is not None and c.p95_ms > P95_LIMIT_MS:
            c.reasons.append(f"p95 {c.p95_ms:,.0f} ms over {P95_LIMIT_MS:,.0f} ms")
        if c.probes_total and c.probes_up == 0 or "down" in c.reasons:
            c.status = "down"
            if c.probes_total and c.probes_up == 0:
                c.reasons.insert(0, "all probes failing")
        elif c.probes_total and c.probes_up < c.probes_total:
            c.status = "degraded"
            c.reasons.insert(
                0, f"{c.probes_total - c.probes_up} of {c.probes_total} probes failing"
            )
        elif c.reasons:
            c.status = "degraded"
        elif c.probes_total or c.gauges:
            c.status = "healthy"
        c.reasons = [r for r in c.reasons if r != "down"]
    order = {"down": 0, "degraded": 1, "unknown": 2, "healthy": 3}
    return sorted(cards.values(), key=lambda c: (order[c.status], c.name))


class ServiceHealthPanel(Panel):
    key = "service-health"
    title = "Service health"
    description = "Status now; response times, request and error rates over the selected range."
    template = "dashboards/panels/health.html"
    wide = True

    def query(self, tr: TimeRange) -> list[ServiceCard]:
        return service_cards(tr)

    def table(self, data: list[ServiceCard], tr: TimeRange) -> Table:
        rows = [
            [
                c.name,
                c.status,
                "; ".join(c.reasons),
                c.uptime_pct,
                c.probe_latency_ms,
                c.avg_ms,
                c.p95_ms,
                c.p99_ms,
                c.requests_per_min,
                c.error_rate_pct,
                "; ".join(f"{k}: {v}" for k, v in c.gauges),
            ]
            for c in data
        ]
        return Table(
            [
                "service",
                "status",
                "reasons",
                "uptime %",
                "probe latency ms",
                "avg ms",
                "p95 ms",
                "p99 ms",
                "requests/min",
                "error rate %",
                "gauges now",
            ],
            rows,
        )
