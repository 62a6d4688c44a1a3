"""The service health grid (seed 004): one traffic-light card per service.

Status and reason are the collectors app's (``collectors.monitoring.selectors.services_overview``:
Healthy / Degraded / Down from the latest probe results, the same as the services page), with
each probe's last numbers (queue backlog, pool, hit rate, cluster state…). Uptime is the
service's uptime over the selected range (``collectors.monitoring.health``). Response times, request and
error rates over the range come from the request histograms and counters in the store; where
they pass the seed 000 §6 alert thresholds the card says so beside the status.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.selectors import rules_cannot_evaluate
from collectors.monitoring.health import uptime_figures
from collectors.monitoring.selectors import services_overview
from collectors.store.batch import HistogramWindow, merged
from collectors.store.catalog import class_rate_pct
from dashboards import selectors
from dashboards.panels.base import Panel, Table
from dashboards.timerange import TimeRange

HIST = "http_request_duration_ms"
ERROR_RATE_LIMIT_PCT = 5.0  # "High Error Rates: >5% error rate sustained"
P95_LIMIT_MS = 1000.0  # "API Response time p95 > 1s"
ORDER = {"down": 0, "degraded": 1, "unknown": 2, "stale": 2, "unmonitored": 2, "healthy": 3}


@dataclass
class ServiceCard:
    name: str
    title: str = ""
    registered: bool = True  # a collectors Service (has a page under /services/)
    status: str = "unknown"
    status_label: str = "Unknown"
    reason: str = ""
    warnings: list[str] = field(default_factory=list)  # store figures past alert thresholds
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
    # The last HEARTBEATS probe checks, oldest first: "up", "down" or "" (no check then).
    heartbeats: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [r for r in [self.reason, *self.warnings] if r]


def http_figures(tr: TimeRange) -> dict[str, dict[str, float | None]]:
    """Per service over the range: avg/p95/p99 ms, requests/min and 5xx %, from one histogram
    read and one counter read."""
    (found,) = selectors.hist_windows(HIST, [(tr.start, tr.end)])
    by_service: dict[str, list[HistogramWindow]] = defaultdict(list)
    for labels, w in found:
        by_service[labels.get("service", "")].append(w)
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, v in selectors.window_values("http_requests", tr.start, tr.end, agg="sum"):
        totals[labels.get("service", "")][labels.get("status_class", "other")] += v
    minutes = tr.length.total_seconds() / 60
    out: dict[str, dict[str, float | None]] = {}
    for svc in (set(by_service) | set(totals)) - {""}:
        m = merged(by_service.get(svc, []))
        by_class = totals.get(svc) or {}
        total = sum(by_class.values())
        out[svc] = {
            "avg_ms": m.avg,
            "p95_ms": m.quantile(0.95),
            "p99_ms": m.quantile(0.99),
            "requests_per_min": total / minutes if total else None,
            "error_rate_pct": class_rate_pct(by_class),
        }
    return out


HEARTBEATS = 50
HEARTBEAT_STEP_S = 30  # the default probe interval: one bar per check


def heartbeats(end: datetime) -> dict[str, list[str]]:
    """Per service, the last 50 check slots ending at ``end`` (Uptime Kuma's heartbeat bar):
    a slot is down when any probe of the service failed in it."""
    # Slots on whole multiples of the step (as the store buckets them), the last one the
    # check slot that ends at or before ``end``.
    end = datetime.fromtimestamp(
        int(end.timestamp()) // HEARTBEAT_STEP_S * HEARTBEAT_STEP_S, tz=end.tzinfo
    )
    start = end - timedelta(seconds=HEARTBEATS * HEARTBEAT_STEP_S)
    window = TimeRange("custom", start, end)
    slots = [start + timedelta(seconds=HEARTBEAT_STEP_S * i) for i in range(HEARTBEATS)]
    out: dict[str, list[str]] = {}
    for line in selectors.lines(
        "probe_up", window, agg="min", by="service", combine="min", step=HEARTBEAT_STEP_S
    ):
        values = {ts: v for ts, v in line.points}
        out[line.name] = [
            "" if values.get(slot) is None else ("up" if values[slot] >= 1 else "down")
            for slot in slots
        ]
    return out


def service_cards(tr: TimeRange) -> list[ServiceCard]:
    cards: dict[str, ServiceCard] = {}
    overview = services_overview(now=tr.end)
    uptime = uptime_figures([row.service for row in overview], tr.start, tr.end)
    for row in overview:
        svc = row.service
        cards[svc.name] = ServiceCard(
            name=svc.name,
            title=str(svc),
            status=svc.status,
            status_label=svc.get_status_display(),
            reason=svc.status_reason,
            probes_up=sum(1 for p in row.probes if p.status == "healthy"),
            probes_total=len(row.probes),
            uptime_pct=uptime[svc.pk].uptime_pct,
            probe_latency_ms=row.latency_ms,
            gauges=list(row.highlights),
        )
    for name, beats in heartbeats(tr.end).items():
        if name in cards:
            cards[name].heartbeats = beats
    for name, figures in http_figures(tr).items():
        card = cards.get(name)
        if card is None:  # traffic reported for a service no probe watches
            card = cards[name] = ServiceCard(
                name=name,
                title=name,
                registered=False,
                status="unmonitored",
                status_label="Not monitored",
                reason="not monitored: no probe watches this service",
            )
        for key, value in figures.items():
            setattr(card, key, value)
        if card.error_rate_pct is not None and card.error_rate_pct > ERROR_RATE_LIMIT_PCT:
            card.warnings.append(
                f"error rate {card.error_rate_pct:.1f}% over {ERROR_RATE_LIMIT_PCT:g}%"
            )
        if card.p95_ms is not None and card.p95_ms > P95_LIMIT_MS:
            card.warnings.append(f"p95 {card.p95_ms:,.0f} ms over {P95_LIMIT_MS:,.0f} ms")
    for rule in rules_cannot_evaluate():
        # A rule that cannot evaluate watches nothing: say so on its service's card.
        card = cards.get(rule.service_name)
        if card is not None:
            card.warnings.append(f"alert rule {rule.name} cannot evaluate: {rule.eval_error}")
    return sorted(cards.values(), key=lambda c: (ORDER.get(c.status, 2), c.name))


class ServiceHealthPanel(Panel):
    key = "service-health"
    title = "Service health"
    description = (
        "Status now (from each service's probes, as on the services page); uptime, response "
        "times, request and error rates over the selected range."
    )
    template = "dashboards/panels/health.html"
    wide = True

    def query(self, tr: TimeRange) -> list[ServiceCard]:
        cards = service_cards(tr)
        picked = tr.filter("service")  # the page's service picker narrows the grid too
        return [c for c in cards if c.name == picked] if picked else cards

    def table(self, data: list[ServiceCard], tr: TimeRange) -> Table:
        rows = [
            [
                c.name,
                c.status,
                c.reason,
                "; ".join(c.warnings),
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
                "reason",
                "warnings",
                "uptime %",
                "probe latency ms",
                "avg ms",
                "p95 ms",
                "p99 ms",
                "requests/min",
                "error rate %",
                "last probe figures",
            ],
            rows,
        )
