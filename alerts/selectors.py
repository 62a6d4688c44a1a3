"""Reads on alerts for pages, the API and other apps (the dashboards use alerts_feed and
active_alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from alerts.models import (
    BURN_RATE,
    ERROR_RATIO,
    SEVERITY_LABELS,
    Alert,
    AlertRule,
    Delivery,
    NotificationGroup,
    Silence,
    Window,
)
from collectors.monitoring.health import set_maintenance_source
from collectors.store import QueryError
from collectors.store.query import series_query, window_values
from penguinmon.db import compiled_timestamps

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


def _feed_queryset(*, since: datetime, severity: str | None, service: str | None) -> QuerySet:
    qs = Alert.objects.filter(
        Q(started_at__gte=since) | Q(resolved_at__gte=since) | ~Q(state=Alert.State.RESOLVED)
    )
    sev = normalise_severity(severity)
    if sev:
        qs = qs.filter(severity=sev)
    if service:
        qs = qs.filter(service=service)
    return qs


SEVERITY_RANK = Case(
    When(severity="critical", then=Value(0)),
    When(severity="warning", then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _feed_ordered(
    *,
    since: datetime,
    severity: str | None,
    service: str | None,
    state: str | None,
    order: str,
) -> QuerySet:
    qs = _feed_queryset(since=since, severity=severity, service=service)
    if state:
        if state not in Alert.State.values:
            raise ValueError(f"unknown state {state!r}; use one of {', '.join(Alert.State.values)}")
        qs = qs.filter(state=state)
    if order == "severity":
        return qs.annotate(
            resolved_last=Case(
                When(state=Alert.State.RESOLVED, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            severity_rank=SEVERITY_RANK,
        ).order_by("resolved_last", "severity_rank", "-started_at", "-id")
    return qs.order_by("-started_at", "-id")


def alerts_feed(
    *,
    since: datetime,
    severity: str | None = None,
    service: str | None = None,
    state: str | None = None,
    limit: int = FEED_LIMIT,
    order: str = "time",
) -> list[Alert]:
    """Alerts that fired (or are pending) since ``since``, or are still open.

    ``order="time"``: newest first (the API). ``order="severity"``: what on call reads —
    open alerts before resolved ones, then by severity, then newest first.
    ``severity`` takes critical/warning/info or the feed's ERROR/WARNING/INFO.
    """
    qs = _feed_ordered(since=since, severity=severity, service=service, state=state, order=order)
    return list(qs.select_related("rule", "acknowledged_by")[:limit])


# Stand-ins for the request's values in the feed's SQL built once per shape (below).
_SINCE = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
_SERVICE = "\x00service"


def _final_field(model, name: str):
    *relations, last = name.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(last)


@lru_cache(maxsize=256)
def _feed_values_sql(
    fields: tuple[str, ...],
    severity: str | None,
    with_service: bool,
    state: str | None,
    order: str,
    limit: int,
) -> tuple[str, tuple, tuple]:
    """The SQL of the feed's ``values_list(*fields)`` for one shape of filters, with stand-ins
    for ``since`` and the service; and the columns whose field converts database values."""
    qs = _feed_ordered(
        since=_SINCE,
        severity=severity,
        service=_SERVICE if with_service else None,
        state=state,
        order=order,
    )
    sql, params = qs.values_list(*fields)[:limit].query.sql_with_params()
    if _SINCE not in params or with_service != (_SERVICE in params):
        raise RuntimeError("the feed's SQL does not carry its stand-in parameters")
    converters = tuple(
        (i, field.from_db_value)
        for i, field in enumerate(_final_field(Alert, name) for name in fields)
        if hasattr(field, "from_db_value")
    )
    return sql, params, converters


def alerts_feed_values(
    fields: tuple[str, ...],
    *,
    since: datetime,
    severity: str | None = None,
    service: str | None = None,
    state: str | None = None,
    limit: int = FEED_LIMIT,
    order: str = "time",
) -> list[tuple]:
    """The feed of ``alerts_feed`` as tuples of ``fields`` (which may follow ``rule__`` and
    ``acknowledged_by__``): the API's list builds its JSON from columns, without a model
    instance per alert, rule and user. Its SQL is built once per shape of filters (building
    it cost as much as running it) and gets this call's values; the test compares it with the
    queryset's own answer for every shape."""
    if state and state not in Alert.State.values:
        raise ValueError(f"unknown state {state!r}; use one of {', '.join(Alert.State.values)}")
    sql, params, converters = _feed_values_sql(
        fields, normalise_severity(severity), bool(service), state or None, order, limit
    )
    values = [since if p == _SINCE else service if p == _SERVICE else p for p in params]
    with connection.cursor() as cur:
        compiled_timestamps(cur)
        cur.execute(sql, values)
        rows = cur.fetchall()
    if not converters:
        return rows
    out = []
    for row in rows:
        row = list(row)
        for i, convert in converters:
            row[i] = convert(row[i], None, connection)
        out.append(tuple(row))
    return out


