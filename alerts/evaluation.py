"""Rule evaluation: read the store in batches, then move each (rule, label set) through the
alert state machine.

Reads are batched: rules sharing (metric, aggregation, window) share one ``window_values``
call (filtered by the label pairs all of them have in common) and each rule picks its series
from that result in Python. 1,000 rules over a few dozen metrics therefore cost a few dozen
queries per cycle, not a thousand.
"""

from __future__ import annotations

import logging
import string
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.burn_rate import burn_rate_values, render_burn_message
from alerts.labels import label_key
from alerts.models import (
    BURN_RATE,
    ERROR_RATIO,
    EVAL_ERROR_KEY,
    Alert,
    AlertRule,
    EvaluatorState,
    NoData,
    new_token,
)
from collectors.store.catalog import class_rate_pct
from collectors.store.query import window_values

log = logging.getLogger(__name__)

# Samples written "now" must fall inside the window [start, end).
END_SLACK = timedelta(seconds=1)
# For on_no_data=alerting: a series that reported within this long before the rule's window
# and has nothing inside it has stopped reporting. Older silence is a series that went away.
NO_DATA_LOOKBACK = timedelta(hours=1)
# More than this many missed intervals means the evaluator itself was down: the next cycle
# summarises its transitions instead of replaying them one notification each (healthchecks #664).
GAP_INTERVALS = 3


@dataclass
class EvalSummary:
    rules: int = 0
    series: int = 0
    created: int = 0
    fired: int = 0
    resolved: int = 0
    dropped: int = 0
    no_data: int = 0
    gap_seconds: float | None = None  # set when this cycle came after an evaluation gap
    summaries: int = 0  # summary notifications queued (one per channel) after a gap
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    # Per rule id: why it (or one of its series) could not be evaluated this cycle.
    failures: dict[int, str] = field(default_factory=dict)
    cannot_evaluate: int = 0  # rules in the "cannot evaluate" state after this cycle
    duration_ms: float = 0.0

    def fail(self, rule: AlertRule, reason: str) -> None:
        """Record that ``rule`` could not be evaluated; the first reason of a cycle is kept."""
        self.errors.append(f"{rule.name}: {reason}")
        self.failures.setdefault(rule.id, reason[:1000])


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _read(fn, **kwargs):
    """A store read inside a savepoint, so a database error in one read (a DataError from a
    strange label, a timeout) leaves the connection usable for every other rule."""
    with transaction.atomic():
        return fn(**kwargs)


def _store_agg(rule: AlertRule) -> str:
    return "sum" if rule.aggregation == ERROR_RATIO else rule.aggregation


def _matches(labels: dict, filters: dict) -> bool:
    return all(labels.get(k) == v for k, v in filters.items())


def _common_filters(filter_sets: list[dict]) -> dict:
    """The label pairs every rule of a group filters on: safe to push down to the store."""
    common = dict(filter_sets[0])
    for filters in filter_sets[1:]:
        common = {k: v for k, v in common.items() if filters.get(k) == v}
    return common


def _filters_for_store(rule: AlertRule) -> dict:
    filters = dict(rule.label_filters or {})
    if rule.aggregation == ERROR_RATIO:
        filters.pop("status_class", None)  # the ratio needs every status class
    return filters


def fetch_values(
    rules: list[AlertRule], now: datetime, summary: EvalSummary
) -> dict[int, list[tuple[dict, float]]]:
    """Per rule id: (labels, value) for every series (or service, for error_ratio) it covers."""
    groups: dict[tuple, list[AlertRule]] = defaultdict(list)
    burn: list[AlertRule] = []
    for rule in rules:
        if rule.aggregation == BURN_RATE:
            burn.append(rule)
        else:
            groups[(rule.metric, _store_agg(rule), rule.window_seconds)].append(rule)
    end = now + END_SLACK
    out: dict[int, list[tuple[dict, float]]] = {}
    if burn:
        try:
            with transaction.atomic():
                out.update(burn_rate_values(burn, now, end))
            summary.queries += 1
        except Exception as exc:  # noqa: BLE001 - marks the burn-rate rules, not the cycle
            for rule in burn:
                summary.fail(rule, f"burn-rate read: {_reason(exc)}")
    for (metric, agg, window), members in groups.items():
        start = now - timedelta(seconds=window)
        common = _common_filters([_filters_for_store(r) for r in members])
        try:
            rows = _read(
                window_values, metric=metric, labels=common or None, start=start, end=end, agg=agg
            )
            summary.queries += 1
            per_rule = {r.id: rows for r in members}
        except Exception:  # noqa: BLE001 - retried per rule below, failures pinned there
            # Too many series for one read (or the shared read failed): one read per rule with
            # its own filters, so a failure is pinned on the rules it belongs to.
            per_rule = {}
            for rule in members:
                try:
                    per_rule[rule.id] = _read(
                        window_values,
                        metric=metric,
                        labels=_filters_for_store(rule) or None,
                        start=start,
                        end=end,
                        agg=agg,
                    )
                    summary.queries += 1
                except Exception as exc:  # noqa: BLE001 - one rule's failure must not stop the others
                    summary.fail(rule, _reason(exc))
        indexes: dict[int, _PairIndex] = {}
        for rule in members:
            if rule.id not in per_rule:
                continue
            rows = per_rule[rule.id]
            index = indexes.setdefault(id(rows), _PairIndex(rows))
            picked = index.select(_filters_for_store(rule))
            out[rule.id] = error_ratios(picked) if rule.aggregation == ERROR_RATIO else picked
    return out


