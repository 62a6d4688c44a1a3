"""Demo alert history, derived rather than invented: every enabled rule is evaluated by the
live evaluator over the metric history the other demo modules stored (probe results, host
samples, request counters and latency histograms, queue sizes, reputation scores), at the
stored samples where its condition can change. So each demo alert is a stretch of the data
where the rule's condition held: a "Service down" alert is an outage in the service's status
history, a "High error rate" one the 5xx burst the request counters show, and incidents.demo
opens incidents from the critical ones. Nobody is notified; on-call acknowledges a few
minutes after firing.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.evaluation import evaluate_rules
from alerts.models import BURN_RATE, ERROR_RATIO, Alert, AlertEvent, AlertRule
from collectors.store import QueryError
from collectors.store.query import series_query

# Share of non-critical alerts on-call later marks as false positives (the calibration page
# needs some; critical ones all led to incidents).
FALSE_POSITIVE_SHARE = 0.12


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    responder = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    rules = list(
        AlertRule.objects.filter(enabled=True, source=AlertRule.Source.NATIVE).exclude(
            aggregation=BURN_RATE
        )
    )
    with transaction.atomic():
        Alert.objects.filter(is_demo=True).delete()
        made, moments = _derive(rules, days=days, now=now, responder=responder, rng=rng)
    by_rule = defaultdict(int)
    for alert in made:
        by_rule[alert.rule.name] += 1
    top = ", ".join(f"{n} {name}" for name, n in sorted(by_rule.items(), key=lambda x: -x[1]))
    return (
        f"{len(made)} alerts derived by the evaluator from stored samples "
        f"({moments} evaluation moments over {days} days): {top or 'none'}"
    )


def _scan_agg(rule: AlertRule) -> str:
    """What to read per step to find where the rule's condition can hold: the extreme on the
    failing side for window statistics (an average or last value over any window cannot pass
    it), the rule's own aggregation otherwise."""
    if rule.aggregation in ("avg", "last", "min", "max"):
        return "min" if rule.comparator in ("<", "<=") else "max"
    return rule.aggregation


def _lines(rule: AlertRule, *, start: datetime, end: datetime, step: int) -> list[list]:
    """Per series (per service for error_ratio, in % as the rule compares): (ts, value)."""
    labels = dict(rule.label_filters or {})
    ratio = rule.aggregation == ERROR_RATIO
    if ratio:
        labels.pop("status_class", None)
    result = series_query(
        metric=rule.metric,
        labels=labels or None,
        start=start,
        end=end,
        step=step,
        agg=ERROR_RATIO if ratio else _scan_agg(rule),
        by=["service"] if ratio else None,
    )
    if ratio:
        return [[(ts, 100.0 * v) for ts, v in s.points] for s in result.series]
    return [[(ts, v) for ts, v in s.points if v is not None] for s in result.series]


def _evaluation_moments(rule: AlertRule, *, start: datetime, now: datetime) -> set[datetime]:
    """The sample minutes at which the rule can change anything: from each failing minute to
    far enough past the last one for its window, for-duration and k-of-n to clear. Everywhere
    else its condition does not hold and no alert of it is open: a no-op."""
    try:
        hours = _lines(rule, start=start, end=now, step=3600)
    except QueryError:
        return set()  # e.g. a percentile of a gauge older than raw retention
    failing_hours = sorted({ts for line in hours for ts, v in line if rule.condition(v)})
    tail = timedelta(seconds=rule.window_seconds + rule.for_seconds + 60 * (rule.k_of_n_n + 2))
    moments: set[datetime] = set()
    covered = start
    for hour in failing_hours:
        if hour < covered:
            continue  # already read with the previous failing hour
        end = min(now, hour + timedelta(hours=2))
        covered = end
        for points in _lines(rule, start=hour, end=end, step=60):
            moments.update(_around_changes(rule, points, tail))
    return moments


def _around_changes(rule: AlertRule, points: list, tail: timedelta) -> list[datetime]:
    """Sample times to evaluate ``rule`` at, given its values per sample: each run of failing
    samples from its start through its for-duration and k-of-n (n samples and the for time),
    and from n samples before its end through the tail after it (the window, for-duration and
    n + 1 samples, at least). Inside a long run the evaluator mostly repeats "still firing",
    so those samples are left out (a window average dipping and rising again inside a run of
    failing samples is the one change this does not replay)."""
    out: list[datetime] = []
    n = rule.k_of_n_n
    hold = timedelta(seconds=rule.for_seconds)
    failing = [rule.condition(v) for _, v in points]
    i = 0
    while i < len(points):
        if not failing[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(points) and failing[j + 1]:
            j += 1
        begin = points[i][0]
        for k in range(i, j + 1):
            if k - i <= n or points[k][0] <= begin + hold or k >= j - n:
                out.append(points[k][0])
        k = j + 1
        while k < len(points) and (k <= j + n + 1 or points[k][0] <= points[j][0] + tail):
            out.append(points[k][0])
            k += 1
        i = j + 1
    return out


def _derive(
    rules: list[AlertRule], *, days: int, now: datetime, responder, rng
) -> tuple[list[Alert], int]:
    """Alerts of ``rules`` from the stored history, by the live evaluator (nobody notified),
    then acknowledged by the on-call responder a few minutes after firing."""
    if not rules:
        return [], 0
    start = now - timedelta(days=days)
    at: dict[datetime, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        for moment in _evaluation_moments(rule, start=start, now=now):
            at[moment].append(rule)
    ids = [r.pk for r in rules]
    before = set(Alert.objects.filter(rule_id__in=ids).values_list("pk", flat=True))
    for moment in sorted(at):
        evaluate_rules(now=moment + timedelta(seconds=1), rules=at[moment], notify=False)
    # The present: alerts whose condition still holds stay open, the others resolve.
    evaluate_rules(now=now, rules=rules, notify=False)
    made = list(
        Alert.objects.filter(rule_id__in=ids, fired_at__isnull=False)
        .exclude(pk__in=before)
        .select_related("rule")
    )
    # Pending at the present is the live state; mark it as demo too (the next load replaces it).
    Alert.objects.filter(rule_id__in=ids, fired_at__isnull=True).exclude(pk__in=before).update(
        is_demo=True
    )
    events = []
    for alert in made:
        alert.is_demo = True
        if alert.severity != "critical":
            alert.false_positive = rng.random() < FALSE_POSITIVE_SHARE
        if alert.severity == "info":
            continue  # nobody acknowledges info alerts
        acked = alert.fired_at + timedelta(minutes=rng.lognormvariate(1.2, 0.5))
        if (alert.resolved_at is None and acked <= now) or (
            alert.resolved_at is not None and acked < alert.resolved_at
        ):
            alert.acknowledged_at, alert.acknowledged_by = acked, responder
            if alert.state == Alert.State.FIRING:
                alert.state = Alert.State.ACKNOWLEDGED
            events.append(
                AlertEvent(
                    alert=alert,
                    at=acked,
                    kind="state",
                    from_state="firing",
                    to_state="acknowledged",
                    actor=responder,
                    actor_label=responder.get_username() if responder else "on-call",
                )
            )
    Alert.objects.bulk_update(
        made, ["is_demo", "false_positive", "state", "acknowledged_at", "acknowledged_by"]
    )
    AlertEvent.objects.bulk_create(events)
    return made, len(at)