def feed_state_counts(
    *, since: datetime, severity: str | None = None, service: str | None = None
) -> dict[str, int]:
    """How many alerts of the feed (same window and filters, any state) are in each state."""
    qs = _feed_queryset(since=since, severity=severity, service=service)
    counts = qs.aggregate(**{s: Count("id", filter=Q(state=s)) for s in Alert.State.values})
    return {s: counts[s] for s in Alert.State.values}


# Which label names the entity an alert is about, most specific first: an IP's listing and
# its low score are one problem of that IP; a host's CPU and disk alerts one of that host.
ENTITY_LABELS = ("ip", "host", "service")


def alert_entity(alert: Alert) -> tuple[str, str] | None:
    for key in ENTITY_LABELS:
        value = alert.labels.get(key) or (alert.service if key == "service" else "")
        if value:
            return key, value
    return None


def entity_url(key: str, value: str, *, known_services: set[str]) -> str:
    """The page of the thing a label names, or "" when we have none."""
    if key == "ip":
        return f"/reputation/ip/{quote(value)}/"
    if key == "service" and value in known_services:
        return f"/services/{quote(value)}/"
    if key == "host":
        return f"/dashboard/system/infrastructure/?{urlencode({'host': value})}"
    return ""


@dataclass
class FeedRow:
    """One row of the feed: an alert and the other open alerts about the same entity."""

    lead: Alert
    related: list[Alert]
    entity: tuple[str, str] | None
    labels: list[tuple[str, str, str]]  # (name, value, url or "")
    suppressing: dict | None = None  # {"parent", "alerts", "services"} while it holds children

    @property
    def members(self) -> list[Alert]:
        return [self.lead, *self.related]


def suppressing_parents() -> dict[str, dict]:
    """Parent services whose outage holds back their children's notifications (from the last
    grouping flush): parent name → {"parent", "alerts", "services"}."""
    return {
        g.suppressed["parent"]: g.suppressed
        for g in NotificationGroup.objects.exclude(suppressed={}).only("suppressed")
    }


def feed_rows(
    alerts: list[Alert], *, known_services: set[str], suppressing: dict | None = None
) -> list[FeedRow]:
    """Group ``alerts`` (in feed order, worst first) into rows: open alerts about the same
    entity share the row of the worst of them; resolved ones stand alone. A parent's
    service-down alert says how many child alerts its outage suppresses."""
    suppressing = suppressing or {}
    rows: list[FeedRow] = []
    open_rows: dict[tuple[str, str], FeedRow] = {}
    for alert in alerts:
        entity = alert_entity(alert)
        if entity and alert.state != Alert.State.RESOLVED:
            row = open_rows.get(entity)
            if row is not None:
                row.related.append(alert)
                continue
        labels = {**alert.labels}
        if alert.service:
            labels.setdefault("service", alert.service)
        row = FeedRow(
            alert,
            [],
            entity,
            [
                (k, str(v), entity_url(k, str(v), known_services=known_services))
                for k, v in sorted(labels.items())
            ],
        )
        if entity and alert.state != Alert.State.RESOLVED:
            open_rows[entity] = row
            if alert.rule.metric == "probe_up" and alert.service in suppressing:
                row.suppressing = suppressing[alert.service]
        rows.append(row)
    return rows


def alerts_matching(
    matchers: dict[str, str], *, since: datetime, limit: int = 50
) -> tuple[list[Alert], int]:
    """Alerts open now or active since ``since`` whose labels a silence with ``matchers``
    would match (the preview before creating it): up to ``limit`` and the total."""
    candidates = alerts_feed(since=since, order="severity", limit=FEED_LIMIT)
    found = [
        a
        for a in candidates
        if matchers and all(a.match_labels().get(k) == v for k, v in matchers.items())
    ]
    return found[:limit], len(found)


def silence_matchers_for(alert: Alert) -> dict[str, str]:
    """What "Silence" on an alert prefills: its rule and labels (severity left out, so the
    silence keeps holding if the alert escalates from WARNING to ERROR)."""
    return {"alertname": alert.rule.name, **{k: str(v) for k, v in alert.labels.items()}} | (
        {"service": alert.service} if alert.service and "service" not in alert.labels else {}
    )


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


def provide_maintenance_windows() -> None:
    """Uptime (collectors) leaves out planned maintenance, and the windows are ours: hand the
    reader down once at start-up instead of collectors importing this app."""
    set_maintenance_source(maintenance_windows)


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
    rule = cal.rule
    if rule.aggregation == BURN_RATE:
        # Its threshold is the SLO's burn factor (the workbook's table), not a metric level.
        cal.note = "burn-rate rule: the threshold is the SLO's burn factor; edit the SLO"
        return
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
    """The rule's error rate (%) per service and hour: the query API's ``error_ratio``."""
    filters = {k: v for k, v in (rule.label_filters or {}).items() if k != "status_class"} or None
    result = series_query(
        metric="http_requests",
        labels=filters,
        start=start,
        end=end,
        step=3600,
        agg="error_ratio",
        by=["service"],
    )
    return [100.0 * value for s in result.series for _, value in s.points]


def rules_cannot_evaluate() -> list[AlertRule]:
    """Enabled rules the last cycle could not evaluate, with their reason (``eval_error``)."""
    return list(AlertRule.objects.filter(enabled=True).exclude(eval_error="").order_by("name"))