def recently_reporting(
    rules: list[AlertRule], now: datetime, summary: EvalSummary
) -> dict[int, list[dict]]:
    """Per rule id: label sets of series (or services, for error_ratio) that reported in the
    NO_DATA_LOOKBACK before the rule's window. Only asked for rules with on_no_data=alerting."""
    groups: dict[tuple, list[AlertRule]] = defaultdict(list)
    for rule in rules:
        groups[(rule.metric, rule.window_seconds)].append(rule)
    out: dict[int, list[dict]] = {}
    for (metric, window), members in groups.items():
        end = now - timedelta(seconds=window)
        common = _common_filters([_filters_for_store(r) for r in members])
        try:
            rows = _read(
                window_values,
                metric=metric,
                labels=common or None,
                start=end - NO_DATA_LOOKBACK,
                end=end,
                agg="count",
            )
            summary.queries += 1
        except Exception as exc:  # noqa: BLE001 - one rule's failure must not stop the others
            for rule in members:
                summary.fail(rule, f"no-data check: {_reason(exc)}")
            continue
        index = _PairIndex(rows)
        for rule in members:
            picked = index.select(_filters_for_store(rule))
            if rule.aggregation == ERROR_RATIO:
                services = {labels.get("service", "") for labels, _ in picked}
                out[rule.id] = [{"service": s} if s else {} for s in sorted(services)]
            else:
                out[rule.id] = [labels for labels, _ in picked]
    return out


class _PairIndex:
    """Rows of one store read indexed by (label, value), so each of many rules sharing the
    read finds its series by lookup instead of scanning every row."""

    def __init__(self, rows: list[tuple[dict, float]]):
        self.rows = rows
        self.by_pair: dict[tuple[str, str], list[tuple[dict, float]]] = defaultdict(list)
        for labels, value in rows:
            for pair in labels.items():
                self.by_pair[pair].append((labels, value))

    def select(self, filters: dict) -> list[tuple[dict, float]]:
        if not filters:
            return list(self.rows)
        first, *rest = filters.items()
        candidates = self.by_pair.get(first, [])
        if not rest:
            return list(candidates)
        others = dict(rest)
        return [(labels, value) for labels, value in candidates if _matches(labels, others)]


def error_ratios(rows: list[tuple[dict, float]]) -> list[tuple[dict, float]]:
    """Percent of requests with status_class=5xx, per service, from per-series request sums."""
    by_service: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, value in rows:
        by_service[labels.get("service", "")][labels.get("status_class", "other")] += value
    rates = ((s, class_rate_pct(by_class)) for s, by_class in by_service.items())
    return [({"service": s} if s else {}, rate) for s, rate in rates if rate is not None]


