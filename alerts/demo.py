"""Demo alert history: ~30 days of alerts from the default rules, acknowledged and resolved
at realistic delays, some marked false positives, a few still open in the last hours.

"Service down" alerts are not invented: the rule is evaluated by the live evaluator over the
probe results collectors.monitoring.demo stored, at each sample around a failing one, so every
such alert is an outage in the service's status history (and its incident, in incidents.demo).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.evaluation import evaluate_rules, render_message
from alerts.labels import label_key
from alerts.models import Alert, AlertEvent, AlertRule
from collectors.store.query import series_query

DERIVED_RULE = "Service down"

# rule name -> (labels choices, typical value when firing, alerts per day)
SCENARIOS = {
    "SMTP queue above 10k": ([{"service": "smtp"}], 14_000, 0.3),
    "High error rate": ([{"service": "api"}, {"service": "web"}], 7.5, 0.4),
    "API p95 latency": (
        [
            {"service": "api", "route": "/v1/campaigns", "method": "GET"},
            {"service": "api", "route": "/v1/send", "method": "POST"},
        ],
        1400,
        0.8,
    ),
    "Slow responses": ([{"service": "web", "probe": "https"}], 3600, 0.5),
    "CPU above 90%": ([{"host": "worker-1"}, {"host": "db-1"}], 94, 0.6),
    "CPU above 80%": ([{"host": "worker-1"}, {"host": "web-1"}], 84, 1.2),
    "Memory above 80%": ([{"host": "db-1"}], 83, 0.7),
    "Disk above 80%": ([{"host": "db-1", "mount": "/var/lib/postgresql"}], 82, 0.3),
    "Database pool above 80%": ([{"service": "postgres"}], 86, 1.0),
    "IP reputation below 70": ([{"ip": "203.0.113.24"}, {"ip": "203.0.113.31"}], 64, 0.3),
    "IP on a major blocklist": ([{"ip": "203.0.113.31"}], 1, 0.08),
    "TLS certificate expiring": ([{"service": "web", "probe": "https"}], 12, 0.05),
}


def load(*, days: int, now: datetime, rng: random.Random) -> str:
    rules = {r.name: r for r in AlertRule.objects.filter(name__in=SCENARIOS)}
    responder = get_user_model().objects.filter(is_superuser=True).order_by("id").first()
    created = events = 0
    with transaction.atomic():
        Alert.objects.filter(is_demo=True).delete()
        for name, (label_sets, typical, per_day) in SCENARIOS.items():
            rule = rules.get(name)
            if rule is None:
                continue  # an admin removed this default rule
            t = now - timedelta(days=days)
            while True:
                t += timedelta(hours=rng.expovariate(per_day / 24))
                if t >= now:
                    break
                labels = rng.choice(label_sets)
                value = typical * rng.uniform(0.97, 1.15) if typical else 0.0
                created += 1
                events += _one(rule, labels, value, t, now, responder, rng)
        derived = _derive(
            AlertRule.objects.filter(name=DERIVED_RULE, enabled=True).first(),
            days=days,
            now=now,
            responder=responder,
            rng=rng,
        )
    return (
        f"{created + derived} alerts ({derived} derived from probe results) with "
        f"{events} timeline events over {days} days"
    )


def _evaluation_moments(rule: AlertRule, *, start: datetime, now: datetime) -> list[datetime]:
    """The sample times at which the rule can change anything: from each failing sample of
    its metric to a few samples after the last one (enough for the k-of-n window to clear).
    Everywhere else its condition does not hold and no alert of it is open: a no-op."""
    # The extreme of each hour on the failing side says whether any sample in it failed.
    agg = "min" if rule.comparator in ("<", "<=") else "max"
    hours = series_query(metric=rule.metric, start=start, end=now, step=3600, agg=agg)
    failing_hours = sorted(
        {ts for s in hours.series for ts, v in s.points if v is not None and rule.condition(v)}
    )
    moments: set[datetime] = set()
    for hour in failing_hours:
        end = min(now, hour + timedelta(hours=2))
        minutes = series_query(metric=rule.metric, start=hour, end=end, step=60, agg=agg)
        for s in minutes.series:
            points = [(ts, v) for ts, v in s.points if v is not None]
            failing = [i for i, (_, v) in enumerate(points) if rule.condition(v)]
            if not failing:
                continue
            last = min(len(points) - 1, failing[-1] + rule.k_of_n_n + 1)
            moments.update(ts for ts, _ in points[failing[0] : last + 1])
    return sorted(moments)


def _derive(rule: AlertRule | None, *, days: int, now: datetime, responder, rng) -> int:
    """Alerts of ``rule`` from the stored history, by the live evaluator (nobody notified),
    then acknowledged by the on-call responder a few minutes after firing."""
    if rule is None:
        return 0  # an admin removed or disabled this default rule
    before = set(Alert.objects.filter(rule=rule).values_list("pk", flat=True))
    for moment in _evaluation_moments(rule, start=now - timedelta(days=days), now=now):
        evaluate_rules(now=moment + timedelta(seconds=1), rules=[rule], notify=False)
    made = list(Alert.objects.filter(rule=rule).exclude(pk__in=before))
    events = []
    for alert in made:
        alert.is_demo = True
        if alert.fired_at is None:
            continue
        acked = alert.fired_at + timedelta(minutes=rng.lognormvariate(1.2, 0.5))
        if (alert.resolved_at is None and acked <= now) or (
            alert.resolved_at is not None and acked < alert.resolved_at
        ):
            alert.acknowledged_at, alert.acknowledged_by = acked, responder
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
    Alert.objects.bulk_update(made, ["is_demo", "acknowledged_at", "acknowledged_by"])
    AlertEvent.objects.bulk_create(events)
    return len(made)


def _one(
    rule: AlertRule, labels: dict, value: float, fired: datetime, now: datetime, responder, rng
) -> int:
    started = fired - timedelta(seconds=rule.for_seconds or 15)
    acked = (
        fired + timedelta(minutes=rng.lognormvariate(1.6, 0.8)) if rule.severity != "info" else None
    )
    resolved = fired + timedelta(minutes=rng.lognormvariate(3.2, 0.9))
    if acked and acked > resolved:
        acked = None
    state = Alert.State.RESOLVED
    if resolved > now:
        resolved = None
        state = Alert.State.ACKNOWLEDGED if acked and acked <= now else Alert.State.FIRING
        if state == Alert.State.FIRING:
            acked = None
    key = label_key(labels)
    if (
        state != Alert.State.RESOLVED
        and Alert.objects.open().filter(rule=rule, label_key=key).exists()
    ):
        return 0  # one open alert per rule and label set, in demo data too
    alert = Alert.objects.create(
        rule=rule,
        labels=labels,
        label_key=key,
        state=state,
        severity=rule.severity,
        service=labels.get("service") or rule.service,
        message=render_message(rule, labels, round(value, 1)),
        value=value,
        last_value=value,
        started_at=started,
        fired_at=fired,
        acknowledged_at=acked,
        acknowledged_by=responder if acked else None,
        resolved_at=resolved,
        last_evaluated_at=resolved or now,
        history="1",
        false_positive=rng.random() < 0.12,
        is_demo=True,
    )
    rows = [
        AlertEvent(
            alert=alert,
            at=fired,
            kind="state",
            from_state="pending",
            to_state="firing",
            message="value over threshold",
        )
    ]
    if acked:
        rows.append(
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
    if resolved:
        rows.append(
            AlertEvent(
                alert=alert,
                at=resolved,
                kind="state",
                from_state="acknowledged" if acked else "firing",
                to_state="resolved",
                message="condition no longer holds",
            )
        )
    AlertEvent.objects.bulk_create(rows)
    return len(rows)
