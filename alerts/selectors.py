"""Reads on alerts for pages, the API and other apps (the dashboards use alerts_feed and
active_alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.models import (
    ERROR_RATIO,
    SEVERITY_LABELS,
    Alert,
    AlertRule,
    Delivery,
    Silence,
    Window,
)

# The feed filter accepts the seed's words (ERROR/WARNING/INFO) as well as our severities.
SEVERITY_ALIASES = {
    "error": "critical",
    "critical": "critical",
    "warning": "warning",
    "info": "info",
}
FEED_LIMIT = 500


def normalise_severity(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return SEVERITY_ALIASES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown severity {value!r}; use ERROR, WARNING or INFO") from None


def alerts_feed(
    *,
    since: datetime,
    severity: str | None = None,
    service: str | None = None,
    state: str | None = None,
    limit: int = FEED_LIMIT,
) -> list[Alert]:
    """Alerts that fired (or are pending) since ``since``, or are still open, newest first.

    ``severity`` takes critical/warning/info or the feed's ERROR/WARNING/INFO.
    """
    qs = Alert.objects.select_related("rule", "acknowledged_by").filter(
        Q(started_at__gte=since) | Q(resolved_at__gte=since) | ~Q(state=Alert.State.RESOLVED)
    )
    sev = normalise_severity(severity)
    if sev:
        qs = qs.filter(severity=sev)
    if service:
        qs = qs.filter(service=service)
    if state:
        if state not in Alert.State.values:
            raise ValueError(f"unknown state {state!r}; use one of {', '.join(Alert.State.values)}")
        qs = qs.filter(state=state)
    return list(qs.order_by("-started_at", "-id")[:limit])


def active_alerts(*, severity: str | None = None) -> list[Alert]:
    """Alerts firing or acknowledged right now, most severe first."""
    qs = Alert.objects.active().select_related("rule")
    sev = normalise_severity(severity)
    if sev:
        qs = qs.filter(severity=sev)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(
        qs, key=lambda a: (order.get(a.severity, 3), -(a.fired_at or a.started_at).timestamp())
    )


def feed_services() -> list[str]:
    return sorted(s for s in Alert.objects.values_list("service", flat=True).distinct() if s)


def alert_deliveries(alert: Alert) -> QuerySet[Delivery]:
    """Deliveries for this alert, including daily digests that listed it."""
    return Delivery.objects.filter(
        Q(alert=alert) | Q(alert_ids__contains=[alert.pk])
    ).select_related("channel")


def silences_between(*, start: datetime, end: datetime) -> list[Window]:
    """Every window overlapping [start, end) with its concrete start and end: one-off silences
    and each occurrence of weekly ones, past, current and upcoming, in time order."""
    out: list[Window] = []
    for silence in Silence.objects.overlapping(start, end).select_related("created_by"):
        out.extend(silence.occurrences(start, end))
    out.sort(key=lambda w: (w.starts_at, w.ends_at, w.pk))
    return out


def maintenance_windows(
    *, start: datetime, end: datetime, service: str | None = None
) -> list[Window]:
    """Windows overlapping [start, end); with ``service``, only those that take that whole
    service out (matcher service=<name> alone, or whole-platform maintenance)."""
    windows = silences_between(start=start, end=end)
    if service is None:
        return windows
    return [w for w in windows if w.silence.covers_service(service)]


@dataclass
class Calibration:
    rule: AlertRule
    days: int
    fired: int
    acknowledged: int
    mean_ack_seconds: float | None
    false_positives: int
    baseline_label: str = ""
    baseline: float | None = None
    suggested_threshold: float | None = None
    note: str = ""

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS.get(self.rule.severity, self.rule.severity)

    @property
    def false_positive_pct(self) -> float | None:
        return 100.0 * self.false_positives / self.fired if self.fired else None


def rule_calibrations(*, days: int = 14, now: datetime | None = None) -> list[Calibration]:
    """Fired / acknowledged / false-positive counts per rule in one query (no baselines)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    stats: dict[int, list] = {}
    rows = Alert.objects.filter(fired_at__gte=since).values_list(
        "rule_id", "fired_at", "acknowledged_at", "false_positive"
    )
    for rule_id, fired_at, acked_at, fp in rows:
        s = stats.setdefault(rule_id, [0, 0, 0.0, 0])
        s[0] += 1
        if acked_at:
            s[1] += 1
            s[2] += (acked_at - fired_at).total_seconds()
        s[3] += int(fp)
    out = []
    for rule in AlertRule.objects.all():
        fired, acked, ack_total, fps = stats.get(rule.id, [0, 0, 0.0, 0])
        out.append(
            Calibration(
                rule=rule,
                days=days,
                fired=fired,
                acknowledged=acked,
                mean_ack_seconds=ack_total / acked if acked else None,
                false_positives=fps,
            )
        )
    return out