class _Defaulting(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def format_value(value: float | None) -> str:
    """Readable in a message: 12500, 97.5, 0.042 (never 1.25e+04)."""
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def no_data_message(rule: AlertRule, labels: dict) -> str:
    series = label_key(labels) or rule.metric
    return f"{rule.name}: no data from {series} for {rule.window_seconds}s"[:500]


def render_message(rule: AlertRule, labels: dict, value: float | None) -> str:
    if rule.aggregation == BURN_RATE:
        return render_burn_message(rule, value)
    service = labels.get("service") or rule.service
    shown = format_value(value)
    context = _Defaulting(labels)
    context.update(
        rule=rule.name,
        metric=rule.metric,
        value=shown,
        threshold=f"{rule.threshold:g}",
        comparator=rule.comparator,
        service=service,
    )
    if rule.message_template:
        try:
            return string.Formatter().vformat(rule.message_template, (), context)[:500]
        except (ValueError, IndexError, AttributeError):
            pass  # a malformed template must not stop evaluation; fall back to the default text
    return f"{rule.name}: {rule.aggregation}({rule.metric}) = {shown} {rule.comparator} {rule.threshold:g}"[
        :500
    ]


def _window_active(history: str, rule: AlertRule) -> bool:
    return history[-rule.k_of_n_n :].count("1") >= rule.k_of_n_k


def evaluate_rules(*, now: datetime | None = None, rules=None, notify: bool = True) -> EvalSummary:
    """One evaluation cycle over ``rules`` (default: every enabled rule). ``notify=False``
    replays history (the demo): the same transitions, nobody is paged about the past."""
    from alerts import notify as notifications

    t0 = time.perf_counter()
    now = now or timezone.now()
    everything = rules is None
    # Only a full cycle says whether the loop ran on time (a partial one, e.g. from a test or
    # a single rule's check, proves nothing about the beat).
    gap = record_cycle(now) if everything else None
    batch = notifications.GapSummary(gap=gap, now=now) if gap is not None else None

    def announce(alert: Alert, event: str) -> bool:
        if not notify:
            return True
        if batch is not None:
            batch.add(alert, event)
        else:
            notifications.on_transition(alert, event, now=now)
        return True

    rules = list(
        AlertRule.objects.filter(enabled=True, source=AlertRule.Source.NATIVE)
        if everything
        else [r for r in rules if r.source == AlertRule.Source.NATIVE]
    )
    summary = EvalSummary(rules=len(rules))
    by_id = {r.id: r for r in rules}
    values = fetch_values(rules, now, summary)

    open_alerts: dict[tuple[int, str], Alert] = {}
    eval_alerts: dict[int, Alert] = {}  # open "cannot evaluate" alerts by rule id
    for alert in Alert.objects.open().filter(rule_id__in=list(by_id)):
        alert.rule = by_id[alert.rule_id]
        if alert.label_key == EVAL_ERROR_KEY:
            eval_alerts[alert.rule_id] = alert
        else:
            open_alerts[(alert.rule_id, alert.label_key)] = alert

    seen: set[tuple[int, str]] = set()
    touched: list[Alert] = []
    fired: list[Alert] = []
    resolved: list[Alert] = []
    for rule_id, rows in values.items():
        rule = by_id[rule_id]
        for labels, value in rows:
            summary.series += 1
            key = (rule_id, label_key(labels))
            seen.add(key)
            # One series that cannot be handled (a label too long for a column, a value the
            # database refuses) marks its rule, never the cycle.
            try:
                holds = rule.condition(value)
                alert = open_alerts.get(key)
                if alert is None:
                    if holds:
                        alert = _create_pending(rule, labels, key[1], value, now)
                        if alert is not None:
                            summary.created += 1
                            if _ready_to_fire(alert, rule, now):
                                fired.append(alert)
                    continue
                _step(alert, rule, holds, value, now, touched, fired, resolved)
            except Exception as exc:  # noqa: BLE001
                log.exception("rule %s, series %s", rule.name, key[1])
                summary.fail(rule, f"series {{{key[1]}}}: {_reason(exc)}")
    for key, alert in open_alerts.items():
        if key in seen or alert.rule_id not in values:
            continue
        # The series has no data in the window any more: the rule's on_no_data decides.
        policy = alert.rule.on_no_data
        summary.no_data += 1
        if policy == NoData.KEEP_STATE:
            alert.last_evaluated_at = now
            touched.append(alert)
        else:
            alert.no_data = policy == NoData.ALERTING
            _step(alert, alert.rule, alert.no_data, None, now, touched, fired, resolved)
    silent = [r for r in rules if r.on_no_data == NoData.ALERTING and r.id in values]
    if silent:
        for rule_id, label_sets in recently_reporting(silent, now, summary).items():
            rule = by_id[rule_id]
            for labels in label_sets:
                key = (rule_id, label_key(labels))
                if key in seen or key in open_alerts:
                    continue
                seen.add(key)
                summary.no_data += 1
                try:
                    alert = _create_pending(rule, labels, key[1], None, now)
                except Exception as exc:  # noqa: BLE001
                    summary.fail(rule, f"series {{{key[1]}}}: {_reason(exc)}")
                    continue
                if alert is not None:
                    alert.no_data = True
                    summary.created += 1
                    if _ready_to_fire(alert, rule, now):
                        fired.append(alert)
    _save_evaluated(touched, summary)
    for alert in fired:
        if _isolated(summary, alert, lambda a=alert: _fire(a, now) and announce(a, "trigger")):
            summary.fired += 1
    for alert in resolved:
        if alert.state == Alert.State.PENDING:
            # A pending alert never notified anyone: drop it rather than count a firing.
            Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING).delete()
            summary.dropped += 1
        elif _isolated(
            summary,
            alert,
            lambda a=alert: (
                a.transition(Alert.State.RESOLVED, at=now, message="condition no longer holds")
                and announce(a, "resolve")
            ),
        ):
            summary.resolved += 1
    _record_failures(rules, summary, eval_alerts, now, announce)
    if everything:
        summary.resolved += _resolve_disabled(now, announce)
    if batch is not None:
        summary.gap_seconds = gap.total_seconds()
        with transaction.atomic():  # the alerts marked notified and their outbox rows
            summary.summaries = batch.send()
    summary.duration_ms = (time.perf_counter() - t0) * 1000
    return summary


def _isolated(summary: EvalSummary, alert: Alert, step) -> bool:
    """Run one alert's state change and its notifications in one transaction (the outbox
    rows are written with the state they announce); a failure marks the rule, not the cycle."""
    try:
        with transaction.atomic():
            return bool(step())
    except Exception as exc:  # noqa: BLE001
        log.exception("alert #%s of rule %s", alert.pk, alert.rule.name)
        summary.fail(alert.rule, f"alert #{alert.pk}: {_reason(exc)}")
        return False


def _save_evaluated(touched: list[Alert], summary: EvalSummary) -> None:
    if not touched:
        return
    fields = ["last_value", "last_evaluated_at", "history"]
    try:
        with transaction.atomic():
            Alert.objects.bulk_update(touched, fields, batch_size=500)
    except Exception:  # noqa: BLE001 - find the row that fails, save the others
        for alert in touched:
            try:
                with transaction.atomic():
                    Alert.objects.filter(pk=alert.pk).update(
                        **{f: getattr(alert, f) for f in fields}
                    )
            except Exception as exc:  # noqa: BLE001
                summary.fail(alert.rule, f"alert #{alert.pk}: {_reason(exc)}")


def cannot_evaluate_message(rule: AlertRule, reason: str) -> str:
    return f"{rule.name} cannot evaluate: {reason}"[:500]


def _record_failures(
    rules: list[AlertRule], summary: EvalSummary, eval_alerts: dict[int, Alert], now, announce
) -> None:
    """Put each rule that failed this cycle in the "cannot evaluate" state with its own firing
    alert (the rule's severity: a blind rule is as serious as what it watches); clear the state
    and resolve that alert for rules that evaluated cleanly."""
    for rule in rules:
        reason = summary.failures.get(rule.id)
        alert = eval_alerts.get(rule.id)
        try:
            with transaction.atomic():
                if reason is None:
                    if rule.eval_error:
                        AlertRule.objects.filter(pk=rule.pk).update(
                            eval_error="", eval_error_since=None
                        )
                        rule.eval_error, rule.eval_error_since = "", None
                    if alert is not None and alert.state == Alert.State.PENDING:
                        alert.delete()
                    elif alert is not None and alert.transition(
                        Alert.State.RESOLVED, at=now, message="the rule evaluates again"
                    ):
                        announce(alert, "resolve")
                    continue
                summary.cannot_evaluate += 1
                since = rule.eval_error_since or now
                if rule.eval_error != reason:
                    AlertRule.objects.filter(pk=rule.pk).update(
                        eval_error=reason, eval_error_since=since
                    )
                    rule.eval_error, rule.eval_error_since = reason, since
                message = cannot_evaluate_message(rule, reason)
                if alert is None:
                    alert = Alert.objects.create(
                        rule=rule,
                        labels={},
                        label_key=EVAL_ERROR_KEY,
                        state=Alert.State.PENDING,
                        severity=rule.severity,
                        service=rule.service_name[:200],
                        message=message,
                        started_at=since,
                        last_evaluated_at=now,
                        history="1",
                    )
                else:
                    Alert.objects.filter(pk=alert.pk).update(message=message, last_evaluated_at=now)
                    alert.message = message
                if alert.state == Alert.State.PENDING and alert.transition(
                    Alert.State.FIRING,
                    at=now,
                    message=f"the rule cannot be evaluated: {reason}"[:1000],
                ):
                    announce(alert, "trigger")
        except Exception:  # noqa: BLE001 - the state is recorded again next cycle
            log.exception("recording the evaluation failure of rule %s", rule.name)
        if reason is not None:
            log.warning("rule %s cannot evaluate: %s", rule.name, reason)