def rule_calibration(
    rule: AlertRule, *, days: int = 14, now: datetime | None = None
) -> Calibration:
    """Counts plus a suggested threshold from the metric's baseline over the last ``days``."""
    now = now or timezone.now()
    cal = next(c for c in rule_calibrations(days=days, now=now) if c.rule.pk == rule.pk)
    baseline_threshold(cal, now=now)
    return cal


def baseline_threshold(cal: Calibration, *, now: datetime) -> None:
    """p99 of the metric (or p1-ish minimum for "below" rules) over the window, across the
    rule's series: a threshold the metric crossed about 1% of the time."""
    from django.conf import settings

    from collectors.selectors import window_values
    from collectors.store import QueryError

    rule = cal.rule
    # Percentiles of gauges need raw samples; stay a minute inside raw retention.
    days = min(cal.days, settings.RETENTION_RAW_DAYS)
    start, end = now - timedelta(days=days) + timedelta(minutes=1), now
    below = rule.comparator in ("<", "<=")
    try:
        if rule.aggregation == ERROR_RATIO:
            values = _hourly_error_ratios(rule, start, end)
            values.sort()
            cal.baseline = values[int(0.99 * (len(values) - 1))] if values else None
            cal.baseline_label = f"p99 of hourly error ratio over {days} days"
        else:
            agg = "min" if below else "p99"
            filters = dict(rule.label_filters or {}) or None
            rows = window_values(metric=rule.metric, labels=filters, start=start, end=end, agg=agg)
            values = [v for _, v in rows]
            if values:
                cal.baseline = min(values) if below else max(values)
            cal.baseline_label = (
                f"{'minimum' if below else 'p99'} of {rule.metric} over {days} days"
            )
    except QueryError as exc:
        cal.note = str(exc)
        return
    if cal.baseline is None:
        cal.note = "no data in the baseline window"
        return
    # 10% headroom beyond the baseline: quiet in normal weeks, still early for real trouble.
    margin = abs(cal.baseline) * 0.1
    cal.suggested_threshold = round(cal.baseline - margin if below else cal.baseline + margin, 3)


def _hourly_error_ratios(rule: AlertRule, start: datetime, end: datetime) -> list[float]:
    from collectors.selectors import series_query

    filters = {k: v for k, v in (rule.label_filters or {}).items() if k != "status_class"} or None
    result = series_query(
        metric="http_requests", labels=filters, start=start, end=end, step=3600, agg="sum"
    )
    total: dict[tuple[str, datetime], float] = {}
    errors: dict[tuple[str, datetime], float] = {}
    for s in result.series:
        service = s.labels.get("service", "")
        for ts, value in s.points:
            total[(service, ts)] = total.get((service, ts), 0.0) + value
            if s.labels.get("status_class") == "5xx":
                errors[(service, ts)] = errors.get((service, ts), 0.0) + value
    return [100.0 * errors.get(k, 0.0) / t for k, t in total.items() if t > 0]