def evaluation_interval() -> float:
    from alerts.schedule import BEAT_SCHEDULE

    return float(BEAT_SCHEDULE["alerts-evaluate"]["schedule"])


def record_cycle(now: datetime) -> timedelta | None:
    """Store ``now`` as the last full cycle; return the gap since the previous one if the loop
    missed more than three intervals (the monitor itself was down), else None."""
    with transaction.atomic():
        state, _ = EvaluatorState.objects.select_for_update().get_or_create(pk=1)
        previous = state.last_cycle_at
        if previous is not None and now <= previous:
            return None  # an older cycle finishing late: the newer one already counted
        state.last_cycle_at = now
        gap = now - previous if previous is not None else None
        if gap is None or gap.total_seconds() <= GAP_INTERVALS * evaluation_interval():
            state.save(update_fields=["last_cycle_at"])
            return None
        state.last_gap_at, state.last_gap_seconds = now, gap.total_seconds()
        state.save()
    log.warning(
        "alert evaluation resumes after a %.0f s gap: summarising transitions", gap.total_seconds()
    )
    return gap


def _create_pending(
    rule: AlertRule, labels: dict, key: str, value: float | None, now: datetime
) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(
                rule=rule,
                labels=labels,
                label_key=key,
                state=Alert.State.PENDING,
                severity=rule.severity,
                service=labels.get("service") or rule.service,
                message=(
                    render_message(rule, labels, value)
                    if value is not None
                    else no_data_message(rule, labels)
                ),
                value=value,
                last_value=value,
                started_at=now,
                last_evaluated_at=now,
                history="1",
            )
    except IntegrityError:
        # Another evaluator created it a moment ago (unique open alert per rule + labels).
        # Any other database error (a DataError from a value a column refuses) is the caller's
        # to record against the rule.
        return None


def _ready_to_fire(alert: Alert, rule: AlertRule, now: datetime) -> bool:
    return (
        _window_active(alert.history, rule)
        and (now - alert.started_at).total_seconds() >= rule.for_seconds
    )


def _step(
    alert: Alert,
    rule: AlertRule,
    holds: bool,
    value: float | None,
    now: datetime,
    touched: list,
    fired: list,
    resolved: list,
) -> None:
    alert.history = (alert.history + ("1" if holds else "0"))[-rule.k_of_n_n :]
    if value is not None:
        alert.last_value = value
    alert.last_evaluated_at = now
    touched.append(alert)
    active = _window_active(alert.history, rule)
    if alert.state == Alert.State.PENDING:
        if "1" not in alert.history:
            resolved.append(alert)
        elif active and (now - alert.started_at).total_seconds() >= rule.for_seconds:
            alert.value = alert.last_value
            fired.append(alert)
    elif not active:
        resolved.append(alert)


def _fire(alert: Alert, now: datetime) -> bool:
    rule = alert.rule
    no_data = getattr(alert, "no_data", False)
    extra = {
        "value": alert.last_value,
        "message": (
            no_data_message(rule, alert.labels)
            if no_data
            else render_message(rule, alert.labels, alert.last_value)
        ),
    }
    if rule.severity == "critical":
        extra.update(escalation_start(rule, now))
    return alert.transition(
        Alert.State.FIRING,
        at=now,
        extra=extra,
        message=(
            f"no data for {rule.window_seconds}s (on no data: alerting)"
            if no_data
            else f"value {format_value(alert.last_value)} {rule.comparator} {rule.threshold:g}"
        ),
    )


def escalation_start(rule: AlertRule, now: datetime) -> dict:
    """The fields that start escalation of a critical alert of ``rule`` firing at ``now``
    (nothing when the rule has no policy or the policy no steps)."""
    chain = rule.escalation_policy.snapshot() if rule.escalation_policy_id else []
    if not chain:
        return {}
    return {
        "escalation_step": 0,
        "escalation_due_at": now + timedelta(minutes=chain[0]["wait_minutes"]),
        "escalation_token": new_token(),
        "escalation_chain": chain,
    }


def _resolve_disabled(now: datetime, announce) -> int:
    count = 0
    for alert in Alert.objects.active().filter(rule__enabled=False).select_related("rule"):
        if alert.transition(Alert.State.RESOLVED, at=now, message="rule disabled"):
            announce(alert, "resolve")
            count += 1
    Alert.objects.filter(state=Alert.State.PENDING, rule__enabled=False).delete()
    return count
